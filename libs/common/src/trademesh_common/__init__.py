"""Plumbing shared by every trademesh service, so a service's own package holds only its domain."""
