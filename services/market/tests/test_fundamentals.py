"""The derived-metrics pipeline against hand-computed values, and nulls with reasons."""

from decimal import Decimal

import pytest

from trademesh_market.fundamentals.metrics import METRIC_NAMES, derive
from trademesh_market.fundamentals.provider import RawFundamentals, parse_decimal
from trademesh_market.fundamentals.sample import SampleProvider

# A small made-up company with round numbers, so each metric can be worked out by hand.
INPUTS = {
    "shares_outstanding": Decimal(1_000),
    "revenue": Decimal(50_000),
    "gross_profit": Decimal(20_000),
    "operating_income": Decimal(8_000),
    "net_income": Decimal(5_000),
    "ebitda": Decimal(10_000),
    "total_debt": Decimal(30_000),
    "cash_and_equivalents": Decimal(10_000),
    "total_equity": Decimal(40_000),
    "dividends_per_share": Decimal("2.40"),
}


def raw(**changes):
    return RawFundamentals("ACME", "test", "USD", "FY2023", {**INPUTS, **changes})


def by_name(values):
    return {v.name: v for v in values}


def test_metrics_equal_hand_computed_values():
    metrics = by_name(derive(raw(), Decimal(120), (Decimal("130.50"), Decimal("90.25"))))
    assert list(metrics) == list(METRIC_NAMES)
    expected = {
        "market_cap": "120000.00",  # 120 x 1,000
        "net_debt": "20000.00",  # 30,000 - 10,000
        "enterprise_value": "140000.00",  # 120,000 + 20,000
        "eps": "5.00",  # 5,000 / 1,000
        "ev_to_ebitda": "14.0000",  # 140,000 / 10,000
        "pe_ratio": "24.0000",  # 120 / 5
        "pb_ratio": "3.0000",  # 120,000 / 40,000
        "net_debt_to_ebitda": "2.0000",  # 20,000 / 10,000
        "gross_margin": "0.4000",  # 20,000 / 50,000
        "operating_margin": "0.1600",  # 8,000 / 50,000
        "net_margin": "0.1000",  # 5,000 / 50,000
        "return_on_equity": "0.1250",  # 5,000 / 40,000
        "dividend_yield": "0.0200",  # 2.40 / 120
        "week_52_high": "130.50",
        "week_52_low": "90.25",
    }
    assert {name: str(v.value) for name, v in metrics.items()} == expected
    assert all(v.reason == "" for v in metrics.values())


def test_rounding_happens_once_on_output():
    # 1/3 kept exact through EV/EBITDA: 100,000 / 30,000 = 3.3333...
    metrics = by_name(
        derive(
            raw(
                total_debt=Decimal(0), cash_and_equivalents=Decimal(20_000), ebitda=Decimal(30_000)
            ),
            Decimal(120),
            (None, None),
        )
    )
    assert metrics["ev_to_ebitda"].value == Decimal("3.3333")
    assert metrics["net_debt_to_ebitda"].value == Decimal("-0.6667")


def test_a_missing_input_nulls_what_depends_on_it_with_the_reason():
    metrics = by_name(derive(raw(total_debt=None), Decimal(120), (None, None)))
    assert metrics["net_debt"].value is None
    assert metrics["net_debt"].reason == "missing input: total_debt"
    assert metrics["enterprise_value"].value is None
    assert metrics["enterprise_value"].reason == (
        "net_debt unavailable (missing input: total_debt)"
    )
    assert metrics["ev_to_ebitda"].reason == (
        "enterprise_value unavailable (net_debt unavailable (missing input: total_debt))"
    )
    # What does not need debt is still there.
    assert metrics["pe_ratio"].value == Decimal("24.0000")
    assert metrics["market_cap"].value == Decimal("120000.00")


@pytest.mark.parametrize(
    ("change", "metric", "reason"),
    [
        ({"ebitda": Decimal(0)}, "ev_to_ebitda", "ebitda is zero or negative"),
        ({"ebitda": Decimal(-5)}, "net_debt_to_ebitda", "ebitda is zero or negative"),
        ({"net_income": Decimal(-1)}, "pe_ratio", "eps is zero or negative"),
        ({"total_equity": Decimal(0)}, "pb_ratio", "total_equity is zero or negative"),
        ({"total_equity": Decimal(-3)}, "return_on_equity", "total_equity is zero or negative"),
        ({"revenue": Decimal(0)}, "gross_margin", "revenue is zero or negative"),
        ({"shares_outstanding": Decimal(0)}, "eps", "shares_outstanding is zero or negative"),
    ],
)
def test_a_zero_or_negative_denominator_gives_null_with_reason(change, metric, reason):
    value = by_name(derive(raw(**change), Decimal(120), (None, None)))[metric]
    assert (value.value, value.reason) == (None, reason)


def test_a_loss_still_has_margins():
    metrics = by_name(derive(raw(net_income=Decimal(-2_500)), Decimal(120), (None, None)))
    assert metrics["net_margin"].value == Decimal("-0.0500")


def test_no_price_and_no_candles():
    metrics = by_name(derive(raw(), None, (None, None)))
    assert metrics["market_cap"].value is None
    assert metrics["market_cap"].reason.startswith("missing input: price")
    assert metrics["dividend_yield"].value is None
    assert metrics["gross_margin"].value == Decimal("0.4000")
    assert metrics["week_52_high"].reason == "no daily candles in the last 52 weeks"
    assert metrics["week_52_low"].value is None


async def test_the_sample_dataset_covers_the_listing_and_says_it_is_sample_data():
    provider = SampleProvider()
    for symbol in ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "KO"):
        fundamentals = await provider.fetch(symbol)
        assert fundamentals is not None
        assert fundamentals.source == "sample"
        assert fundamentals.get("revenue") is not None
    assert await provider.fetch("NOPE") is None
    bank = by_name(derive(await provider.fetch("JPM"), Decimal(150), (None, None)))
    assert bank["ev_to_ebitda"].value is None
    assert bank["gross_margin"].reason == "missing input: gross_profit"
    assert bank["return_on_equity"].value == Decimal("0.1511")  # 49.55bn / 327.88bn


@pytest.mark.parametrize("text", ["None", "-", "", None, "abc", "NaN", True])
def test_provider_markers_for_missing_numbers(text):
    assert parse_decimal(text) is None


def test_provider_numbers():
    assert parse_decimal("1234.5") == Decimal("1234.5")
    assert parse_decimal(7) == Decimal(7)
