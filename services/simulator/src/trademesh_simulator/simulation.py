"""A run: sign the bots up, let them trade until the budget is spent, sum up what happened."""

import asyncio
import random
import statistics
from dataclasses import dataclass
from typing import Any

import httpx

from trademesh_simulator.bots import BotStats, Budget, MarketMaker, Taker
from trademesh_simulator.client import GatewayClient
from trademesh_simulator.pricing import REFERENCE_PRICES


@dataclass(frozen=True)
class SimulationConfig:
    gateway_url: str
    symbols: tuple[str, ...] = ("AAPL", "MSFT")
    market_makers: int = 1
    takers: int = 2
    taker_orders_per_second: float = 2.0
    max_orders: int = 1_000
    duration_seconds: float = 30.0
    seed: int = 7

    def __post_init__(self) -> None:
        unknown = sorted(set(self.symbols) - REFERENCE_PRICES.keys())
        if unknown:
            raise ValueError(f"no reference price for: {', '.join(unknown)}")
        if self.max_orders < 1 or self.duration_seconds <= 0:
            raise ValueError("a run needs at least one order and a positive duration")
        if self.market_makers < 0 or self.takers < 0 or self.market_makers + self.takers == 0:
            raise ValueError("a run needs at least one bot")


async def run_simulation(config: SimulationConfig) -> dict[str, Any]:
    """Runs the bots to the end of the budget; returns the run's summary as JSON-ready data."""
    rng = random.Random(config.seed)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=config.gateway_url, timeout=10, limits=limits) as http:
        makers = [
            MarketMaker(GatewayClient.new_user(http, "mm"), list(config.symbols), rng)
            for _ in range(config.market_makers)
        ]
        takers = [
            Taker(
                GatewayClient.new_user(http, "taker"),
                list(config.symbols),
                rng,
                orders_per_second=config.taker_orders_per_second,
            )
            for _ in range(config.takers)
        ]
        bots: list[MarketMaker | Taker] = [*makers, *takers]
        await asyncio.gather(*(bot.client.sign_up() for bot in bots))

        loop = asyncio.get_running_loop()
        started = loop.time()
        budget = Budget(config.max_orders, started + config.duration_seconds)
        # Makers quote first so the takers' first orders find a book.
        maker_tasks = [asyncio.create_task(maker.run(budget)) for maker in makers]
        await asyncio.sleep(0.2 if makers else 0)
        await asyncio.gather(*maker_tasks, *(taker.run(budget) for taker in takers))
        elapsed = loop.time() - started
        for maker in makers:
            await maker.close()
        return _summary(bots, elapsed)


def _summary(bots: list[MarketMaker | Taker], elapsed: float) -> dict[str, Any]:
    total = BotStats()
    latencies: list[float] = []
    throttled = 0
    http_errors: dict[str, int] = {}
    for bot in bots:
        total.placed += bot.stats.placed
        total.cancelled += bot.stats.cancelled
        for code, count in bot.stats.rejected.items():
            total.rejected[code] = total.rejected.get(code, 0) + count
        latencies.extend(bot.client.stats.latencies_ms)
        throttled += bot.client.stats.throttled
        for status, count in bot.client.stats.errors_by_status.items():
            http_errors[str(status)] = http_errors.get(str(status), 0) + count
    return {
        "bots": len(bots),
        "elapsed_seconds": round(elapsed, 3),
        "orders_placed": total.placed,
        "orders_per_second": round(total.placed / elapsed, 1) if elapsed > 0 else 0.0,
        "orders_rejected": total.rejected,
        "quotes_cancelled": total.cancelled,
        "throttled": throttled,
        "http_errors": http_errors,
        "request_latency_ms": _percentiles(latencies),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {}
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": round(cuts[49], 2), "p99": round(cuts[98], 2), "max": round(max(samples), 2)}
