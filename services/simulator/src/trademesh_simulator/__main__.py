"""`python -m trademesh_simulator --gateway URL ...`: run the bots once and print a JSON summary."""

import argparse
import asyncio
import json
import os
import sys

from trademesh_simulator.simulation import SimulationConfig, run_simulation


def parse_args(argv: list[str] | None = None) -> SimulationConfig:
    parser = argparse.ArgumentParser(prog="trademesh-simulator", description=__doc__)
    # The chart sets TRADEMESH_GATEWAY_URL (its `calls.http`), so a pod needs no arguments.
    gateway = os.environ.get("TRADEMESH_GATEWAY_URL")
    parser.add_argument(
        "--gateway",
        default=gateway,
        required=gateway is None,
        help="base URL, e.g. http://127.0.0.1:8080 (default: $TRADEMESH_GATEWAY_URL)",
    )
    parser.add_argument("--symbols", default="AAPL,MSFT", help="comma-separated symbols")
    parser.add_argument("--market-makers", type=int, default=1)
    parser.add_argument("--takers", type=int, default=2)
    parser.add_argument("--taker-rate", type=float, default=2.0, help="orders/s per taker")
    parser.add_argument("--max-orders", type=int, default=1_000, help="stop after this many")
    parser.add_argument("--duration", type=float, default=30.0, help="stop after these seconds")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        return SimulationConfig(
            gateway_url=args.gateway.rstrip("/"),
            symbols=tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip()),
            market_makers=args.market_makers,
            takers=args.takers,
            taker_orders_per_second=args.taker_rate,
            max_orders=args.max_orders,
            duration_seconds=args.duration,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    summary = asyncio.run(run_simulation(parse_args(argv)))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
