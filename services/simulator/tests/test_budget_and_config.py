import asyncio

import pytest

from trademesh_simulator.__main__ import parse_args
from trademesh_simulator.bots import Budget
from trademesh_simulator.simulation import SimulationConfig


async def test_the_budget_stops_at_its_order_count():
    budget = Budget(orders_left=3, deadline=asyncio.get_running_loop().time() + 60)
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]


async def test_the_budget_stops_at_its_deadline():
    budget = Budget(orders_left=100, deadline=asyncio.get_running_loop().time() - 1)
    assert budget.take() is False
    assert budget.orders_left == 100


def test_unknown_symbols_are_refused_with_their_names():
    with pytest.raises(ValueError, match="ZZZ"):
        SimulationConfig(gateway_url="http://x", symbols=("AAPL", "ZZZ"))


def test_a_run_without_bots_is_refused():
    with pytest.raises(ValueError, match="at least one bot"):
        SimulationConfig(gateway_url="http://x", market_makers=0, takers=0)


def test_the_command_line_builds_a_bounded_config():
    config = parse_args(
        ["--gateway", "http://127.0.0.1:9/", "--symbols", "aapl, ko", "--max-orders", "5"]
    )
    assert config.gateway_url == "http://127.0.0.1:9"
    assert config.symbols == ("AAPL", "KO")
    assert config.max_orders == 5


def test_the_command_line_reports_bad_input_as_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--gateway", "http://x", "--duration", "0"])
    assert exit_info.value.code == 2
    assert "positive duration" in capsys.readouterr().err


def test_the_gateway_comes_from_the_chart_environment(monkeypatch):
    monkeypatch.setenv("TRADEMESH_GATEWAY_URL", "http://trademesh-gateway:8080/")
    assert parse_args([]).gateway_url == "http://trademesh-gateway:8080"


def test_without_a_gateway_the_command_line_says_so(monkeypatch, capsys):
    monkeypatch.delenv("TRADEMESH_GATEWAY_URL", raising=False)
    with pytest.raises(SystemExit):
        parse_args([])
    assert "--gateway" in capsys.readouterr().err
