"""Quote reads served from the live market-data feed the gateway already follows.

The market service publishes every quote it materializes on `live.quotes.<SYMBOL>`, in
the same Redis pipeline that stores it: each message *is* what `GetQuote` answers from
that moment on. So each gateway process keeps the last quote per symbol it saw on the
feed (or got from `GetQuote`) and answers reads from it, as the public JSON body (encoded
once, on the first read of each update), instead of a gRPC call per read.

What keeps a cached quote correct:

- Age: an entry is served only while younger than `max_age_seconds`. A feed entry's age
  counts from when the gateway received it; a fetched entry's from when the call was sent
  (market read its copy after that). Symbols that stop trading stop publishing, so their
  entries simply age out and the next read asks market again.
- Ordering: a fetch that was in flight when the feed brought a newer quote for the symbol
  answers its callers but is not stored (its answer may predate the feed's).
- Feed gaps: entries are only taken and kept while the pattern subscription is in place;
  when it drops (Redis restart), everything cached is forgotten -- updates in the gap are
  lost -- and reads go to market until it is back.
- The day change: market keys its quote by UTC day (volume and previous close change at
  midnight without a trade). An entry is served only on the UTC day it was taken, and
  nothing is cached or served within `DAY_EDGE_SECONDS` of midnight, so that clocks a
  little apart between gateway and market cannot serve yesterday's quote today.

Bounds: at most `max_symbols` entries (feed symbols beyond that are not cached; expired
entries are purged first), and concurrent misses for one symbol share one gRPC call.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from trademesh.market.v1 import market_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.market_mapping import quote_from_proto
from trademesh_gateway.metrics import QUOTE_CACHE_READS

DAY_SECONDS = 86_400
# Half-width of the window around UTC midnight in which the cache is bypassed.
DAY_EDGE_SECONDS = 5.0
DEFAULT_MAX_SYMBOLS = 10_000

QuoteFetch = Callable[[str], Awaitable[market_pb2.Quote]]

# Bound once: looking a label up costs more than counting.
_HIT = QUOTE_CACHE_READS.labels("hit")
_MISS = QUOTE_CACHE_READS.labels("miss")
_SHARED = QUOTE_CACHE_READS.labels("shared")

# The feed's quote object (market's `Quote.as_json`): field -> JSON type(s).
_TEXT_FIELDS = ("last", "bid", "ask", "change", "change_percent")
_INT_FIELDS = ("bid_size", "ask_size", "volume", "last_trade_at_us")


def market_quote_fetch(backends: Backends) -> QuoteFetch:
    """`GetQuote` on the market service (its channel opens with the app's lifespan)."""

    async def fetch(symbol: str) -> market_pb2.Quote:
        reply: market_pb2.Quote = await backends.market.GetQuote(
            market_pb2.GetQuoteRequest(symbol=symbol), timeout=backends.call_timeout
        )
        return reply

    return fetch


def render_quote(reply: market_pb2.Quote) -> bytes:
    """The public JSON body for one `GetQuote` answer (the route's single mapping)."""
    return quote_from_proto(reply).model_dump_json().encode()


def quote_from_feed(symbol: str, payload: bytes | str) -> market_pb2.Quote | None:
    """The `GetQuote` answer equal to one feed message; None if it is not a well-formed
    quote for `symbol`. Market writes null where gRPC says "" (`_text` in its service)."""
    try:
        data: Any = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("symbol") != symbol:
        return None
    previous_close = data.get("previous_close")
    if not isinstance(previous_close, str):
        return None
    values: dict[str, Any] = {"symbol": symbol, "previous_close": previous_close}
    for name in _TEXT_FIELDS:
        value = data.get(name, False)
        if value is not None and not isinstance(value, str):
            return None
        values[name] = value or ""
    for name in _INT_FIELDS:
        value = data.get(name)
        if type(value) is not int or value < 0:
            return None
        values[name] = value
    return market_pb2.Quote(**values)


@dataclass(slots=True)
class _Entry:
    taken_at: float  # monotonic seconds
    day: int
    body: bytes | None = None
    # A feed entry is rendered on its first read: most feed updates are never read.
    reply: market_pb2.Quote | None = None

    def rendered(self) -> bytes:
        if self.body is None:
            assert self.reply is not None
            self.body, self.reply = render_quote(self.reply), None
        return self.body


@dataclass(slots=True, eq=False)
class _Flight:
    started: float
    generation: int
    day: int
    superseded: bool = False
    task: "asyncio.Task[bytes] | None" = None


class LiveQuoteCache:
    def __init__(
        self,
        fetch: QuoteFetch,
        max_age_seconds: float,
        max_symbols: int = DEFAULT_MAX_SYMBOLS,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age_seconds
        self._max_symbols = max_symbols
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._entries: dict[str, _Entry] = {}
        self._flights: dict[str, _Flight] = {}
        self._feed_live = False
        # Bumped whenever the feed connects or drops: a fetch spanning either is not stored.
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self._max_age > 0

    def __len__(self) -> int:
        return len(self._entries)

    def _day(self) -> int | None:
        """Today's UTC day number, or None near midnight (where the cache stands aside)."""
        now = self._wall_clock()
        day, into = divmod(now, DAY_SECONDS)
        if into < DAY_EDGE_SECONDS or DAY_SECONDS - into < DAY_EDGE_SECONDS:
            return None
        return int(day)

    # The feed side (called by the live relay).

    def feed_connected(self) -> None:
        self._generation += 1
        self._feed_live = True

    def feed_lost(self) -> None:
        self._generation += 1
        self._feed_live = False
        self._entries.clear()

    def observe(self, symbol: str, payload: bytes | str) -> None:
        """One message from `live.quotes.<symbol>`."""
        flight = self._flights.get(symbol)
        if flight is not None:
            flight.superseded = True
        if not self.enabled:
            return
        reply = quote_from_feed(symbol, payload)
        day = self._day()
        if reply is None or day is None or not self._feed_live:
            # Whatever was cached may now be behind the feed: forget it.
            self._entries.pop(symbol, None)
            return
        self._store(symbol, _Entry(self._monotonic(), day, reply=reply))

    def _store(self, symbol: str, entry: _Entry) -> None:
        entries = self._entries
        current = entries.get(symbol)
        if current is not None and current.taken_at > entry.taken_at:
            return  # a slow fetch never replaces what the feed (or a later fetch) brought
        if current is None and len(entries) >= self._max_symbols:
            oldest_allowed = self._monotonic() - self._max_age
            for stale in [s for s, e in entries.items() if e.taken_at <= oldest_allowed]:
                del entries[stale]
            if len(entries) >= self._max_symbols:
                return
        entries[symbol] = entry

    # The read side (called by the quote route).

    async def get(self, symbol: str) -> bytes:
        """The public JSON body of `symbol`'s quote: cached if fresh, else from market.
        gRPC errors propagate (the error handlers map them)."""
        if not self.enabled:
            _MISS.inc()
            return render_quote(await self._fetch(symbol))
        day = self._day()
        now = self._monotonic()
        entry = self._entries.get(symbol)
        # `day` is None near midnight: then no entry matches.
        if entry is not None and entry.day == day and now - entry.taken_at < self._max_age:
            _HIT.inc()
            return entry.rendered()
        flight = self._flights.get(symbol)
        if flight is None or now - flight.started >= self._max_age:
            _MISS.inc()
            if flight is None and len(self._flights) >= self._max_symbols:
                return render_quote(await self._fetch(symbol))
            flight = self._start(symbol, now, day)
        else:
            _SHARED.inc()
        # Shielded: one caller giving up must not cancel the call the others wait on.
        assert flight.task is not None
        return await asyncio.shield(flight.task)

    def _start(self, symbol: str, started: float, day: int | None) -> _Flight:
        flight = _Flight(started, self._generation, -1 if day is None else day)
        flight.task = asyncio.ensure_future(self._fetch_and_store(symbol, flight))
        # Nobody may be left to await a failed call (every caller gave up): retrieve it.
        flight.task.add_done_callback(_retrieve)
        self._flights[symbol] = flight
        return flight

    async def _fetch_and_store(self, symbol: str, flight: _Flight) -> bytes:
        try:
            body = render_quote(await self._fetch(symbol))
        finally:
            if self._flights.get(symbol) is flight:
                del self._flights[symbol]
        if (
            self._feed_live
            and not flight.superseded
            and flight.generation == self._generation
            and flight.day == self._day()
        ):
            self._store(symbol, _Entry(flight.started, flight.day, body=body))
        return body


def _retrieve(task: "asyncio.Task[bytes]") -> None:
    if not task.cancelled():
        task.exception()
