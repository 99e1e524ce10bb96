"""An instrument's trading rules: tick and lot sizes, and the price band around its last trade."""

from dataclasses import dataclass
from decimal import Decimal

from trademesh_order.decimals import format_decimal, places, tidy


@dataclass(frozen=True)
class PriceBand:
    low: Decimal
    high: Decimal
    # The price the band is centred on and where it came from, to explain a rejection.
    anchor: Decimal
    anchor_name: str
    percent: int

    def contains(self, price: Decimal) -> bool:
        return self.low <= price <= self.high


@dataclass(frozen=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: int
    # Centre of the price band until the first trade.
    reference_price: Decimal
    price_band_percent: int
    last_price: Decimal | None = None

    @property
    def price_places(self) -> int:
        return places(self.tick_size)

    @property
    def price_quantum(self) -> Decimal:
        """The exponent prices are kept at: 0.01 for a tick of 0.01 (or 0.05)."""
        return Decimal(1).scaleb(-self.price_places)

    def price_band(self) -> PriceBand:
        """Band edges are exact (not rounded to the tick); a price on an edge is inside."""
        if self.last_price is not None:
            anchor, anchor_name = self.last_price, "last trade price"
        else:
            anchor, anchor_name = self.reference_price, "reference price"
        width = anchor * self.price_band_percent / 100
        return PriceBand(
            low=anchor - width,
            high=anchor + width,
            anchor=anchor,
            anchor_name=anchor_name,
            percent=self.price_band_percent,
        )

    def to_ticks(self, price: Decimal) -> int:
        """The integer tick count that Kafka events carry; `price` must be on the tick grid."""
        ticks = price / self.tick_size
        if ticks != ticks.to_integral_value():
            raise ValueError(f"{price} is not a multiple of the tick size {self.tick_size}")
        return int(ticks)

    def from_ticks(self, ticks: int) -> Decimal:
        return (self.tick_size * ticks).quantize(self.price_quantum)

    def format_price(self, price: Decimal) -> str:
        """A price with at least the tick's places ("100.50"), more only when needed."""
        return format_decimal(tidy(price, self.price_places))
