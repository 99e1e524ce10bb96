"""Derived fundamentals: each metric is a formula over named inputs, computed in order
so later metrics can use earlier ones (P/E uses EPS, EV/EBITDA uses EV).

A metric is null with a reason when one of its inputs is unavailable (naming
the first such input, and why it is unavailable if it is derived itself) or
when its denominator is zero or negative (a negative P/E or EV/EBITDA would
rank a loss-maker as "cheap", so it is withheld rather than shown).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from trademesh_market.fundamentals.provider import INPUT_UNITS, RawFundamentals

MONEY_PLACES = Decimal("0.01")
RATIO_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Value:
    name: str
    value: Decimal | None
    reason: str
    unit: str


@dataclass(frozen=True, slots=True)
class _Metric:
    name: str
    unit: str
    inputs: tuple[str, ...]
    formula: Callable[..., Decimal]
    # The input that must be strictly positive for the metric to mean anything.
    denominator: str | None = None


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return numerator / denominator


_METRICS = (
    _Metric("market_cap", "money", ("price", "shares_outstanding"), lambda p, s: p * s),
    _Metric("net_debt", "money", ("total_debt", "cash_and_equivalents"), lambda d, c: d - c),
    _Metric("enterprise_value", "money", ("market_cap", "net_debt"), lambda m, n: m + n),
    _Metric("eps", "money", ("net_income", "shares_outstanding"), _ratio, "shares_outstanding"),
    _Metric("ev_to_ebitda", "ratio", ("enterprise_value", "ebitda"), _ratio, "ebitda"),
    _Metric("pe_ratio", "ratio", ("price", "eps"), _ratio, "eps"),
    _Metric("pb_ratio", "ratio", ("market_cap", "total_equity"), _ratio, "total_equity"),
    _Metric("net_debt_to_ebitda", "ratio", ("net_debt", "ebitda"), _ratio, "ebitda"),
    _Metric("gross_margin", "ratio", ("gross_profit", "revenue"), _ratio, "revenue"),
    _Metric("operating_margin", "ratio", ("operating_income", "revenue"), _ratio, "revenue"),
    _Metric("net_margin", "ratio", ("net_income", "revenue"), _ratio, "revenue"),
    _Metric("return_on_equity", "ratio", ("net_income", "total_equity"), _ratio, "total_equity"),
    _Metric("dividend_yield", "ratio", ("dividends_per_share", "price"), _ratio, "price"),
)
METRIC_NAMES = (*(m.name for m in _METRICS), "week_52_high", "week_52_low")


def _rounded(value: Decimal, unit: str) -> Decimal:
    return value.quantize(RATIO_PLACES if unit == "ratio" else MONEY_PLACES)


def derive(
    raw: RawFundamentals,
    price: Decimal | None,
    week_52_range: tuple[Decimal | None, Decimal | None],
) -> list[Value]:
    """Every metric in METRIC_NAMES' order. Rounding happens once, on output: money to
    cents, ratios to four places; intermediate values keep full precision."""
    known: dict[str, Decimal] = {}
    why_missing: dict[str, str] = {}
    for name in INPUT_UNITS:
        value = raw.get(name)
        if value is None:
            why_missing[name] = f"missing input: {name}"
        else:
            known[name] = value
    if price is None:
        why_missing["price"] = "missing input: price (no trade and no reference price)"
    else:
        known["price"] = price

    results: list[Value] = []
    for metric in _METRICS:
        value, reason = _evaluate(metric, known, why_missing)
        if value is None:
            why_missing[metric.name] = reason
            results.append(Value(metric.name, None, reason, metric.unit))
        else:
            known[metric.name] = value
            results.append(Value(metric.name, _rounded(value, metric.unit), "", metric.unit))

    high, low = week_52_range
    no_candles = "no daily candles in the last 52 weeks"
    results.append(Value("week_52_high", high, "" if high is not None else no_candles, "money"))
    results.append(Value("week_52_low", low, "" if low is not None else no_candles, "money"))
    return results


def _evaluate(
    metric: _Metric, known: Mapping[str, Decimal], why_missing: Mapping[str, str]
) -> tuple[Decimal | None, str]:
    for name in metric.inputs:
        if name not in known:
            cause = why_missing[name]
            if name in INPUT_UNITS or name == "price":
                return None, cause
            return None, f"{name} unavailable ({cause})"
    if metric.denominator is not None and known[metric.denominator] <= 0:
        return None, f"{metric.denominator} is zero or negative"
    return metric.formula(*(known[name] for name in metric.inputs)), ""
