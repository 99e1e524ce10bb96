"""Microseconds since the Unix epoch (the contracts' time unit) <-> aware UTC datetimes."""

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_us(at_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=at_us)


def to_us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)
