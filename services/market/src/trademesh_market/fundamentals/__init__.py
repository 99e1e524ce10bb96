"""Fundamentals: raw inputs from a provider, derived metrics from a pipeline."""
