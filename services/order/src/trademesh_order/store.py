"""SQL for order entry's tables. Functions take a connection so callers own the transaction;
they return domain records, never raw rows."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from trademesh_order.instruments import Instrument
from trademesh_order.orders import (
    Account,
    Fill,
    NewOrder,
    Order,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from trademesh_order.states import OPEN_STATUSES, OrderStatus

_OPEN_STATUSES = sorted(OPEN_STATUSES)

_INSTRUMENT_COLUMNS = "symbol, tick_size, lot_size, reference_price, price_band_percent, last_price"

_ORDER_COLUMNS = """
    order_id, user_id, client_order_id, symbol, side, type, time_in_force, quantity, price,
    limit_price, status, filled_quantity, filled_notional, average_fill_price, reserved_cash,
    reserved_quantity, reason, command_id, created_at, updated_at
"""

_FILL_COLUMNS = """
    execution_id, order_id, user_id, trade_id, symbol, side, quantity, price, liquidity, created_at
"""


def _instrument(row: asyncpg.Record) -> Instrument:
    return Instrument(
        symbol=row["symbol"],
        tick_size=row["tick_size"],
        lot_size=row["lot_size"],
        reference_price=row["reference_price"],
        price_band_percent=row["price_band_percent"],
        last_price=row["last_price"],
    )


def _order(row: asyncpg.Record) -> Order:
    return Order(
        order_id=row["order_id"],
        user_id=row["user_id"],
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        type=OrderType(row["type"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        quantity=row["quantity"],
        price=row["price"],
        limit_price=row["limit_price"],
        status=OrderStatus(row["status"]),
        filled_quantity=row["filled_quantity"],
        filled_notional=row["filled_notional"],
        average_fill_price=row["average_fill_price"],
        reserved_cash=row["reserved_cash"],
        reserved_quantity=row["reserved_quantity"],
        reason=row["reason"],
        command_id=row["command_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _fill(row: asyncpg.Record) -> Fill:
    return Fill(
        execution_id=row["execution_id"],
        order_id=row["order_id"],
        user_id=row["user_id"],
        trade_id=row["trade_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        price=row["price"],
        liquidity=row["liquidity"],
        created_at=row["created_at"],
    )


# --- instruments -------------------------------------------------------------------------


async def get_instrument(conn: asyncpg.Connection, symbol: str) -> Instrument | None:
    row = await conn.fetchrow(
        f"SELECT {_INSTRUMENT_COLUMNS} FROM instruments WHERE symbol = $1", symbol
    )
    return None if row is None else _instrument(row)


async def list_instruments(conn: asyncpg.Connection) -> list[Instrument]:
    rows = await conn.fetch(f"SELECT {_INSTRUMENT_COLUMNS} FROM instruments ORDER BY symbol")
    return [_instrument(row) for row in rows]


# --- accounts and positions --------------------------------------------------------------


async def ensure_account(
    conn: asyncpg.Connection,
    user_id: str,
    starting_cash: Decimal,
    starting_positions: Mapping[str, int],
) -> bool:
    """Opens the user's paper account if it has none; True when it was opened now.

    Starting positions cost their instrument's reference price.
    """
    opened = await conn.fetchval(
        "INSERT INTO accounts (user_id, cash) VALUES ($1, $2)"
        " ON CONFLICT (user_id) DO NOTHING RETURNING true",
        user_id,
        starting_cash,
    )
    if not opened:
        return False
    if starting_positions:
        await conn.execute(
            "INSERT INTO positions (user_id, symbol, quantity, average_price)"
            " SELECT $1, i.symbol, s.quantity, i.reference_price"
            " FROM unnest($2::text[], $3::bigint[]) AS s (symbol, quantity)"
            " JOIN instruments i ON i.symbol = s.symbol",
            user_id,
            list(starting_positions),
            list(starting_positions.values()),
        )
    return True


async def lock_account(conn: asyncpg.Connection, user_id: str) -> Account:
    """The account, locked until the transaction ends: one user's orders take turns.

    NO KEY UPDATE, like an UPDATE of the row: it leaves the KEY SHARE lock of an order
    insert's foreign key check alone (see lock_accounts).
    """
    row = await conn.fetchrow(
        "SELECT user_id, cash, reserved_cash FROM accounts WHERE user_id = $1 FOR NO KEY UPDATE",
        user_id,
    )
    if row is None:
        raise LookupError(f"no account for user {user_id}")
    return Account(row["user_id"], row["cash"], row["reserved_cash"])


async def get_account(conn: asyncpg.Connection, user_id: str) -> Account | None:
    row = await conn.fetchrow(
        "SELECT user_id, cash, reserved_cash FROM accounts WHERE user_id = $1", user_id
    )
    return None if row is None else Account(row["user_id"], row["cash"], row["reserved_cash"])


async def change_account(
    conn: asyncpg.Connection, user_id: str, cash_change: Decimal, reserved_change: Decimal
) -> None:
    await conn.execute(
        "UPDATE accounts SET cash = cash + $2, reserved_cash = reserved_cash + $3"
        " WHERE user_id = $1",
        user_id,
        cash_change,
        reserved_change,
    )


async def lock_position(conn: asyncpg.Connection, user_id: str, symbol: str) -> Position:
    """The position, created empty if missing, locked until the transaction ends.

    The no-op DO UPDATE makes the upsert lock and return an existing row in one statement.
    """
    row = await conn.fetchrow(
        "INSERT INTO positions (user_id, symbol) VALUES ($1, $2)"
        " ON CONFLICT (user_id, symbol) DO UPDATE SET quantity = positions.quantity"
        " RETURNING symbol, quantity, reserved_quantity, average_price",
        user_id,
        symbol,
    )
    assert row is not None
    return Position(row["symbol"], row["quantity"], row["reserved_quantity"], row["average_price"])


async def change_reserved_quantity(
    conn: asyncpg.Connection, user_id: str, symbol: str, change: int
) -> None:
    await conn.execute(
        "UPDATE positions SET reserved_quantity = reserved_quantity + $3"
        " WHERE user_id = $1 AND symbol = $2",
        user_id,
        symbol,
        change,
    )


async def list_positions(conn: asyncpg.Connection, user_id: str) -> list[Position]:
    rows = await conn.fetch(
        "SELECT symbol, quantity, reserved_quantity, average_price FROM positions"
        " WHERE user_id = $1 AND (quantity <> 0 OR reserved_quantity <> 0) ORDER BY symbol",
        user_id,
    )
    return [
        Position(r["symbol"], r["quantity"], r["reserved_quantity"], r["average_price"])
        for r in rows
    ]


# --- orders ------------------------------------------------------------------------------


async def insert_order(
    conn: asyncpg.Connection,
    order_id: str,
    order: NewOrder,
    *,
    limit_price: Decimal,
    reserved_cash: Decimal,
    reserved_quantity: int,
    command_id: str,
) -> Order:
    row = await conn.fetchrow(
        f"""
        INSERT INTO orders (
            order_id, user_id, client_order_id, symbol, side, type, time_in_force, quantity,
            price, limit_price, status, reserved_cash, reserved_quantity, command_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        RETURNING {_ORDER_COLUMNS}
        """,
        *_new_order_values(
            order_id, order, limit_price, reserved_cash, reserved_quantity, command_id
        ),
    )
    assert row is not None
    return _order(row)


def _new_order_values(
    order_id: str,
    order: NewOrder,
    limit_price: Decimal,
    reserved_cash: Decimal,
    reserved_quantity: int,
    command_id: str,
) -> list[object]:
    """$1-$14 of both ways of inserting an order, in the orders table's column order."""
    return [
        order_id,
        order.user_id,
        order.client_order_id,
        order.symbol,
        order.side.value,
        order.type.value,
        order.time_in_force.value,
        order.quantity,
        order.price,
        limit_price,
        OrderStatus.PENDING_NEW.value,
        reserved_cash,
        reserved_quantity,
        command_id,
    ]


# One statement places an order whose account (or position) already covers it: the
# reservation, the order and its outbox row. The conditional UPDATE both checks and
# reserves, under the row lock it takes, so concurrent placements cannot overdraw; when it
# matches no row (no account yet, not enough cash or position) nothing is inserted and
# the caller takes the step-by-step path, which opens accounts and words the refusal.
_PLACE_RESERVING_CASH = """
    UPDATE accounts SET reserved_cash = reserved_cash + $12::numeric
    WHERE user_id = $2 AND cash - reserved_cash >= $12::numeric
    RETURNING user_id
"""
_PLACE_RESERVING_POSITION = """
    UPDATE positions SET reserved_quantity = reserved_quantity + $13::bigint
    WHERE user_id = $2 AND symbol = $4
        AND ($17::boolean OR quantity - reserved_quantity >= $13::bigint)
    RETURNING user_id
"""
_PLACE = """
    WITH reserved AS ({reserve}),
    placed AS (
        INSERT INTO orders (
            order_id, user_id, client_order_id, symbol, side, type, time_in_force, quantity,
            price, limit_price, status, reserved_cash, reserved_quantity, command_id)
        SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text,
            $8::bigint, $9::numeric, $10::numeric, $11::text, $12::numeric, $13::bigint,
            $14::text
        FROM reserved
        RETURNING {columns}
    ),
    queued AS (
        INSERT INTO outbox (topic, key, payload) SELECT $15::text, symbol, $16::bytea FROM placed
        RETURNING id
    )
    SELECT placed.*, queued.id AS outbox_id FROM placed CROSS JOIN queued
"""
_PLACE_BUY = _PLACE.format(reserve=_PLACE_RESERVING_CASH, columns=_ORDER_COLUMNS)
_PLACE_SELL = _PLACE.format(reserve=_PLACE_RESERVING_POSITION, columns=_ORDER_COLUMNS)


async def place_covered_order(
    conn: asyncpg.Connection,
    order_id: str,
    order: NewOrder,
    *,
    limit_price: Decimal,
    reserved_cash: Decimal,
    reserved_quantity: int,
    command_id: str,
    outbox_topic: str,
    command: bytes,
    allow_short: bool,
) -> tuple[Order, int] | None:
    """Reserves, stores the order and queues its command in one statement (one round
    trip); returns the order and its outbox row id, or None when the account or position
    does not cover it as it stands (nothing changed then).

    Raises asyncpg.UniqueViolationError when the client_order_id was used before.
    """
    args = [
        *_new_order_values(
            order_id, order, limit_price, reserved_cash, reserved_quantity, command_id
        ),
        outbox_topic,
        command,
    ]
    if order.side is Side.BUY:
        row = await conn.fetchrow(_PLACE_BUY, *args)
    else:
        row = await conn.fetchrow(_PLACE_SELL, *args, allow_short)
    return None if row is None else (_order(row), row["outbox_id"])


async def find_by_client_order_id(
    conn: asyncpg.Connection, user_id: str, client_order_id: str
) -> Order | None:
    row = await conn.fetchrow(
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE user_id = $1 AND client_order_id = $2",
        user_id,
        client_order_id,
    )
    return None if row is None else _order(row)


async def get_order(
    conn: asyncpg.Connection, order_id: str, *, user_id: str | None = None, lock: bool = False
) -> Order | None:
    """The order, only if it belongs to `user_id` when given; optionally locked."""
    query = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = $1"
    args: list[object] = [order_id]
    if user_id is not None:
        query += " AND user_id = $2"
        args.append(user_id)
    if lock:
        query += " FOR UPDATE"
    row = await conn.fetchrow(query, *args)
    return None if row is None else _order(row)


async def list_orders(
    conn: asyncpg.Connection,
    user_id: str,
    *,
    symbol: str | None,
    open_only: bool,
    before_seq: int | None,
    limit: int,
) -> list[tuple[int, Order]]:
    """Newest first, each with its sequence number (the page token's cursor)."""
    conditions = ["user_id = $1"]
    args: list[object] = [user_id]
    if symbol:
        args.append(symbol)
        conditions.append(f"symbol = ${len(args)}")
    if open_only:
        args.append(_OPEN_STATUSES)
        conditions.append(f"status = ANY(${len(args)}::text[])")
    if before_seq is not None:
        args.append(before_seq)
        conditions.append(f"seq < ${len(args)}")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT seq, {_ORDER_COLUMNS} FROM orders WHERE {' AND '.join(conditions)}"
        f" ORDER BY seq DESC LIMIT ${len(args)}",
        *args,
    )
    return [(row["seq"], _order(row)) for row in rows]


# --- fills and applied executions --------------------------------------------------------


async def list_fills(
    conn: asyncpg.Connection, user_id: str, *, order_id: str | None, limit: int
) -> list[Fill]:
    if order_id is not None:
        rows = await conn.fetch(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE user_id = $1 AND order_id = $2"
            " ORDER BY created_at, execution_id LIMIT $3",
            user_id,
            order_id,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE user_id = $1"
            " ORDER BY created_at DESC, execution_id LIMIT $2",
            user_id,
            limit,
        )
    return [_fill(row) for row in rows]


# --- a batch of execution reports at once ------------------------------------------------
# Each function is one statement for the whole batch; locks are taken in sorted key order
# (order rows, then accounts, then positions), as order entry takes them above.


async def lock_orders(
    conn: asyncpg.Connection, order_ids: Sequence[str]
) -> tuple[dict[str, Order], datetime]:
    """The orders among `order_ids`, locked, and the transaction's now()."""
    rows = await conn.fetch(
        f"SELECT {_ORDER_COLUMNS}, now() AS tx_now FROM orders"
        " WHERE order_id = ANY($1::text[]) ORDER BY order_id FOR UPDATE",
        list(order_ids),
    )
    now = rows[0]["tx_now"] if rows else datetime.now(UTC)
    return {row["order_id"]: _order(row) for row in rows}, now


async def claim_executions(
    conn: asyncpg.Connection, executions: Sequence[tuple[str, str]]
) -> set[str]:
    """Records (execution id, order id) pairs as applied; returns the ids claimed now (the
    others were applied before: redeliveries)."""
    if not executions:
        return set()
    rows = await conn.fetch(
        "INSERT INTO applied_executions (execution_id, order_id)"
        " SELECT * FROM unnest($1::text[], $2::text[])"
        " ON CONFLICT (execution_id) DO NOTHING RETURNING execution_id",
        [execution_id for execution_id, _ in executions],
        [order_id for _, order_id in executions],
    )
    return {row["execution_id"] for row in rows}


async def lock_accounts(conn: asyncpg.Connection, user_ids: Sequence[str]) -> None:
    """Locks the accounts as the UPDATE that follows would (NO KEY UPDATE), in sorted order.

    Not FOR UPDATE: that would also block the KEY SHARE lock an order insert's foreign key
    check takes on its account, and a sell placed in one statement (position locked,
    then the order inserted) would deadlock with this batch (account, then position).
    """
    if user_ids:
        await conn.execute(
            "SELECT 1 FROM accounts WHERE user_id = ANY($1::text[])"
            " ORDER BY user_id FOR NO KEY UPDATE",
            list(user_ids),
        )


async def lock_positions(
    conn: asyncpg.Connection, holdings: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Position]:
    """The positions of distinct (user, symbol) pairs, created empty if missing, locked."""
    if not holdings:
        return {}
    rows = await conn.fetch(
        "INSERT INTO positions (user_id, symbol)"
        " SELECT * FROM unnest($1::text[], $2::text[]) AS h (user_id, symbol)"
        " ORDER BY user_id, symbol"
        " ON CONFLICT (user_id, symbol) DO UPDATE SET quantity = positions.quantity"
        " RETURNING user_id, symbol, quantity, reserved_quantity, average_price",
        [user_id for user_id, _ in holdings],
        [symbol for _, symbol in holdings],
    )
    return {
        (r["user_id"], r["symbol"]): Position(
            r["symbol"], r["quantity"], r["reserved_quantity"], r["average_price"]
        )
        for r in rows
    }


async def insert_fills(conn: asyncpg.Connection, fills: Sequence[Fill]) -> None:
    if fills:
        await conn.execute(
            f"INSERT INTO fills ({_FILL_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[],"
            " $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::numeric[],"
            " $9::text[], $10::timestamptz[])",
            [f.execution_id for f in fills],
            [f.order_id for f in fills],
            [f.user_id for f in fills],
            [f.trade_id for f in fills],
            [f.symbol for f in fills],
            [f.side.value for f in fills],
            [f.quantity for f in fills],
            [f.price for f in fills],
            [f.liquidity for f in fills],
            [f.created_at for f in fills],
        )


async def change_accounts(
    conn: asyncpg.Connection, changes: Sequence[tuple[str, Decimal, Decimal]]
) -> None:
    """Adds (user, cash change, reserved cash change) to each account, rows already locked."""
    if changes:
        await conn.execute(
            "UPDATE accounts a SET cash = a.cash + c.cash,"
            " reserved_cash = a.reserved_cash + c.reserved"
            " FROM unnest($1::text[], $2::numeric[], $3::numeric[]) AS c (user_id, cash, reserved)"
            " WHERE a.user_id = c.user_id",
            [user_id for user_id, _, _ in changes],
            [cash for _, cash, _ in changes],
            [reserved for _, _, reserved in changes],
        )


async def update_positions(
    conn: asyncpg.Connection, positions: Sequence[tuple[str, str, Position]]
) -> None:
    """Sets each (user, symbol)'s position to the values given, rows already locked."""
    if positions:
        await conn.execute(
            "UPDATE positions p SET quantity = v.quantity,"
            " reserved_quantity = v.reserved_quantity, average_price = v.average_price"
            " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::numeric[])"
            " AS v (user_id, symbol, quantity, reserved_quantity, average_price)"
            " WHERE p.user_id = v.user_id AND p.symbol = v.symbol",
            [user_id for user_id, _, _ in positions],
            [symbol for _, symbol, _ in positions],
            [p.quantity for _, _, p in positions],
            [p.reserved_quantity for _, _, p in positions],
            [p.average_price for _, _, p in positions],
        )


async def record_last_prices(
    conn: asyncpg.Connection, prices: Sequence[tuple[str, Decimal, datetime]]
) -> None:
    if prices:
        await conn.execute(
            "UPDATE instruments i SET last_price = v.price, last_trade_at = v.traded_at"
            " FROM unnest($1::text[], $2::numeric[], $3::timestamptz[])"
            " AS v (symbol, price, traded_at) WHERE i.symbol = v.symbol",
            [symbol for symbol, _, _ in prices],
            [price for _, price, _ in prices],
            [traded_at for _, _, traded_at in prices],
        )


async def update_orders_after_reports(conn: asyncpg.Connection, orders: Sequence[Order]) -> None:
    """Stores each order's state after its reports; updated_at is the transaction's now()."""
    if orders:
        await conn.execute(
            "UPDATE orders o SET status = v.status, filled_quantity = v.filled_quantity,"
            " filled_notional = v.filled_notional, average_fill_price = v.average_fill_price,"
            " reserved_cash = v.reserved_cash, reserved_quantity = v.reserved_quantity,"
            " reason = v.reason, updated_at = now()"
            " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], $5::numeric[],"
            " $6::numeric[], $7::bigint[], $8::text[]) AS v (order_id, status, filled_quantity,"
            " filled_notional, average_fill_price, reserved_cash, reserved_quantity, reason)"
            " WHERE o.order_id = v.order_id",
            [o.order_id for o in orders],
            [o.status.value for o in orders],
            [o.filled_quantity for o in orders],
            [o.filled_notional for o in orders],
            [o.average_fill_price for o in orders],
            [o.reserved_cash for o in orders],
            [o.reserved_quantity for o in orders],
            [o.reason for o in orders],
        )


async def enqueue_many(
    conn: asyncpg.Connection, topic: str, records: Sequence[tuple[str, bytes]]
) -> list[int]:
    """Writes (key, payload) outbox rows; returns their ids in the order given.

    Payloads must be distinct (each carries its execution id): the ids are matched back
    by payload, since INSERT ... RETURNING does not promise an order.
    """
    rows = await conn.fetch(
        "INSERT INTO outbox (topic, key, payload)"
        " SELECT $1, r.key, r.payload FROM unnest($2::text[], $3::bytea[])"
        " WITH ORDINALITY AS r (key, payload, n) ORDER BY r.n"
        " RETURNING id, payload",
        topic,
        [key for key, _ in records],
        [payload for _, payload in records],
    )
    ids = {bytes(row["payload"]): row["id"] for row in rows}
    return [ids[payload] for _, payload in records]
