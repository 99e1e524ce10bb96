"""Hostile input to every parser on the way in: no crash, only a clean refusal.

Property tests (hypothesis) over the gateway's order request model, order entry's
validation, and each Kafka consumer's decoder: matching (`orders`), order
(`executions`), market (`marketdata`) and the gateway's push relay
(`order-updates`). A decoder may accept or refuse a record with its own error
(which the consumer turns into a dead letter), never raise anything else; what it
accepts must go through the steps after it. (social and news consume no Kafka topic.)
"""

import contextlib
import json
from decimal import Decimal

import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from trademesh.events.v1 import executions_pb2, marketdata_pb2, order_updates_pb2, orders_pb2
from trademesh.order.v1 import order_pb2
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.order_update_relay import relay_record
from trademesh_gateway.schemas.orders import PlaceOrderRequest
from trademesh_market.candles import TradeTick, aggregate
from trademesh_market.marketdata import (
    MAX_TRADE_ID_CHARS,
    BadEvent,
    LevelChange,
    candle_json,
    decode,
    decode_batch,
    trade_json,
)
from trademesh_market.store import Instrument as Listing
from trademesh_market.timestamps import from_us
from trademesh_matching.engine import PartitionEngine
from trademesh_matching.processor import BadCommand, decode_command
from trademesh_order.errors import InvalidOrder, InvalidRequest
from trademesh_order.execution_applier import DeadLetter, decode_report
from trademesh_order.instruments import Instrument
from trademesh_order.validation import validate_order

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
VALID_ORDER = {
    "symbol": "ACME",
    "side": "buy",
    "type": "limit",
    "time_in_force": "gtc",
    "quantity": 10,
    "price": "101.25",
    "client_order_id": "c-1",
}
ORDER_FIELDS = [*VALID_ORDER, "extra"]


def mutate(base: bytes, data: st.DataObject) -> bytes:
    """A valid record with bytes flipped, cut or spliced: what a broken producer sends."""
    body = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        if not body:
            break
        how = data.draw(st.sampled_from(["flip", "cut", "splice"]))
        at = data.draw(st.integers(0, len(body) - 1))
        if how == "flip":
            body[at] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del body[at:]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    return bytes(body)


# -- the gateway's order request parser -------------------------------------------------


@FUZZ
@given(
    st.dictionaries(st.sampled_from(ORDER_FIELDS), json_values, max_size=8)
    | st.builds(
        lambda changes: VALID_ORDER | changes,
        st.dictionaries(st.sampled_from(ORDER_FIELDS), json_values, max_size=3),
    )
)
def test_the_order_request_parser_accepts_or_refuses_any_json(body):
    try:
        parsed = PlaceOrderRequest.model_validate_json(json.dumps(body))
    except ValidationError as refused:
        assert refused.errors()  # each refusal names its fields
        return
    assert parsed.quantity > 0
    assert set(body) <= set(VALID_ORDER)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_the_order_request_parser_refuses_non_json_cleanly(raw):
    with contextlib.suppress(ValidationError):
        PlaceOrderRequest.model_validate_json(raw)


# -- order entry's validation of what the gateway forwards ------------------------------

ACME = Instrument(
    symbol="ACME",
    tick_size=Decimal("0.01"),
    lot_size=1,
    reference_price=Decimal("100"),
    price_band_percent=10,
)


@FUZZ
@given(
    st.builds(
        order_pb2.PlaceOrderRequest,
        user_id=st.text(max_size=140),
        symbol=st.sampled_from(["ACME", "", "acme", "ACME\x00"]) | st.text(max_size=40),
        side=st.sampled_from(["buy", "sell", "", "BUY"]) | st.text(max_size=8),
        type=st.sampled_from(["limit", "market", ""]) | st.text(max_size=8),
        time_in_force=st.sampled_from(["gtc", "ioc", "fok", ""]) | st.text(max_size=8),
        quantity=INT64,
        price=st.sampled_from(["101.25", "0", "1e3", "-1", "NaN", ""]) | st.text(max_size=30),
        client_order_id=st.text(max_size=80),
    ),
    st.booleans(),
)
def test_order_entry_validates_or_refuses_any_request(request, listed):
    try:
        order = validate_order(request, ACME if listed else None)
    except (InvalidOrder, InvalidRequest) as refused:
        assert str(refused)
        return
    assert order.quantity > 0


# -- Kafka decoders: matching (orders), order (executions), gateway (order-updates) -----


def an_order_command() -> bytes:
    return orders_pb2.OrderCommand(
        command_id="cmd-1",
        symbol="ACME",
        created_at_us=1,
        accepted=orders_pb2.OrderAccepted(
            order_id="o-1",
            user_id="alice",
            symbol="ACME",
            side=orders_pb2.SIDE_BUY,
            type=orders_pb2.ORDER_TYPE_LIMIT,
            time_in_force=orders_pb2.TIME_IN_FORCE_GTC,
            quantity=10,
            price_ticks=10125,
        ),
    ).SerializeToString()


@FUZZ
@given(st.data())
def test_the_matching_decoder_and_engine_survive_any_orders_record(data):
    raw = data.draw(st.none() | st.binary(max_size=300) | st.just(an_order_command()))
    if raw is not None and data.draw(st.booleans()):
        raw = mutate(raw, data)
    try:
        command = decode_command(raw)
    except BadCommand as refused:
        assert str(refused)
        return
    # Decodable but nonsensical commands (negative quantities, unknown enums) reach the
    # book, which must reject them rather than raise and stall the partition.
    PartitionEngine(0).apply(command, offset=0)


@FUZZ
@given(
    st.builds(
        orders_pb2.OrderAccepted,
        order_id=st.text(max_size=20),
        user_id=st.text(max_size=20),
        symbol=st.just("ACME"),
        side=st.integers(0, 5),
        type=st.integers(0, 5),
        time_in_force=st.integers(0, 6),
        quantity=INT64,
        price_ticks=INT64,
    )
)
def test_the_engine_rejects_instead_of_raising_on_any_accepted_order(accepted):
    engine = PartitionEngine(0)
    engine.apply(orders_pb2.OrderCommand(symbol="ACME", accepted=accepted), offset=0)
    opposite = orders_pb2.OrderAccepted()
    opposite.CopyFrom(accepted)
    opposite.order_id += "-x"
    opposite.side = 3 - accepted.side if accepted.side in (1, 2) else accepted.side
    engine.apply(orders_pb2.OrderCommand(symbol="ACME", accepted=opposite), offset=1)


def an_execution_report() -> bytes:
    return executions_pb2.ExecutionReport(
        execution_id="exec-1", order_id="o-1", symbol="ACME"
    ).SerializeToString()


@FUZZ
@given(st.data())
def test_the_order_services_decoder_survives_any_executions_record(data):
    raw = data.draw(st.none() | st.binary(max_size=300) | st.just(an_execution_report()))
    if raw is not None and data.draw(st.booleans()):
        raw = mutate(raw, data)
    try:
        decode_report(raw)
    except DeadLetter as refused:
        assert refused.reason


def an_order_update() -> bytes:
    return order_updates_pb2.OrderUpdate(
        user_id="alice", order=order_pb2.Order(order_id="o-1", symbol="ACME", quantity=1)
    ).SerializeToString()


class _Recording(ConnectionRegistry):
    def __init__(self) -> None:
        super().__init__(queue_size=4)
        self.published: list[str] = []

    def has_subscribers(self, user_id: str) -> bool:
        return True

    def publish(self, user_id: str, text: str) -> int:
        json.loads(text)  # whatever is pushed is well-formed JSON
        self.published.append(text)
        return 1


@FUZZ
@given(st.data())
def test_the_gateway_push_relay_survives_any_order_updates_record(data):
    raw = data.draw(st.binary(max_size=300) | st.just(an_order_update()))
    if data.draw(st.booleans()):
        raw = mutate(raw, data)
    registry = _Recording()
    message = Message(topic="order-updates", partition=0, offset=1, key=b"alice", value=raw)
    relay_record(message, registry)  # undecodable records are logged and skipped


LISTINGS = {
    "ACME": Listing(
        symbol="ACME",
        name="Acme",
        sector="Industrials",
        currency="USD",
        tick_size=Decimal("0.01"),
        lot_size=1,
        reference_price=Decimal("100"),
    )
}


def a_marketdata_trade() -> bytes:
    return marketdata_pb2.MarketDataEvent(
        symbol="ACME",
        trade=marketdata_pb2.Trade(
            trade_id="t-1", symbol="ACME", price_ticks=10125, quantity=3, created_at_us=10**15
        ),
    ).SerializeToString()


def a_book_delta() -> bytes:
    return marketdata_pb2.MarketDataEvent(
        symbol="ACME",
        book_delta=marketdata_pb2.BookDelta(
            symbol="ACME", side=orders_pb2.SIDE_SELL, price_ticks=10130, quantity=7
        ),
    ).SerializeToString()


def goes_through_the_market_consumer(event: TradeTick | LevelChange) -> None:
    """The pure steps after decoding: what the store and the live updates compute."""
    if isinstance(event, TradeTick):
        assert event.trade_id and "\x00" not in event.trade_id
        assert len(event.trade_id) <= MAX_TRADE_ID_CHARS
        from_us(event.at_us)  # the trade's time as PostgreSQL gets it
        json.dumps(trade_json(event))
        for candle in aggregate([event]).values():
            from_us(candle.start_us)
            json.dumps(candle_json(candle))
    else:
        assert event.price_ticks > 0 and event.quantity >= 0
        from_us(event.at_us)


@FUZZ
@given(st.data())
def test_the_market_decoder_survives_any_marketdata_record(data):
    valid = st.sampled_from([a_marketdata_trade(), a_book_delta()])
    raw = data.draw(st.binary(max_size=300) | valid)
    if data.draw(st.booleans()):
        raw = mutate(raw, data)
    try:
        event = decode(raw, LISTINGS)
    except BadEvent as refused:
        assert str(refused)
        return
    goes_through_the_market_consumer(event)


@FUZZ
@given(
    st.builds(
        marketdata_pb2.Trade,
        trade_id=st.text(max_size=10) | st.text(min_size=100, max_size=200),
        price_ticks=INT64,
        quantity=INT64,
        created_at_us=INT64,
    ),
    st.builds(
        marketdata_pb2.BookDelta,
        side=st.integers(0, 5),
        price_ticks=INT64,
        quantity=INT64,
        created_at_us=INT64,
    ),
    st.sampled_from(["ACME", "", "acme", "ACME\x00"]),
)
def test_the_market_decoder_refuses_what_it_could_not_store(trade, delta, symbol):
    # Well-formed protobuf with hostile values: a record the consumer accepted but could
    # not store would be retried forever and stall its partition.
    for event in (
        marketdata_pb2.MarketDataEvent(symbol=symbol, trade=trade),
        marketdata_pb2.MarketDataEvent(symbol=symbol, book_delta=delta),
    ):
        try:
            decoded = decode(event.SerializeToString(), LISTINGS)
        except BadEvent:
            continue
        goes_through_the_market_consumer(decoded)


@FUZZ
@given(st.lists(st.binary(max_size=80) | st.just(a_marketdata_trade()), max_size=8))
def test_a_marketdata_batch_sends_every_refused_record_to_the_dead_letters(values):
    messages = [
        Message(topic="marketdata", partition=0, offset=i, key=b"ACME", value=value)
        for i, value in enumerate(values)
    ]
    batch = decode_batch(messages, LISTINGS)
    assert len(batch.trades) + len(batch.levels) + len(batch.dead_letters) == len(messages)
    for message, reason in batch.dead_letters:
        assert reason
        with pytest.raises(BadEvent):
            decode(message.value(), LISTINGS)


@pytest.mark.parametrize(
    "decoder", [decode_command, decode_report, lambda raw: decode(raw, LISTINGS)]
)
def test_an_empty_record_is_refused_not_crashed_on(decoder):
    with pytest.raises((BadCommand, DeadLetter, BadEvent)):
        decoder(b"")
