"""The live quote cache: what it serves equals market's answer, never older than max age."""

import asyncio
import json
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from trademesh.market.v1 import market_pb2
from trademesh_gateway.live_quotes import (
    DAY_EDGE_SECONDS,
    DAY_SECONDS,
    LiveQuoteCache,
    quote_from_feed,
    render_quote,
)
from trademesh_market.quotes import Quote as MarketQuote

NOON = 19_000 * DAY_SECONDS + DAY_SECONDS / 2  # some day's 12:00 UTC
MAX_AGE = 1.0


def market_quote(volume: int = 340, last: str | None = "101.25") -> MarketQuote:
    return MarketQuote(
        symbol="ACME",
        last=None if last is None else Decimal(last),
        bid=Decimal("101.20"),
        bid_size=300,
        ask=None,
        ask_size=0,
        previous_close=Decimal("100.00"),
        change=None if last is None else Decimal(last) - Decimal("100.00"),
        change_percent=None if last is None else Decimal("1.25"),
        volume=volume,
        last_trade_at_us=1_714_657_512_345_678 if last is not None else 0,
    )


def feed_payload(quote: MarketQuote) -> bytes:
    """What market publishes on `live.quotes.<symbol>` (its `live.publish`)."""
    return json.dumps(quote.as_json(), separators=(",", ":")).encode()


def grpc_reply(quote: MarketQuote) -> market_pb2.Quote:
    """What market's GetQuote answers for the same quote (None is sent as "")."""

    def text(value: Decimal | None) -> str:
        return "" if value is None else str(value)

    return market_pb2.Quote(
        symbol=quote.symbol,
        last=text(quote.last),
        bid=text(quote.bid),
        bid_size=quote.bid_size,
        ask=text(quote.ask),
        ask_size=quote.ask_size,
        previous_close=text(quote.previous_close),
        change=text(quote.change),
        change_percent=text(quote.change_percent),
        volume=quote.volume,
        last_trade_at_us=quote.last_trade_at_us,
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now


class FakeMarket:
    """Answers GetQuote from `current`; `gate` (when set) holds calls until released."""

    def __init__(self, quote: MarketQuote) -> None:
        self.current = quote
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def fetch(self, symbol: str) -> market_pb2.Quote:
        self.calls += 1
        answer = grpc_reply(self.current)  # read when the call arrives, as market does
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return answer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def market() -> FakeMarket:
    return FakeMarket(market_quote())


@pytest.fixture
def cache(clock: Clock, market: FakeMarket) -> LiveQuoteCache:
    cache = LiveQuoteCache(
        market.fetch, MAX_AGE, max_symbols=3, monotonic=clock.monotonic, wall_clock=clock.wall
    )
    cache.feed_connected()
    return cache


@pytest.mark.parametrize("last", ["101.25", None])
def test_a_feed_message_renders_exactly_as_the_grpc_answer(last):
    quote = market_quote(last=last)
    from_feed = quote_from_feed("ACME", feed_payload(quote))
    assert from_feed == grpc_reply(quote)
    assert render_quote(from_feed) == render_quote(grpc_reply(quote))


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1]",
        b'{"symbol": "ACME"}',
        feed_payload(market_quote()).replace(b'"ACME"', b'"OTHER"'),
        feed_payload(market_quote()).replace(b'"volume":340', b'"volume":"340"'),
        feed_payload(market_quote()).replace(b'"bid":"101.20"', b'"bid":101.2'),
    ],
)
def test_malformed_feed_messages_are_refused(payload):
    assert quote_from_feed("ACME", payload) is None


async def test_a_fed_quote_is_served_without_asking_market(cache, market):
    cache.observe("ACME", feed_payload(market_quote(volume=500)))
    body = await cache.get("ACME")
    assert json.loads(body)["volume"] == 500
    assert body == render_quote(grpc_reply(market_quote(volume=500)))
    assert market.calls == 0


async def test_an_entry_is_never_served_at_max_age(cache, market, clock):
    cache.observe("ACME", feed_payload(market_quote(volume=500)))
    clock.now += MAX_AGE * 0.999
    assert json.loads(await cache.get("ACME"))["volume"] == 500
    clock.now += MAX_AGE * 0.001
    assert json.loads(await cache.get("ACME"))["volume"] == 340  # market's current answer
    assert market.calls == 1


async def test_a_fetched_quote_is_cached_for_max_age_from_when_the_call_was_sent(
    cache, market, clock
):
    market.gate = asyncio.Event()
    read = asyncio.create_task(cache.get("ACME"))
    await asyncio.sleep(0)
    clock.now += 0.4  # the call takes a while
    market.gate.set()
    await read
    clock.now += 0.59  # 0.99 s after the call was sent
    await cache.get("ACME")
    assert market.calls == 1
    clock.now += 0.01
    await cache.get("ACME")
    assert market.calls == 2


async def test_concurrent_misses_share_one_call_and_its_failure(cache, market):
    market.gate = asyncio.Event()
    reads = [asyncio.create_task(cache.get("ACME")) for _ in range(20)]
    await asyncio.sleep(0)
    market.gate.set()
    bodies = await asyncio.gather(*reads)
    assert market.calls == 1
    assert len(set(bodies)) == 1

    market.error = RuntimeError("market is down")
    market.gate = asyncio.Event()
    cache.feed_lost()  # forget the cached answer
    reads = [asyncio.create_task(cache.get("ACME")) for _ in range(5)]
    await asyncio.sleep(0)
    market.gate.set()
    outcomes = await asyncio.gather(*reads, return_exceptions=True)
    assert market.calls == 2
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)


async def test_one_caller_giving_up_does_not_cancel_the_shared_call(cache, market):
    market.gate = asyncio.Event()
    first = asyncio.create_task(cache.get("ACME"))
    second = asyncio.create_task(cache.get("ACME"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    market.gate.set()
    assert json.loads(await second)["volume"] == 340
    assert market.calls == 1


async def test_a_fetch_overtaken_by_the_feed_does_not_replace_the_feed_quote(cache, market):
    market.gate = asyncio.Event()
    read = asyncio.create_task(cache.get("ACME"))
    await asyncio.sleep(0)  # market has read volume 340...
    cache.observe("ACME", feed_payload(market_quote(volume=341)))  # ...then a trade lands
    market.gate.set()
    assert json.loads(await read)["volume"] == 340  # the caller gets what market said
    assert json.loads(await cache.get("ACME"))["volume"] == 341  # the cache keeps the newer
    assert market.calls == 1


async def test_nothing_is_cached_while_the_feed_is_down(cache, market):
    cache.observe("ACME", feed_payload(market_quote(volume=500)))
    cache.feed_lost()
    assert len(cache) == 0
    cache.observe("ACME", feed_payload(market_quote(volume=501)))  # a straggler
    market.current = market_quote(volume=600)
    assert json.loads(await cache.get("ACME"))["volume"] == 600
    assert json.loads(await cache.get("ACME"))["volume"] == 600
    assert market.calls == 2  # nothing stored: every read asks market
    cache.feed_connected()
    await cache.get("ACME")
    await cache.get("ACME")
    assert market.calls == 3


async def test_a_fetch_spanning_a_feed_reconnect_is_not_stored(cache, market):
    market.gate = asyncio.Event()
    read = asyncio.create_task(cache.get("ACME"))
    await asyncio.sleep(0)
    cache.feed_lost()  # updates in the gap are lost: the answer may be behind
    cache.feed_connected()
    market.gate.set()
    await read
    await cache.get("ACME")
    assert market.calls == 2


async def test_a_malformed_feed_message_drops_the_entry(cache, market):
    cache.observe("ACME", feed_payload(market_quote(volume=500)))
    cache.observe("ACME", b'{"symbol": "ACME", "volume": "a lot"}')
    assert json.loads(await cache.get("ACME"))["volume"] == 340
    assert market.calls == 1


async def test_an_entry_is_not_served_on_another_day(cache, market, clock):
    clock.now = 19_001 * DAY_SECONDS - 10  # 23:59:50
    cache.observe("ACME", feed_payload(market_quote(volume=500)))
    clock.now += 0.5  # still fresh: served
    assert json.loads(await cache.get("ACME"))["volume"] == 500
    # Next to midnight the cache stands aside (market's clock may be a little ahead).
    clock.now = 19_001 * DAY_SECONDS - DAY_EDGE_SECONDS / 2
    cache.observe("ACME", feed_payload(market_quote(volume=501)))
    market.current = market_quote(volume=0)
    assert json.loads(await cache.get("ACME"))["volume"] == 0
    assert json.loads(await cache.get("ACME"))["volume"] == 0
    assert market.calls == 2
    clock.now = 19_001 * DAY_SECONDS + DAY_EDGE_SECONDS / 2
    await cache.get("ACME")
    assert market.calls == 3


async def test_an_entry_from_yesterday_is_not_served_today(market, clock):
    # A max age longer than the edge window: the day check alone must refuse it.
    cache = LiveQuoteCache(market.fetch, 30.0, monotonic=clock.monotonic, wall_clock=clock.wall)
    cache.feed_connected()
    clock.now = 19_001 * DAY_SECONDS - DAY_EDGE_SECONDS - 1
    cache.observe("ACME", feed_payload(market_quote(volume=500)))
    clock.now = 19_001 * DAY_SECONDS + DAY_EDGE_SECONDS + 1
    assert json.loads(await cache.get("ACME"))["volume"] == 340
    assert market.calls == 1


async def test_the_number_of_symbols_is_bounded(cache, market, clock):
    for symbol in ("A", "B", "C", "D"):
        cache.observe(
            symbol, feed_payload(market_quote()).replace(b'"ACME"', f'"{symbol}"'.encode())
        )
    assert len(cache) == 3  # D did not fit
    clock.now += MAX_AGE
    cache.observe("D", feed_payload(market_quote()).replace(b'"ACME"', b'"D"'))
    assert len(cache) == 1  # the expired ones made room


async def test_max_age_zero_turns_the_cache_off(market, clock):
    cache = LiveQuoteCache(market.fetch, 0.0, monotonic=clock.monotonic, wall_clock=clock.wall)
    cache.feed_connected()
    cache.observe("ACME", feed_payload(market_quote(volume=500)))
    assert json.loads(await cache.get("ACME"))["volume"] == 340
    await cache.get("ACME")
    assert market.calls == 2


async def test_reads_are_counted_by_outcome(cache, market):
    def reads(result: str) -> float:
        value = REGISTRY.get_sample_value("trademesh_quote_cache_reads_total", {"result": result})
        return value or 0.0

    before = {result: reads(result) for result in ("hit", "miss", "shared")}
    market.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get("ACME")) for _ in range(3)]
    await asyncio.sleep(0)
    market.gate.set()
    await asyncio.gather(*waiting)
    await cache.get("ACME")
    after = {result: reads(result) - before[result] for result in before}
    assert after == {"hit": 1, "miss": 1, "shared": 2}
