import random
from decimal import Decimal

import pytest

from trademesh_simulator.pricing import FairValue, quote_ladder, snap_to_tick


def test_prices_snap_to_the_nearest_tick_and_never_below_one_tick():
    assert snap_to_tick(Decimal("100.004")) == Decimal("100.00")
    assert snap_to_tick(Decimal("100.006")) == Decimal("100.01")
    assert snap_to_tick(Decimal("0.001")) == Decimal("0.01")
    assert snap_to_tick(Decimal("12.3"), Decimal("0.5")) == Decimal("12.5")


def test_the_ladder_never_crosses_and_is_best_first():
    bids, asks = quote_ladder(Decimal("100.00"), half_spread_ticks=1, levels=3)
    assert bids == [Decimal("99.99"), Decimal("99.98"), Decimal("99.97")]
    assert asks == [Decimal("100.01"), Decimal("100.02"), Decimal("100.03")]
    assert max(bids) < min(asks)


def test_a_ladder_without_spread_is_refused():
    with pytest.raises(ValueError, match="half spread"):
        quote_ladder(Decimal(100), half_spread_ticks=0, levels=1)


def test_the_fair_value_walk_stays_inside_its_band():
    fair = FairValue(Decimal(100), random.Random(1), step_fraction=0.05, band=0.04)
    prices = [fair.step() for _ in range(2_000)]
    assert min(prices) >= Decimal(96)
    assert max(prices) <= Decimal(104)
    assert len(set(prices)) > 10  # it does move
