"""The market service on real Kafka, PostgreSQL and Redis: marketdata in, gRPC and live out.

Each test uses its own symbols (or its own time range) so they do not interfere.
"""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import grpc
import pytest
from confluent_kafka import Consumer
from prometheus_client import REGISTRY

from trademesh.events.v1 import marketdata_pb2, orders_pb2
from trademesh.market.v1 import market_pb2
from trademesh_common.kafka import dead_letter_topic
from trademesh_market.timestamps import to_us

from .conftest import wait_until

pytestmark = pytest.mark.integration


def at(text: str) -> int:
    return to_us(datetime.fromisoformat(text).replace(tzinfo=UTC))


def trade_event(symbol, price_ticks, quantity, when_us, trade_id=None):
    return marketdata_pb2.MarketDataEvent(
        symbol=symbol,
        trade=marketdata_pb2.Trade(
            trade_id=trade_id or f"t-{uuid.uuid4().hex}",
            symbol=symbol,
            price_ticks=price_ticks,
            quantity=quantity,
            aggressor_side=orders_pb2.SIDE_BUY,
            created_at_us=when_us,
        ),
    )


def level_event(symbol, side, price_ticks, quantity):
    return marketdata_pb2.MarketDataEvent(
        symbol=symbol,
        book_delta=marketdata_pb2.BookDelta(
            symbol=symbol,
            side=side,
            price_ticks=price_ticks,
            quantity=quantity,
            created_at_us=time.time_ns() // 1000,
        ),
    )


async def candles(market, symbol, interval, **kwargs):
    return await market.GetCandles(
        market_pb2.GetCandlesRequest(symbol=symbol, interval=interval, **kwargs)
    )


async def test_candles_from_kafka_trades_across_boundaries_and_redelivery(market, publish):
    # A far-past day of its own: the other tests trade "now".
    first = trade_event("MSFT", 30_000, 5, at("2021-03-04T09:59:59.5"), "it-candle-1")
    events = [
        first,
        trade_event("MSFT", 30_250, 2, at("2021-03-04T10:00:00"), "it-candle-2"),
        trade_event("MSFT", 29_900, 4, at("2021-03-04T10:04:10"), "it-candle-3"),
        trade_event("MSFT", 30_100, 1, at("2021-03-04T10:05:00"), "it-candle-4"),
        first,  # redelivered: must count once
    ]
    await publish(*events)

    async def applied() -> bool:
        reply = await candles(
            market, "MSFT", market_pb2.CANDLE_INTERVAL_1D, to_us=at("2021-03-05T00:00:00")
        )
        return bool(reply.candles) and reply.candles[-1].trade_count == 4

    await wait_until(applied, "the trades to reach the daily candle")
    await publish(first)  # and once more in a later batch
    minute = await candles(
        market,
        "MSFT",
        market_pb2.CANDLE_INTERVAL_1M,
        from_us=at("2021-03-04T09:00:00"),
        to_us=at("2021-03-04T11:00:00"),
    )
    assert [(c.start_us, c.open, c.close, c.volume) for c in minute.candles] == [
        (at("2021-03-04T09:59:00"), "300.00", "300.00", 5),
        (at("2021-03-04T10:00:00"), "302.50", "302.50", 2),
        (at("2021-03-04T10:04:00"), "299.00", "299.00", 4),
        (at("2021-03-04T10:05:00"), "301.00", "301.00", 1),
    ]
    five = await candles(
        market,
        "MSFT",
        market_pb2.CANDLE_INTERVAL_5M,
        from_us=at("2021-03-04T00:00:00"),
        to_us=at("2021-03-05T00:00:00"),
    )
    assert [(c.open, c.high, c.low, c.close, c.volume) for c in five.candles] == [
        ("300.00", "300.00", "300.00", "300.00", 5),
        ("302.50", "302.50", "299.00", "299.00", 6),
        ("301.00", "301.00", "301.00", "301.00", 1),
    ]
    hour = await candles(
        market,
        "MSFT",
        market_pb2.CANDLE_INTERVAL_1H,
        from_us=at("2021-03-04T00:00:00"),
        to_us=at("2021-03-05T00:00:00"),
    )
    assert [(c.start_us, c.volume, c.trade_count) for c in hour.candles] == [
        (at("2021-03-04T09:00:00"), 5, 1),
        (at("2021-03-04T10:00:00"), 7, 3),
    ]
    day = await candles(
        market,
        "MSFT",
        market_pb2.CANDLE_INTERVAL_1D,
        from_us=at("2021-03-04T00:00:00"),
        to_us=at("2021-03-05T00:00:00"),
    )
    (daily,) = day.candles
    assert (daily.open, daily.high, daily.low, daily.close, daily.volume) == (
        "300.00",
        "302.50",
        "299.00",
        "301.00",
        12,
    )

    # Paging back from the newest: two at a time, then the rest.
    page = await candles(
        market,
        "MSFT",
        market_pb2.CANDLE_INTERVAL_1M,
        from_us=at("2021-03-04T00:00:00"),
        to_us=at("2021-03-05T00:00:00"),
        limit=2,
    )
    assert [c.start_us for c in page.candles] == [
        at("2021-03-04T10:04:00"),
        at("2021-03-04T10:05:00"),
    ]
    assert page.next_to_us == at("2021-03-04T10:04:00")
    older = await candles(
        market,
        "MSFT",
        market_pb2.CANDLE_INTERVAL_1M,
        from_us=at("2021-03-04T00:00:00"),
        to_us=page.next_to_us,
        limit=2,
    )
    assert [c.start_us for c in older.candles] == [
        at("2021-03-04T09:59:00"),
        at("2021-03-04T10:00:00"),
    ]
    assert older.next_to_us == 0


async def test_quote_depth_and_live_updates(market, publish, redis_client):
    pubsub = redis_client.pubsub()
    await pubsub.psubscribe("live.*.KO")
    try:
        now = time.time_ns() // 1000
        await publish(
            level_event("KO", orders_pb2.SIDE_BUY, 5_990, 100),
            level_event("KO", orders_pb2.SIDE_BUY, 5_980, 50),
            level_event("KO", orders_pb2.SIDE_SELL, 6_010, 70),
            level_event("KO", orders_pb2.SIDE_SELL, 6_020, 30),
            level_event("KO", orders_pb2.SIDE_SELL, 6_020, 0),  # level gone
            trade_event("KO", 6_000, 10, now),
            trade_event("KO", 6_005, 15, now + 1),
        )

        async def quoted() -> bool:
            # Trades (PostgreSQL) and book levels (Redis) of one batch land one after the
            # other: wait for both rather than read between them.
            quote = await market.GetQuote(market_pb2.GetQuoteRequest(symbol="KO"))
            return quote.volume == 25 and quote.ask_size == 70

        await wait_until(quoted, "the KO quote")
        quote = await market.GetQuote(market_pb2.GetQuoteRequest(symbol="KO"))
        assert (quote.last, quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
            "60.05",
            "59.90",
            100,
            "60.10",
            70,
        )
        # No earlier day for KO: the change is against the listing's reference price (60).
        assert (quote.previous_close, quote.change, quote.change_percent) == (
            "60.00",
            "0.05",
            "0.08",
        )
        depth = await market.GetDepth(market_pb2.GetDepthRequest(symbol="KO", depth=5))
        assert [(level.price, level.quantity) for level in depth.bids] == [
            ("59.90", 100),
            ("59.80", 50),
        ]
        assert [(level.price, level.quantity) for level in depth.asks] == [("60.10", 70)]

        seen: dict[str, list[dict]] = {}
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and not {"trades", "quotes", "book", "candles"} <= seen.keys()
        ):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                kind = message["channel"].decode().split(".")[1]
                seen.setdefault(kind, []).append(json.loads(message["data"]))
        assert [t["price"] for t in seen["trades"]] == ["60.00", "60.05"]
        assert {c["interval"] for c in seen["candles"]} == {"1m", "5m", "15m", "1h", "1d"}
        assert seen["book"][0] == {
            "symbol": "KO",
            "side": "bid",
            "price": "59.90",
            "quantity": 100,
            "at_us": seen["book"][0]["at_us"],
        }
        assert seen["quotes"][-1]["symbol"] == "KO"
    finally:
        await pubsub.aclose()


def delays_within(bound: str) -> float:
    """Observations of `trademesh_market_update_delay_seconds` up to `bound` seconds."""
    value = REGISTRY.get_sample_value("trademesh_market_update_delay_seconds_bucket", {"le": bound})
    return value or 0.0


async def test_every_applied_event_observes_its_delay_since_matching_created_it(market, publish):
    bounds = ("1.0", "10.0", "30.0")  # 1.0: the freshness SLO's bound
    before = {bound: delays_within(bound) for bound in bounds}
    twenty_seconds_ago = time.time_ns() // 1000 - 20_000_000
    await publish(
        trade_event("JPM", 15_000, 1, twenty_seconds_ago),
        level_event("JPM", orders_pb2.SIDE_BUY, 14_990, 5),  # created now
    )

    async def observed() -> bool:
        grown = {bound: delays_within(bound) - before[bound] for bound in bounds}
        return grown["1.0"] >= 1 and grown["30.0"] - grown["10.0"] >= 1

    # Other tests' events come and go (some years old); only these two land in the
    # buckets watched: the level change within 1 s, the trade between 10 s and 30 s.
    await wait_until(observed, "the JPM level change fresh and the trade 20 s late")
    quote = await market.GetQuote(market_pb2.GetQuoteRequest(symbol="JPM"))
    assert (quote.last, quote.bid) == ("150.00", "149.90")


async def test_bad_events_are_dead_lettered_and_consumption_goes_on(market, publish, market_stack):
    dlq = Consumer(
        {
            "bootstrap.servers": market_stack.bootstrap,
            "group.id": f"dlq-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    dlq.subscribe([dead_letter_topic(market_stack.topic)])
    try:
        await publish(
            ("V", b"\xff\xff not protobuf"),
            trade_event("NOPE", 100, 1, time.time_ns() // 1000),
            trade_event("V", 0, 1, time.time_ns() // 1000),
            marketdata_pb2.MarketDataEvent(symbol="V"),
            trade_event("V", 25_000, 3, time.time_ns() // 1000),
        )

        async def traded() -> bool:
            return (await market.GetQuote(market_pb2.GetQuoteRequest(symbol="V"))).last == "250.00"

        await wait_until(traded, "the good V trade after the bad records")
        reasons = []
        deadline = time.monotonic() + 20
        while len(reasons) < 4 and time.monotonic() < deadline:
            message = await asyncio.to_thread(dlq.poll, 0.5)
            if message is not None and message.error() is None:
                reasons.append(dict(message.headers())["x-dead-letter-reason"].decode())
        assert len(reasons) == 4
        assert reasons[0].startswith("undecodable")
        assert reasons[1] == "unknown symbol: 'NOPE'"
        assert "positive" in reasons[2]
        assert reasons[3] == "event without a trade or a book delta"
    finally:
        await asyncio.to_thread(dlq.close)


async def test_instrument_search(market):
    async def search(query, limit=0):
        reply = await market.SearchInstruments(
            market_pb2.SearchInstrumentsRequest(query=query, limit=limit)
        )
        return [i.symbol for i in reply.instruments]

    assert len(await search("")) == 10
    assert await search("v") == ["V", "NVDA"]  # the exact symbol first, then "NVIDIA"
    # Symbol prefixes first, then names ("Amazon", "JPMorgan", "Coca-Cola Company").
    assert await search("m") == ["META", "MSFT", "AMZN", "JPM", "KO"]
    assert await search("coca") == ["KO"]
    assert await search("INC", limit=2) == ["AAPL", "AMZN"]
    assert await search("%") == []
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # PostgreSQL cannot compare NUL
        await search("AA\x00")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (apple,) = (
        await market.SearchInstruments(market_pb2.SearchInstrumentsRequest(query="apple"))
    ).instruments
    assert (apple.name, apple.sector, apple.tick_size, apple.lot_size) == (
        "Apple Inc.",
        "Information Technology",
        "0.01",
        1,
    )


async def test_fundamentals_use_the_sample_data_and_the_daily_candles(market, publish):
    await publish(trade_event("NVDA", 9_000, 1, time.time_ns() // 1000 - 86_400_000_000 * 3))
    await publish(trade_event("NVDA", 8_000, 1, time.time_ns() // 1000 - 86_400_000_000 * 2))

    async def ranged() -> bool:
        reply = await market.GetFundamentals(market_pb2.GetFundamentalsRequest(symbol="NVDA"))
        return {m.name: m for m in reply.metrics}["week_52_low"].value == "80.00"

    await wait_until(ranged, "NVDA daily candles")
    reply = await market.GetFundamentals(market_pb2.GetFundamentalsRequest(symbol="NVDA"))
    assert (reply.source, reply.price, reply.price_basis) == ("sample", "80.00", "last_trade")
    metrics = {m.name: m for m in reply.metrics}
    assert metrics["week_52_high"].value == "90.00"
    assert metrics["week_52_low"].value == "80.00"
    assert metrics["market_cap"].value == "1971200000000.00"  # 80 x 24.64bn
    assert metrics["pe_ratio"].value == "66.2366"  # 80 / (29.76bn / 24.64bn)
    inputs = {i.name: i for i in reply.inputs}
    assert inputs["revenue"].value == "60920000000"


async def test_unknown_symbols_and_bad_arguments(market):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await market.GetQuote(market_pb2.GetQuoteRequest(symbol="NOPE"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await candles(market, "AAPL", market_pb2.CANDLE_INTERVAL_UNSPECIFIED)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await candles(market, "AAPL", market_pb2.CANDLE_INTERVAL_1M, from_us=10, to_us=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await market.GetDepth(market_pb2.GetDepthRequest(symbol="AAPL", depth=500))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_trade_the_store_cannot_hold_is_dead_lettered_not_retried_forever(
    market, publish, market_stack
):
    # Each quantity fits an int64; together they overflow the daily candle's volume.
    now_us = time.time_ns() // 1000
    first = trade_event("JPM", 15_000, 2**62, now_us)
    overflowing = trade_event("JPM", 15_001, 2**62, now_us + 1)
    after = trade_event("JPM", 15_123, 1, now_us + 2)
    dlq = Consumer(
        {
            "bootstrap.servers": market_stack.bootstrap,
            "group.id": f"dlq-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    dlq.subscribe([dead_letter_topic(market_stack.topic)])
    try:
        await publish(first, overflowing, after)

        async def traded() -> bool:
            quote = await market.GetQuote(market_pb2.GetQuoteRequest(symbol="JPM"))
            return quote.last == "151.23"

        await wait_until(traded, "the JPM trade after the one that cannot be stored")
        wanted = overflowing.trade.trade_id
        reason = None
        deadline = time.monotonic() + 20
        while reason is None and time.monotonic() < deadline:
            message = await asyncio.to_thread(dlq.poll, 0.5)
            if message is None or message.error() is not None:
                continue
            if wanted.encode() in message.value():
                reason = dict(message.headers())["x-dead-letter-reason"].decode()
        assert reason is not None and reason.startswith("cannot be stored")
    finally:
        await asyncio.to_thread(dlq.close)
