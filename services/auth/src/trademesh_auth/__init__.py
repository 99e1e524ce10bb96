"""Accounts, tokens, signing keys and watchlists."""
