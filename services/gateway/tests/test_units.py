"""Small pure pieces: settings, tick conversion, instrument cache, origin check."""

import asyncio
from decimal import Decimal

import pytest
from pydantic import ValidationError

from trademesh_gateway.instruments import InstrumentCache, InstrumentRules, parse_tick_size
from trademesh_gateway.prices import ticks_to_price
from trademesh_gateway.routes.websocket import origin_allowed
from trademesh_gateway.settings import GatewaySettings


def test_settings_defaults(monkeypatch):
    for name in (
        "TRADEMESH_RATE_LIMIT_PER_USER",
        "TRADEMESH_CORS_ORIGINS",
        "TRADEMESH_SERVICE_NAME",
    ):
        monkeypatch.delenv(name, raising=False)

    settings = GatewaySettings()

    assert settings.service_name == "gateway"
    assert settings.rate_limit_per_user == 600
    assert settings.cors_origins == []
    assert settings.max_body_bytes == 64 * 1024
    assert settings.grpc_timeout_seconds == 2.0


@pytest.mark.parametrize(
    "raw",
    ['["https://a.example", "http://localhost:5173"]', "https://a.example, http://localhost:5173"],
)
def test_settings_read_from_the_environment(monkeypatch, raw):
    monkeypatch.setenv("TRADEMESH_ORDER_TARGET", "order:50051")
    monkeypatch.setenv("TRADEMESH_MATCHING_TARGET", "matching:50051")
    monkeypatch.setenv("TRADEMESH_AUTH_TARGET", "auth:50051")
    monkeypatch.setenv("TRADEMESH_RATE_LIMIT_PER_USER", "7")
    monkeypatch.setenv("TRADEMESH_CORS_ORIGINS", raw)
    monkeypatch.setenv("TRADEMESH_MAX_BODY_BYTES", "1024")
    monkeypatch.setenv("TRADEMESH_GRPC_TIMEOUT_SECONDS", "0.5")

    settings = GatewaySettings()

    assert (settings.order_target, settings.matching_target) == ("order:50051", "matching:50051")
    assert (settings.auth_target, settings.rate_limit_per_user) == ("auth:50051", 7)
    assert settings.cors_origins == ["https://a.example", "http://localhost:5173"]
    assert (settings.max_body_bytes, settings.grpc_timeout_seconds) == (1024, 0.5)


@pytest.mark.parametrize("origin", ["*", "https://*.example", "a.example", "https://a.example/"])
def test_cors_origins_must_be_exact(origin):
    with pytest.raises(ValidationError):
        GatewaySettings(cors_origins=[origin])


@pytest.mark.parametrize(
    ("ticks", "tick_size", "price"),
    [
        (12345, "0.01", "123.45"),
        (10100, "0.01", "101.00"),
        (405, "0.5", "202.5"),
        (7, "5", "35"),
        (3, "0.0001", "0.0003"),
        (0, "0.01", "0.00"),
        (2**63 - 1, "0.000001", "9223372036854.775807"),
    ],
)
def test_ticks_become_decimal_prices_with_the_tick_sizes_precision(ticks, tick_size, price):
    assert ticks_to_price(ticks, Decimal(tick_size)) == price


@pytest.mark.parametrize("text", ["", "abc", "0", "-0.01", "NaN", "Infinity"])
def test_bad_tick_sizes_are_refused(text):
    with pytest.raises(ValueError):
        parse_tick_size(text)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_instrument_cache_reloads_after_its_ttl():
    loads = []
    clock = FakeClock()

    async def load():
        loads.append(clock.now)
        return {"ACME": InstrumentRules("ACME", Decimal("0.01"))}

    cache = InstrumentCache(load, ttl_seconds=10, clock=clock)

    assert (await cache.get("ACME")).tick_size == Decimal("0.01")
    assert await cache.get("NOPE") is None
    clock.now += 9
    await cache.get("ACME")
    clock.now += 2
    await cache.get("ACME")

    assert loads == [100.0, 111.0]


async def test_concurrent_misses_share_one_load():
    calls = 0
    release = asyncio.Event()

    async def load():
        nonlocal calls
        calls += 1
        await release.wait()
        return {"ACME": InstrumentRules("ACME", Decimal("0.01"))}

    cache = InstrumentCache(load, ttl_seconds=10)
    waiting = [asyncio.create_task(cache.get("ACME")) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()

    assert all(rules is not None for rules in await asyncio.gather(*waiting))
    assert calls == 1


async def test_stale_instruments_are_served_while_a_reload_fails():
    clock = FakeClock()
    failing = False

    async def load():
        if failing:
            raise ConnectionError("order service down")
        return {"ACME": InstrumentRules("ACME", Decimal("0.01"))}

    cache = InstrumentCache(load, ttl_seconds=10, clock=clock)
    await cache.get("ACME")
    failing = True
    clock.now += 60

    assert (await cache.get("ACME")).tick_size == Decimal("0.01")


async def test_a_first_load_failure_is_reported():
    async def load():
        raise ConnectionError("order service down")

    cache = InstrumentCache(load, ttl_seconds=10)

    with pytest.raises(ConnectionError):
        await cache.get("ACME")


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "api.example", True),  # not a browser
        ("https://terminal.example", "api.example", True),  # allow-listed
        ("https://api.example", "api.example", True),  # same origin
        ("http://localhost:8080", "localhost:8080", True),
        ("https://evil.example", "api.example", False),
        ("https://api.example.evil.example", "api.example", False),
    ],
)
def test_websocket_origin_check(origin, host, allowed):
    assert origin_allowed(origin, host, ["https://terminal.example"]) is allowed
