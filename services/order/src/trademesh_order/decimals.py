"""Exact decimal handling: strict parsing of prices from clients and tidy formatting back.

Prices and money never pass through floats. Clients send plain decimal
strings; exponents, signs, NaN and infinities are refused rather than
interpreted, so "1e3" can never silently mean a thousand.
"""

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

_PLAIN_DECIMAL = re.compile(r"[0-9]{1,18}(\.[0-9]{1,12})?")

# Averages (fill prices, position costs) keep this many places at most.
AVERAGE_MAX_PLACES = 6
MONEY_MIN_PLACES = 2


def parse_plain_decimal(text: str) -> Decimal | None:
    """The value of digits with an optional fraction ("101.25"), or None for anything else."""
    if _PLAIN_DECIMAL.fullmatch(text) is None:
        return None
    return Decimal(text)


def places(step: Decimal) -> int:
    """Decimal places of a step such as a tick size: 0.01 -> 2, 1 -> 0."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    steps = (value / step).to_integral_value(rounding=ROUND_FLOOR)
    return (steps * step).quantize(step)


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    steps = (value / step).to_integral_value(rounding=ROUND_CEILING)
    return (steps * step).quantize(step)


def tidy(value: Decimal, min_places: int, max_places: int = AVERAGE_MAX_PLACES) -> Decimal:
    """Rounds to `max_places` and drops trailing zeros, keeping at least `min_places`.

    tidy(100.005, 2) -> 100.005, tidy(100.5, 2) -> 100.50, tidy(100, 2) -> 100.00.
    """
    rounded = value.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_EVEN)
    exponent = rounded.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    shown = max(min_places, min(max_places, -exponent))
    return rounded.quantize(Decimal(1).scaleb(-shown))


def format_decimal(value: Decimal) -> str:
    """Positional notation always: str(Decimal) could give "1E+6"."""
    return f"{value:f}"


def format_money(value: Decimal) -> str:
    return format_decimal(tidy(value, MONEY_MIN_PLACES, max_places=8))
