"""Price-time priority limit order book for one symbol: the matching engine's core.

Pure Python, no I/O, no clock, no randomness, no id generation: the same sequence of `place` and
`cancel` calls always produces the same events. That is what lets the engine replay its input
topic after a crash and derive identical execution ids from input offsets.

Units: prices are integer ticks, quantities integer lots (protobuf int64 on the wire). Side, order
type and time in force use the protobuf enum values (trademesh.events.v1.Side, OrderType,
TimeInForce).

The book reports everything it does by appending *records* to `OrderBook.events`, in the order
the things happened; the caller drains the list after each call (``book.events.clear()``, in
place). A record is a plain tuple ``(kind, *fields)``: ``kind`` is one of the ``ACCEPTED`` ...
``LEVEL_CHANGED`` constants and the fields are those of the event NamedTuple of that kind
(`Accepted`, `Fill`, ...), in the same order. `decode` turns a record into that NamedTuple.
Every record carries what is needed to build the execution reports and market data it causes
(ids, user ids, leaves and cumulative quantities) without looking anything up.

Layout and speed (the book is on the engine's hot path; bench/book_core.py measures it):

* A side is a dict price -> `_Level` plus a sorted list of "keys" whose *last* element is the best
  price: bid keys are the prices, ask keys the negated prices. Best price is then ``keys[-1]``,
  removing an exhausted best level is ``keys.pop()``, and a new level near the touch is a cheap
  `insort` near the end of the list.
* A level is a FIFO (deque) of orders plus the running total of its live orders' leaves (0 once
  it has no live order) and the number of tombstones in the deque.
* An order is a small dict ``{"id", "user", "side", "price", "leaves", "original"}`` held by its
  level's deque and by the id index; a partial fill lowers its ``leaves`` in place. Cancelling is
  O(1): the order leaves the index, its ``leaves`` become 0 and it stays in the deque as a
  tombstone, which matching pops when it meets it at the front; a level whose deque is mostly
  tombstones is compacted.
* Records are built with a tuple display (one allocation, no constructor call) and appended
  with ``events.append`` written out, which CPython 3.11 specialises for lists. An event object
  per record (a NamedTuple) cost about a third of the book's time.

Garbage collection: the book never creates reference cycles, so reference counting alone frees
everything it drops and the cyclic collector has nothing to find here. It is built so that the
collector does not even see the orders: a dict holding only strs and ints is never tracked by
the collector (from creation on), whereas a tuple is tracked until a collection it lives through
untracks it. That matters more than it seems: CPython 3.11 starts a generation-0 collection when
tracked allocations minus deallocations exceed 700, and the book frees an old order for most
orders it adds, so between two collections thousands of young order tuples piled up and each
generation-0 collection walked them all: pauses up to 6-8 ms of CPU on a 30k-order book in
bench/book_core.py, against well under 1 ms with dicts, at the same throughput. Records are freed
by the caller's ``clear()`` before any collection sees them. What stays tracked is per level (a
level object and its deque, whose traversal just steps over the untracked orders) plus the id
index. The matching processor also freezes its start-up heap (see processor.py).
"""

from bisect import bisect_left, insort
from collections import deque
from itertools import pairwise
from typing import Any, Final, NamedTuple

# --- protobuf enum values -------------------------------------------------------------------
BUY: Final = 1
SELL: Final = 2
LIMIT: Final = 1
MARKET: Final = 2
GTC: Final = 1
IOC: Final = 2
FOK: Final = 3

# --- reasons carried by Cancelled / Rejected / CancelRejected ---------------------------------
REASON_USER_REQUESTED: Final = "user_requested"
REASON_IOC_REMAINDER: Final = "ioc_remainder"
REASON_MARKET_REMAINDER: Final = "market_remainder"
REASON_FOK_UNFILLABLE: Final = "fok_unfillable"
REASON_SELF_TRADE_PREVENTED: Final = "self_trade_prevented"
REASON_INVALID_ORDER: Final = "invalid_order"
REASON_INVALID_QUANTITY: Final = "invalid_quantity"
REASON_INVALID_PRICE: Final = "invalid_price"
REASON_DUPLICATE_ORDER_ID: Final = "duplicate_order_id"
REASON_UNKNOWN_ORDER: Final = "unknown_order"

SNAPSHOT_FORMAT: Final = 1

# --- record kinds: index of the event class in EVENT_TYPES -------------------------------------
ACCEPTED: Final = 0
FILL: Final = 1
CANCELLED: Final = 2
REJECTED: Final = 3
CANCEL_REJECTED: Final = 4
LEVEL_CHANGED: Final = 5


# --- events -----------------------------------------------------------------------------------
class Accepted(NamedTuple):
    """The order passed validation; always the first event of a successful `place`.

    Becomes the ACK execution report (leaves = ``quantity``, cumulative 0). For a market order
    ``price`` is the protection price (0 = unbounded).
    """

    order_id: str
    user_id: str
    side: int
    order_type: int
    time_in_force: int
    quantity: int
    price: int


class Fill(NamedTuple):
    """One match of the incoming (taker) order against one resting (maker) order.

    Executes at the maker's price. Becomes a FILL execution report for each of the two orders
    and one public Trade. The maker's side is the opposite of ``aggressor_side`` (the taker's
    side). ``*_leaves`` is what each order still has open after this fill (0 = done) and
    ``*_cumulative`` what it has filled in total so far.
    """

    maker_order_id: str
    maker_user_id: str
    taker_order_id: str
    taker_user_id: str
    price: int
    quantity: int
    maker_leaves: int
    taker_leaves: int
    aggressor_side: int
    maker_cumulative: int
    taker_cumulative: int


class Cancelled(NamedTuple):
    """An order, or what was left of it, is done without trading any further.

    ``quantity`` is the leaves quantity cancelled, ``filled_quantity`` what the order had
    filled before (the CANCEL report's cumulative quantity; its leaves become 0). ``price`` is
    the order's limit or protection price. ``reason`` is one of user_requested, ioc_remainder,
    market_remainder, fok_unfillable, self_trade_prevented.
    """

    order_id: str
    user_id: str
    side: int
    price: int
    quantity: int
    filled_quantity: int
    reason: str


class Rejected(NamedTuple):
    """A `place` refused before anything happened; the book is unchanged.

    ``reason`` is one of invalid_order (unknown side, type or time in force), invalid_quantity,
    invalid_price, duplicate_order_id. The other fields echo the request as given.
    """

    order_id: str
    user_id: str
    side: int
    quantity: int
    price: int
    reason: str


class CancelRejected(NamedTuple):
    """A `cancel` for an order that is not resting on this book (reason unknown_order).

    The book cannot know whose order it was; the caller has the user id on the cancel command.
    """

    order_id: str
    reason: str


class LevelChanged(NamedTuple):
    """A price level's new total quantity after an operation (0 = the level is gone).

    At most one per level per operation, emitted at the end of the operation; becomes a
    market-data BookDelta.
    """

    side: int
    price: int
    quantity: int


Event = Accepted | Fill | Cancelled | Rejected | CancelRejected | LevelChanged


class RestingOrder(NamedTuple):
    """A resting order as returned by `OrderBook.order` (``quantity`` is the leaves)."""

    order_id: str
    user_id: str
    side: int
    price: int
    quantity: int
    original_quantity: int


# What `OrderBook.events` holds: (kind, *fields of the event of that kind).
Record = tuple[Any, ...]
EVENT_TYPES: Final = (Accepted, Fill, Cancelled, Rejected, CancelRejected, LevelChanged)

# Builds a NamedTuple instance from a ready tuple without its Python-level __new__.
_new = tuple.__new__


def decode(record: Record) -> Event:
    """The event NamedTuple a record stands for."""
    event: Event = _new(EVENT_TYPES[record[0]], record[1:])
    return event


# A resting order: a dict holding only strs and ints, so that the cyclic collector never tracks
# it (see the module docstring). Keys: id, user, side, price, leaves, original.
Order = dict[str, Any]

# Key limit that every level passes: an unbounded market buy (ask keys are negated prices).
_UNBOUNDED: Final = -(1 << 63)

# Compact a level's deque when its tombstones outnumber its live orders by this many.
_COMPACT_SLACK: Final = 32


class _Level:
    """One price level: its orders in time priority, and the running total over the live ones."""

    __slots__ = ("dead", "orders", "total")

    def __init__(self) -> None:
        self.orders: deque[Order] = deque()  # may hold tombstones (cancelled: leaves 0)
        self.total = 0  # sum of the live orders' leaves; 0 = no live order
        self.dead = 0  # number of tombstones in `orders`


class OrderBook:
    """The resting orders of one symbol and the rules that match incoming orders against them.

    Not thread-safe; one book is driven by one thread, like the engine's partition consumer.
    """

    __slots__ = (
        "_ask_keys",
        "_asks",
        "_bid_keys",
        "_bids",
        "_orders",
        "events",
        "symbol",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        # Records of the operations so far; the caller drains it (clear it in place, the book
        # holds on to this list object).
        self.events: list[Record] = []
        self._orders: dict[str, Order] = {}  # order id -> resting order
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []  # bid prices ascending: best bid last
        self._ask_keys: list[int] = []  # negated ask prices ascending: best ask last

    # --- commands ------------------------------------------------------------------------------
    def place(
        self,
        order_id: str,
        user_id: str,
        side: int,
        order_type: int,
        tif: int,
        quantity: int,
        price: int,
    ) -> None:
        """Matches an incoming order, then rests (GTC limit) or cancels what is left of it."""
        orders = self._orders
        if not (
            (side == BUY or side == SELL)
            and (order_type == LIMIT or order_type == MARKET)
            and (tif == GTC or tif == IOC or tif == FOK)
            and quantity > 0
            and (price > 0 or (price == 0 and order_type == MARKET))
            and order_id not in orders
        ):
            self._reject(order_id, user_id, side, order_type, tif, quantity, price)
            return
        events = self.events
        events.append((ACCEPTED, order_id, user_id, side, order_type, tif, quantity, price))

        # The maker side in "key" space, where its best level is the largest key and a level
        # is acceptable to this order when its key >= key_limit.
        if side == BUY:
            maker_keys = self._ask_keys
            key_limit = -price if price else _UNBOUNDED
            own_levels = self._bids
        else:
            maker_keys = self._bid_keys
            key_limit = price  # 0 for an unbounded market sell: every bid passes
            own_levels = self._asks

        if not maker_keys or maker_keys[-1] < key_limit:
            # Nothing to match. Mostly a limit order that rests: the hot path, so inlined.
            if order_type == LIMIT and tif == GTC:
                level = own_levels.get(price)
                if level is None:
                    level = self._add_level(side, price)
                order = {
                    "id": order_id,
                    "user": user_id,
                    "side": side,
                    "price": price,
                    "leaves": quantity,
                    "original": quantity,
                }
                level.orders.append(order)
                total = level.total = level.total + quantity
                orders[order_id] = order
                events.append((LEVEL_CHANGED, side, price, total))
                return
            if tif == FOK:
                reason = REASON_FOK_UNFILLABLE
            elif order_type == MARKET:
                reason = REASON_MARKET_REMAINDER
            else:
                reason = REASON_IOC_REMAINDER
            events.append((CANCELLED, order_id, user_id, side, price, quantity, 0, reason))
            return

        if side == BUY:
            maker_levels = self._asks
            maker_side = SELL
            sign = -1  # ask keys are negated prices
        else:
            maker_levels = self._bids
            maker_side = BUY
            sign = 1
        if tif == FOK and not _fok_fillable(
            maker_keys, maker_levels, sign, key_limit, user_id, quantity
        ):
            events.append(
                (CANCELLED, order_id, user_id, side, price, quantity, 0, REASON_FOK_UNFILLABLE)
            )
            return

        # Match: best level first, oldest order first, each trade at the maker's price.
        # LevelChanged records wait in level_events: they go out after fills and cancel.
        remaining = quantity
        level_events = []
        self_trade = False
        while maker_keys:
            key = maker_keys[-1]
            if key < key_limit:
                break
            maker_price = key * sign
            level = maker_levels[maker_price]
            queue = level.orders
            total = start_total = level.total
            while True:  # the level has a live order, maybe behind tombstones
                maker = queue[0]
                leaves = maker["leaves"]
                if not leaves:
                    queue.popleft()  # cancelled earlier
                    level.dead -= 1
                    continue
                if maker["user"] == user_id:
                    self_trade = True  # cancel newest: the maker stays, the taker stops
                    break
                maker_id = maker["id"]
                if leaves <= remaining:  # the maker is done
                    remaining -= leaves
                    total -= leaves
                    queue.popleft()
                    del orders[maker_id]
                    events.append(
                        (
                            FILL,
                            maker_id,
                            maker["user"],
                            order_id,
                            user_id,
                            maker_price,
                            leaves,
                            0,
                            remaining,
                            side,
                            maker["original"],
                            quantity - remaining,
                        )
                    )
                    if not (total and remaining):
                        break
                else:  # the taker is done; the maker stays at the front with less
                    leaves -= remaining
                    total -= remaining
                    original = maker["original"]
                    maker["leaves"] = leaves
                    events.append(
                        (
                            FILL,
                            maker_id,
                            maker["user"],
                            order_id,
                            user_id,
                            maker_price,
                            remaining,
                            leaves,
                            0,
                            side,
                            original - leaves,
                            quantity,
                        )
                    )
                    remaining = 0
                    break
            if total != start_total:
                level_events.append((LEVEL_CHANGED, maker_side, maker_price, total))
            if total:
                level.total = total
            else:  # only tombstones left, if anything
                maker_keys.pop()
                del maker_levels[maker_price]
            if self_trade or not remaining:
                break

        if remaining:
            if self_trade:
                reason = REASON_SELF_TRADE_PREVENTED
            elif order_type == MARKET:
                reason = REASON_MARKET_REMAINDER
            elif tif == GTC:
                events.extend(level_events)
                self._rest(order_id, user_id, side, price, remaining, quantity)
                return
            else:  # IOC (a FOK that got here was fillable, so it has nothing left)
                reason = REASON_IOC_REMAINDER
            events.append(
                (CANCELLED, order_id, user_id, side, price, remaining, quantity - remaining, reason)
            )
        events.extend(level_events)

    def cancel(self, order_id: str) -> None:
        """Removes a resting order; an unknown (or already finished) id gets CancelRejected."""
        events = self.events
        order = self._orders.pop(order_id, None)
        if order is None:
            events.append((CANCEL_REJECTED, order_id, REASON_UNKNOWN_ORDER))
            return
        user_id = order["user"]
        side = order["side"]
        price = order["price"]
        leaves = order["leaves"]
        original = order["original"]
        order["leaves"] = 0  # it stays in its level's deque as a tombstone
        events.append(
            (
                CANCELLED,
                order_id,
                user_id,
                side,
                price,
                leaves,
                original - leaves,
                REASON_USER_REQUESTED,
            )
        )
        levels = self._bids if side == BUY else self._asks
        level = levels[price]
        total = level.total - leaves
        if total:
            level.total = total
            dead = level.dead + 1
            queue = level.orders
            if (dead << 1) > len(queue) + _COMPACT_SLACK:
                # Mostly tombstones: rebuild, so that a long-lived level cannot grow forever.
                level.orders = deque([o for o in queue if o["leaves"]])
                dead = 0
            level.dead = dead
        else:
            del levels[price]
            if side == BUY:
                keys = self._bid_keys
                key = price
            else:
                keys = self._ask_keys
                key = -price
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        events.append((LEVEL_CHANGED, side, price, total))

    # --- reads ---------------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        """Highest bid price, or None when there are no bids."""
        keys = self._bid_keys
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        """Lowest ask price, or None when there are no asks."""
        keys = self._ask_keys
        return -keys[-1] if keys else None

    def depth(self, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """The best `levels` levels of each side, best first, as (price, quantity, orders)."""
        if levels <= 0:
            return [], []
        bids = self._bids
        asks = self._asks
        bid_depth = []
        for price in reversed(self._bid_keys[-levels:]):
            level = bids[price]
            bid_depth.append((price, level.total, len(level.orders) - level.dead))
        ask_depth = []
        for key in reversed(self._ask_keys[-levels:]):
            level = asks[-key]
            ask_depth.append((-key, level.total, len(level.orders) - level.dead))
        return bid_depth, ask_depth

    def order(self, order_id: str) -> RestingOrder | None:
        """The resting order with this id, or None if it is not on the book."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        user_id = order["user"]
        side = order["side"]
        price = order["price"]
        leaves = order["leaves"]
        original = order["original"]
        return RestingOrder(order_id, user_id, side, price, leaves, original)

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    # --- snapshots -----------------------------------------------------------------------------
    def to_snapshot(self) -> dict[str, Any]:
        """The resting book as plain JSON-serialisable data, time priority included.

        Shape: ``{"format": 1, "symbol": str, "bids": [[price, [[order_id, user_id, leaves,
        original], ...]], ...], "asks": [...]}`` with levels best first and the orders of a
        level in time priority.
        """
        return {
            "format": SNAPSHOT_FORMAT,
            "symbol": self.symbol,
            "bids": [self._level_snapshot(p, self._bids[p]) for p in reversed(self._bid_keys)],
            "asks": [self._level_snapshot(-k, self._asks[-k]) for k in reversed(self._ask_keys)],
        }

    @classmethod
    def from_snapshot(cls, symbol: str, data: dict[str, Any]) -> "OrderBook":
        """Rebuilds a book from `to_snapshot` output; raises ValueError on inconsistent data."""
        if data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported snapshot format {data.get('format')!r}")
        book = cls(symbol)
        for side, name in ((BUY, "bids"), (SELL, "asks")):
            levels = book._bids if side == BUY else book._asks
            keys = book._bid_keys if side == BUY else book._ask_keys
            for price, entries in data[name]:
                if type(price) is not int or price <= 0 or price in levels or not entries:
                    raise ValueError(f"bad {name} level {price!r}")
                level = _Level()
                for order_id, user_id, leaves, original in entries:
                    if not (isinstance(order_id, str) and isinstance(user_id, str)):
                        raise ValueError(f"bad ids on order {order_id!r}")
                    if type(leaves) is not int or type(original) is not int:
                        raise ValueError(f"bad quantities on order {order_id!r}")
                    if not 0 < leaves <= original:
                        raise ValueError(f"bad quantities on order {order_id!r}")
                    if order_id in book._orders:
                        raise ValueError(f"duplicate order id {order_id!r}")
                    order = {
                        "id": order_id,
                        "user": user_id,
                        "side": side,
                        "price": price,
                        "leaves": leaves,
                        "original": original,
                    }
                    level.orders.append(order)
                    level.total += leaves
                    book._orders[order_id] = order
                levels[price] = level
                keys.append(price if side == BUY else -price)
            # Snapshots list levels best first; the keys want best last, strictly increasing.
            keys.reverse()
            if any(a >= b for a, b in pairwise(keys)):
                raise ValueError(f"{name} levels out of order")
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise ValueError("crossed book in snapshot")
        return book

    def _level_snapshot(self, price: int, level: _Level) -> list[Any]:
        live = [o for o in level.orders if o["leaves"]]
        return [price, [[o["id"], o["user"], o["leaves"], o["original"]] for o in live]]

    # --- checks --------------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raises AssertionError if the book's structure is inconsistent (tests, debugging)."""
        seen: set[str] = set()
        for side, levels, keys, sign in (
            (BUY, self._bids, self._bid_keys, 1),
            (SELL, self._asks, self._ask_keys, -1),
        ):
            assert keys == sorted(set(keys)), "keys not strictly ascending"
            assert sorted(k * sign for k in keys) == sorted(levels), "keys do not match levels"
            for price, level in levels.items():
                live = [o for o in level.orders if o["leaves"]]
                assert all(self._orders[o["id"]] is o for o in live), f"index at {side}/{price}"
                assert live, f"empty level {side}/{price}"
                assert level.dead == len(level.orders) - len(live), f"dead count {side}/{price}"
                assert level.total == sum(o["leaves"] for o in live), (
                    f"total mismatch {side}/{price}"
                )
                for o in live:
                    assert o["side"] == side and o["price"] == price, f"misplaced order {o['id']}"
                    assert 0 < o["leaves"] <= o["original"], f"bad quantities on {o['id']}"
                    assert o["id"] not in seen, f"order {o['id']} twice"
                    seen.add(o["id"])
        assert seen == set(self._orders), "index holds orders that are not on a level"
        bid, ask = self.best_bid(), self.best_ask()
        assert bid is None or ask is None or bid < ask, f"crossed book {bid} >= {ask}"

    # --- internals -----------------------------------------------------------------------------
    def _rest(
        self, order_id: str, user_id: str, side: int, price: int, leaves: int, original: int
    ) -> None:
        """Puts an order at the back of its level and emits that level's LevelChanged."""
        order = {
            "id": order_id,
            "user": user_id,
            "side": side,
            "price": price,
            "leaves": leaves,
            "original": original,
        }
        level = (self._bids if side == BUY else self._asks).get(price)
        if level is None:
            level = self._add_level(side, price)
        level.orders.append(order)
        total = level.total = level.total + leaves
        self._orders[order_id] = order
        self.events.append((LEVEL_CHANGED, side, price, total))

    def _add_level(self, side: int, price: int) -> _Level:
        """Creates an empty level and files its price among the side's keys."""
        level = _Level()
        if side == BUY:
            self._bids[price] = level
            keys = self._bid_keys
            key = price
        else:
            self._asks[price] = level
            keys = self._ask_keys
            key = -price
        if not keys or keys[-1] < key:
            keys.append(key)  # a new best level: no search needed
        else:
            insort(keys, key)
        return level

    def _reject(
        self,
        order_id: str,
        user_id: str,
        side: int,
        order_type: int,
        tif: int,
        quantity: int,
        price: int,
    ) -> None:
        """Emits the Rejected record for a `place` that failed validation (first failure wins)."""
        if (
            side not in (BUY, SELL)
            or order_type not in (LIMIT, MARKET)
            or tif not in (GTC, IOC, FOK)
        ):
            reason = REASON_INVALID_ORDER
        elif quantity <= 0:
            reason = REASON_INVALID_QUANTITY
        elif price < 0 or (price == 0 and order_type == LIMIT):
            reason = REASON_INVALID_PRICE
        else:
            reason = REASON_DUPLICATE_ORDER_ID
        self.events.append((REJECTED, order_id, user_id, side, quantity, price, reason))


def _fok_fillable(
    maker_keys: list[int],
    maker_levels: dict[int, _Level],
    sign: int,
    key_limit: int,
    user_id: str,
    quantity: int,
) -> bool:
    """Whether matching would fill `quantity` completely: within the price limit and before
    reaching one of the user's own orders (where self-trade prevention would stop it)."""
    needed = quantity
    for key in reversed(maker_keys):
        if key < key_limit:
            return False
        for maker in maker_levels[key * sign].orders:
            if maker["leaves"]:  # not a tombstone
                if maker["user"] == user_id:
                    return False
                needed -= maker["leaves"]
                if needed <= 0:
                    return True
    return False
