"""Integer ticks (matching's unit) to decimal price strings (the public API's unit)."""

from decimal import Context, Decimal

# Wide enough for any int64 tick count times any tick size order entry would configure,
# so the multiplication is exact rather than rounded to the default 28 digits.
_EXACT = Context(prec=60)


def ticks_to_price(ticks: int, tick_size: Decimal) -> str:
    """`12345` ticks of `0.01` -> `"123.45"`: as many decimals as the tick size has."""
    price = _EXACT.multiply(Decimal(ticks), tick_size)
    places = max(0, -tick_size.as_tuple().exponent) if tick_size.is_finite() else 0
    return f"{price:.{places}f}"
