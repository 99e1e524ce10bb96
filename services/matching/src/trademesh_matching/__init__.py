"""Matching engine: price-time priority order books that turn order commands into executions."""
