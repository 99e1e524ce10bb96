"""Bots that use the public API like any client: liquidity for demos, load for benchmarks."""
