"""Microseconds since the epoch, the time unit of every trademesh event and message."""

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def now_us() -> int:
    return time.time_ns() // 1_000


def to_us(moment: datetime) -> int:
    """Exact (no float rounding)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_us(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)
