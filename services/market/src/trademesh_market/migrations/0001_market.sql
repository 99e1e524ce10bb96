-- Reference data: what is listed, how it trades, and the close it is compared against
-- before the exchange has a daily candle of its own.
CREATE TABLE instruments (
    symbol           text PRIMARY KEY,
    name             text    NOT NULL,
    sector           text    NOT NULL,
    currency         text    NOT NULL DEFAULT 'USD',
    tick_size        numeric NOT NULL CHECK (tick_size > 0),
    lot_size         bigint  NOT NULL CHECK (lot_size > 0),
    reference_price  numeric NOT NULL CHECK (reference_price > 0)
);
CREATE INDEX instruments_name_lower ON instruments (lower(name) text_pattern_ops);

-- Every trade applied to the candles, once: a redelivered trade finds its id here.
CREATE TABLE trades (
    trade_id  text PRIMARY KEY,
    symbol    text    NOT NULL REFERENCES instruments (symbol),
    price     numeric NOT NULL,
    quantity  bigint  NOT NULL,
    traded_at timestamptz NOT NULL
);
CREATE INDEX trades_symbol_time ON trades (symbol, traded_at DESC);

-- OHLCV per UTC-aligned bucket. open_at/close_at are the times of the trades that set
-- open and close, so trades merged out of order still give the right open and close.
CREATE TABLE candles (
    symbol       text        NOT NULL REFERENCES instruments (symbol),
    interval     text        NOT NULL,
    start_at     timestamptz NOT NULL,
    open         numeric     NOT NULL,
    high         numeric     NOT NULL,
    low          numeric     NOT NULL,
    close        numeric     NOT NULL,
    volume       bigint      NOT NULL,
    trade_count  bigint      NOT NULL,
    open_at      timestamptz NOT NULL,
    close_at     timestamptz NOT NULL,
    PRIMARY KEY (symbol, interval, start_at)
);
