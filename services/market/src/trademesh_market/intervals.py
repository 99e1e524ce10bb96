"""Candle intervals and their UTC-aligned buckets."""

from enum import Enum

from trademesh.market.v1 import market_pb2

_MINUTE_US = 60_000_000


class Interval(Enum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"

    @property
    def micros(self) -> int:
        return _LENGTH_US[self]

    def bucket_start(self, at_us: int) -> int:
        """The start of the bucket holding `at_us`; buckets align to the Unix epoch (UTC)."""
        return at_us - at_us % self.micros

    @classmethod
    def from_proto(cls, value: int) -> "Interval":
        """Raises ValueError for an unspecified or unknown interval."""
        try:
            return _FROM_PROTO[value]
        except KeyError:
            raise ValueError(f"unknown candle interval: {value}") from None

    def to_proto(self) -> int:
        return _TO_PROTO[self]


_LENGTH_US = {
    Interval.M1: _MINUTE_US,
    Interval.M5: 5 * _MINUTE_US,
    Interval.M15: 15 * _MINUTE_US,
    Interval.H1: 60 * _MINUTE_US,
    Interval.D1: 24 * 60 * _MINUTE_US,
}
_TO_PROTO = {
    Interval.M1: market_pb2.CANDLE_INTERVAL_1M,
    Interval.M5: market_pb2.CANDLE_INTERVAL_5M,
    Interval.M15: market_pb2.CANDLE_INTERVAL_15M,
    Interval.H1: market_pb2.CANDLE_INTERVAL_1H,
    Interval.D1: market_pb2.CANDLE_INTERVAL_1D,
}
_FROM_PROTO = {value: interval for interval, value in _TO_PROTO.items()}
