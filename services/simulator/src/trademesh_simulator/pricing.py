"""Where bots put their prices: a bounded random walk per symbol, snapped to the tick grid."""

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

# The sample instruments' reference prices (services/order's seed data). Order entry
# refuses prices outside a band around them, so the walk stays well inside that band.
REFERENCE_PRICES: dict[str, Decimal] = {
    "AAPL": Decimal(150),
    "MSFT": Decimal(300),
    "GOOGL": Decimal(140),
    "AMZN": Decimal(120),
    "NVDA": Decimal(85),
    "META": Decimal(300),
    "TSLA": Decimal(200),
    "JPM": Decimal(150),
    "V": Decimal(250),
    "KO": Decimal(60),
}
DEFAULT_TICK = Decimal("0.01")


def snap_to_tick(price: Decimal, tick: Decimal = DEFAULT_TICK) -> Decimal:
    """The nearest multiple of `tick`, never below one tick."""
    ticks = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
    return max(ticks, Decimal(1)) * tick


@dataclass
class FairValue:
    """A symbol's fair value: each step moves it by at most `step_fraction`, within ±`band`."""

    reference: Decimal
    rng: random.Random
    step_fraction: float = 0.001
    band: float = 0.04
    tick: Decimal = DEFAULT_TICK

    def __post_init__(self) -> None:
        self.current = self.reference

    def step(self) -> Decimal:
        move = Decimal(str(self.rng.uniform(-self.step_fraction, self.step_fraction)))
        low = self.reference * Decimal(str(1 - self.band))
        high = self.reference * Decimal(str(1 + self.band))
        self.current = min(max(self.current * (1 + move), low), high)
        return snap_to_tick(self.current, self.tick)


def quote_ladder(
    fair: Decimal, half_spread_ticks: int, levels: int, tick: Decimal = DEFAULT_TICK
) -> tuple[list[Decimal], list[Decimal]]:
    """Bid and ask prices, best first, never crossing: bids strictly below asks."""
    if half_spread_ticks < 1 or levels < 1:
        raise ValueError("a ladder needs at least one level and a half spread of one tick")
    mid = snap_to_tick(fair, tick)
    bids = [snap_to_tick(mid - tick * (half_spread_ticks + level), tick) for level in range(levels)]
    asks = [mid + tick * (half_spread_ticks + level) for level in range(levels)]
    return bids, asks
