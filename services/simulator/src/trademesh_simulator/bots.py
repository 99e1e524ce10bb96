"""The bots: market makers quote both sides, takers cross the spread.

Each bot loops until the shared `Budget` runs out of orders or time, so a run is always
bounded in count and in duration whatever the exchange does.
"""

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from trademesh_simulator.client import ApiError, GatewayClient
from trademesh_simulator.pricing import REFERENCE_PRICES, FairValue, quote_ladder


@dataclass
class Budget:
    """Orders left and a deadline, shared by every bot of a run."""

    orders_left: int
    deadline: float  # on the event loop's clock

    def take(self) -> bool:
        if self.orders_left <= 0 or asyncio.get_running_loop().time() >= self.deadline:
            return False
        self.orders_left -= 1
        return True

    def seconds_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()


@dataclass
class BotStats:
    placed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0

    def reject(self, error: ApiError) -> None:
        self.rejected[error.code] = self.rejected.get(error.code, 0) + 1


async def _place(client: GatewayClient, stats: BotStats, order: dict[str, object]) -> str | None:
    order["client_order_id"] = uuid.uuid4().hex
    try:
        accepted = await client.post("/orders", order)
    except ApiError as error:
        # A rejected order is part of the traffic, not a reason to stop the bot.
        stats.reject(error)
        return None
    stats.placed += 1
    return str(accepted["order_id"])


class MarketMaker:
    """Keeps a ladder of resting quotes on both sides of each of its symbols, re-quoting."""

    def __init__(
        self,
        client: GatewayClient,
        symbols: list[str],
        rng: random.Random,
        *,
        levels: int = 3,
        half_spread_ticks: int = 2,
        quantity: int = 10,
        requote_seconds: float = 1.0,
    ) -> None:
        self.client = client
        self.stats = BotStats()
        self._fair = {s: FairValue(REFERENCE_PRICES[s], rng) for s in symbols}
        self._levels = levels
        self._half_spread_ticks = half_spread_ticks
        self._quantity = quantity
        self._requote_seconds = requote_seconds
        self._resting: list[str] = []

    async def run(self, budget: Budget) -> None:
        while budget.seconds_left() > 0:
            await self._cancel_resting()
            for symbol, fair in self._fair.items():
                bids, asks = quote_ladder(fair.step(), self._half_spread_ticks, self._levels)
                for side, prices in (("buy", bids), ("sell", asks)):
                    for price in prices:
                        if not budget.take():
                            return
                        order_id = await _place(
                            self.client, self.stats, self._limit(symbol, side, price)
                        )
                        if order_id is not None:
                            self._resting.append(order_id)
            await asyncio.sleep(min(self._requote_seconds, max(budget.seconds_left(), 0)))

    async def close(self) -> None:
        await self._cancel_resting()

    def _limit(self, symbol: str, side: str, price: Decimal) -> dict[str, object]:
        return {
            "symbol": symbol,
            "side": side,
            "type": "limit",
            "time_in_force": "gtc",
            "quantity": self._quantity,
            "price": str(price),
        }

    async def _cancel_resting(self) -> None:
        resting, self._resting = self._resting, []
        for order_id in resting:
            try:
                await self.client.delete(f"/orders/{order_id}")
                self.stats.cancelled += 1
            except ApiError as error:
                # Already filled or cancelled: exactly what a busy market does to quotes.
                if error.status not in (404, 409):
                    raise


class Taker:
    """Takes liquidity at a steady rate: market orders and marketable IOC limits."""

    def __init__(
        self,
        client: GatewayClient,
        symbols: list[str],
        rng: random.Random,
        *,
        orders_per_second: float = 2.0,
        max_quantity: int = 5,
    ) -> None:
        self.client = client
        self.stats = BotStats()
        self._symbols = symbols
        self._rng = rng
        self._interval = 1.0 / orders_per_second
        self._max_quantity = max_quantity

    async def run(self, budget: Budget) -> None:
        while budget.take():
            symbol = self._rng.choice(self._symbols)
            order: dict[str, object] = {
                "symbol": symbol,
                "side": self._rng.choice(("buy", "sell")),
                "type": "market",
                "time_in_force": "ioc",
                "quantity": self._rng.randint(1, self._max_quantity),
            }
            await _place(self.client, self.stats, order)
            await asyncio.sleep(min(self._interval, max(budget.seconds_left(), 0)))
