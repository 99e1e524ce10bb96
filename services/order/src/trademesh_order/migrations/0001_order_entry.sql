-- Order entry's own database: trading rules, paper accounts, orders, fills, and the
-- outbox through which every Kafka record this service owes is published.

CREATE TABLE instruments (
    symbol              text PRIMARY KEY,
    tick_size           numeric NOT NULL CHECK (tick_size > 0),
    lot_size            bigint  NOT NULL CHECK (lot_size > 0),
    reference_price     numeric NOT NULL CHECK (reference_price > 0),
    price_band_percent  integer NOT NULL CHECK (price_band_percent BETWEEN 1 AND 100),
    -- The latest trade seen in the executions stream: centre of the price band.
    last_price          numeric CHECK (last_price > 0),
    last_trade_at       timestamptz
);

CREATE TABLE accounts (
    user_id        text PRIMARY KEY,
    cash           numeric NOT NULL,
    -- Held for open buy orders at their limit (or protection) price.
    reserved_cash  numeric NOT NULL DEFAULT 0 CHECK (reserved_cash >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE positions (
    user_id            text   NOT NULL REFERENCES accounts (user_id),
    symbol             text   NOT NULL REFERENCES instruments (symbol),
    quantity           bigint NOT NULL DEFAULT 0,
    -- Held for open sell orders.
    reserved_quantity  bigint NOT NULL DEFAULT 0 CHECK (reserved_quantity >= 0),
    average_price      numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, symbol)
);

CREATE TABLE orders (
    order_id            text PRIMARY KEY,
    -- Insertion order: newest-first listings and their page tokens use it.
    seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id             text    NOT NULL REFERENCES accounts (user_id),
    client_order_id     text,
    symbol              text    NOT NULL REFERENCES instruments (symbol),
    side                text    NOT NULL CHECK (side IN ('buy', 'sell')),
    type                text    NOT NULL CHECK (type IN ('limit', 'market')),
    time_in_force       text    NOT NULL CHECK (time_in_force IN ('gtc', 'ioc', 'fok')),
    quantity            bigint  NOT NULL CHECK (quantity > 0),
    price               numeric CHECK (price > 0),
    limit_price         numeric NOT NULL CHECK (limit_price > 0),
    status              text    NOT NULL CHECK (status IN (
                            'pending_new', 'new', 'partially_filled',
                            'filled', 'cancelled', 'rejected')),
    filled_quantity     bigint  NOT NULL DEFAULT 0 CHECK (filled_quantity BETWEEN 0 AND quantity),
    filled_notional     numeric NOT NULL DEFAULT 0,
    average_fill_price  numeric,
    reserved_cash       numeric NOT NULL DEFAULT 0 CHECK (reserved_cash >= 0),
    reserved_quantity   bigint  NOT NULL DEFAULT 0 CHECK (reserved_quantity >= 0),
    reason              text    NOT NULL DEFAULT '',
    command_id          text    NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Idempotency keys are per user.
CREATE UNIQUE INDEX orders_client_order_id ON orders (user_id, client_order_id)
    WHERE client_order_id IS NOT NULL;
CREATE INDEX orders_by_user ON orders (user_id, seq DESC);
CREATE INDEX orders_open_by_user ON orders (user_id, seq DESC)
    WHERE status IN ('pending_new', 'new', 'partially_filled');

CREATE TABLE fills (
    execution_id  text PRIMARY KEY,
    order_id      text    NOT NULL REFERENCES orders (order_id),
    user_id       text    NOT NULL,
    trade_id      text    NOT NULL,
    symbol        text    NOT NULL,
    side          text    NOT NULL,
    quantity      bigint  NOT NULL CHECK (quantity > 0),
    price         numeric NOT NULL CHECK (price > 0),
    liquidity     text    NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE INDEX fills_by_order ON fills (order_id, created_at);
CREATE INDEX fills_by_user ON fills (user_id, created_at DESC);

-- Every execution report applied, so a redelivered report is a no-op.
CREATE TABLE applied_executions (
    execution_id  text PRIMARY KEY,
    order_id      text NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now()
);

-- Records committed with the state change that owes them and published after the commit;
-- a relay republishes any left unpublished (a crash between commit and delivery).
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic         text  NOT NULL,
    key           text  NOT NULL,
    payload       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
