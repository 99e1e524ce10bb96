"""MarketService messages -> the public API's market models (empty strings become null)."""

from datetime import UTC, datetime, timedelta

from trademesh.market.v1 import market_pb2
from trademesh_gateway.schemas.market import (
    Candle,
    CandleInterval,
    CandlePage,
    Depth,
    DepthLevel,
    Fundamentals,
    FundamentalValue,
    Instrument,
    InstrumentList,
    Quote,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)

INTERVALS = {
    CandleInterval.M1: market_pb2.CANDLE_INTERVAL_1M,
    CandleInterval.M5: market_pb2.CANDLE_INTERVAL_5M,
    CandleInterval.M15: market_pb2.CANDLE_INTERVAL_15M,
    CandleInterval.H1: market_pb2.CANDLE_INTERVAL_1H,
    CandleInterval.D1: market_pb2.CANDLE_INTERVAL_1D,
}


def timestamp(micros: int) -> datetime | None:
    # Integer arithmetic: a float division would lose microseconds.
    return _EPOCH + timedelta(microseconds=micros) if micros else None


def micros(moment: datetime) -> int:
    """A time as microseconds since the epoch; a time without a zone is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _ONE_MICROSECOND


def _optional(text: str) -> str | None:
    return text or None


def instruments_from_proto(reply: market_pb2.SearchInstrumentsResponse) -> InstrumentList:
    return InstrumentList(
        instruments=[
            Instrument(
                symbol=i.symbol,
                name=i.name,
                sector=i.sector,
                currency=i.currency,
                tick_size=i.tick_size,
                lot_size=i.lot_size,
            )
            for i in reply.instruments
        ]
    )


def quote_from_proto(reply: market_pb2.Quote) -> Quote:
    return Quote(
        symbol=reply.symbol,
        last=_optional(reply.last),
        bid=_optional(reply.bid),
        bid_size=reply.bid_size,
        ask=_optional(reply.ask),
        ask_size=reply.ask_size,
        previous_close=reply.previous_close,
        change=_optional(reply.change),
        change_percent=_optional(reply.change_percent),
        volume=reply.volume,
        last_trade_at=timestamp(reply.last_trade_at_us),
    )


def depth_from_proto(reply: market_pb2.GetDepthResponse) -> Depth:
    return Depth(
        symbol=reply.symbol,
        bids=[DepthLevel(price=level.price, quantity=level.quantity) for level in reply.bids],
        asks=[DepthLevel(price=level.price, quantity=level.quantity) for level in reply.asks],
    )


def candles_from_proto(
    reply: market_pb2.GetCandlesResponse, interval: CandleInterval
) -> CandlePage:
    return CandlePage(
        symbol=reply.symbol,
        interval=interval,
        candles=[
            Candle(
                start=_EPOCH + c.start_us * _ONE_MICROSECOND,
                open=c.open,
                high=c.high,
                low=c.low,
                close=c.close,
                volume=c.volume,
                trade_count=c.trade_count,
            )
            for c in reply.candles
        ],
        next_to=timestamp(reply.next_to_us),
    )


def _value(value: market_pb2.FundamentalValue) -> FundamentalValue:
    return FundamentalValue(
        name=value.name,
        value=value.value if value.HasField("value") else None,
        reason=value.reason or None,
        unit=value.unit,
    )


def fundamentals_from_proto(reply: market_pb2.GetFundamentalsResponse) -> Fundamentals:
    return Fundamentals(
        symbol=reply.symbol,
        source=reply.source,
        currency=reply.currency,
        period=reply.period,
        price=reply.price,
        price_basis=reply.price_basis,  # type: ignore[arg-type]
        inputs=[_value(v) for v in reply.inputs],
        metrics=[_value(v) for v in reply.metrics],
    )
