from decimal import Decimal

import pytest
from pydantic import ValidationError

from trademesh_order.settings import OrderSettings, parse_starting_positions


def test_defaults(monkeypatch):
    for name in (
        "TRADEMESH_SERVICE_NAME",
        "TRADEMESH_PAPER_STARTING_CASH",
        "TRADEMESH_PAPER_STARTING_POSITIONS",
        "TRADEMESH_ALLOW_SHORT",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = OrderSettings()
    assert settings.service_name == "order"
    assert settings.paper_starting_cash == Decimal(1_000_000)
    assert settings.starting_positions == {}
    assert settings.allow_short is False


def test_environment_variables_are_prefixed(monkeypatch):
    monkeypatch.setenv("TRADEMESH_POSTGRES_DSN", "postgresql://u@db/orders")
    monkeypatch.setenv("TRADEMESH_PAPER_STARTING_CASH", "2500.50")
    monkeypatch.setenv("TRADEMESH_PAPER_STARTING_POSITIONS", "AAPL:1000, MSFT:500")
    monkeypatch.setenv("TRADEMESH_ALLOW_SHORT", "true")
    settings = OrderSettings()
    assert settings.postgres_dsn == "postgresql://u@db/orders"
    assert settings.paper_starting_cash == Decimal("2500.50")
    assert settings.starting_positions == {"AAPL": 1000, "MSFT": 500}
    assert settings.allow_short is True


@pytest.mark.parametrize("text", ["AAPL", "AAPL:", "AAPL:-5", "AAPL:x", ":5", "AAPL:1,AAPL:2"])
def test_malformed_starting_positions_are_refused(text):
    with pytest.raises(ValueError):
        parse_starting_positions(text)
    with pytest.raises(ValidationError):
        OrderSettings(paper_starting_positions=text)


def test_negative_starting_cash_is_refused():
    with pytest.raises(ValidationError):
        OrderSettings(paper_starting_cash=Decimal(-1))
