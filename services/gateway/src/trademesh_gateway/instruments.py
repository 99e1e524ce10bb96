"""Instrument trading rules (tick sizes) from order entry, cached for a short time.

Book and trade prices arrive from matching in ticks; converting them needs the
instrument's tick size, which order entry owns. The list is small and changes
rarely, so one `ListInstruments` call serves every request for a few seconds.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from trademesh.order.v1 import order_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.proto_mapping import UpstreamContractError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    symbol: str
    tick_size: Decimal


InstrumentLoader = Callable[[], Awaitable[Mapping[str, InstrumentRules]]]


def parse_tick_size(text: str) -> Decimal:
    try:
        tick_size = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"tick size is not a decimal: {text!r}") from None
    if not tick_size.is_finite() or tick_size <= 0:
        raise ValueError(f"tick size must be a positive number: {text!r}")
    return tick_size


class InstrumentCache:
    def __init__(
        self,
        load: InstrumentLoader,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._rules: Mapping[str, InstrumentRules] = {}
        self._loaded_at: float | None = None
        self._refresh: asyncio.Task[None] | None = None

    def _fresh(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at < self._ttl

    async def get(self, symbol: str) -> InstrumentRules | None:
        """The symbol's rules, or None for a symbol order entry does not list.

        A miss does not force a reload: unknown symbols sent from the internet must
        not turn into one upstream call each.
        """
        if not self._fresh():
            await self._refreshed()
        return self._rules.get(symbol)

    async def _refreshed(self) -> None:
        # Single flight: every request arriving while a reload runs waits for that one
        # reload, so an expiry under load (or an outage) costs one upstream call at a time.
        if self._refresh is None:
            self._refresh = asyncio.create_task(self._reload())
            self._refresh.add_done_callback(self._forget_refresh)
        # Shielded: a caller that goes away must not cancel the reload others wait for.
        await asyncio.shield(self._refresh)

    def _forget_refresh(self, task: asyncio.Task[None]) -> None:
        self._refresh = None
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not logged as lost

    async def _reload(self) -> None:
        try:
            rules = await self._load()
        except Exception:
            if self._loaded_at is None:
                raise
            # Tick sizes almost never change: stale rules beat failing every book request
            # while order entry is down. The next request tries again.
            log.warning("instrument refresh failed; serving cached rules", exc_info=True)
            return
        self._rules = rules
        self._loaded_at = self._clock()


def order_service_loader(backends: Backends) -> InstrumentLoader:
    """Loads every instrument's rules with one `ListInstruments` call to order entry."""

    async def load() -> Mapping[str, InstrumentRules]:
        reply = await backends.order.ListInstruments(
            order_pb2.ListInstrumentsRequest(), timeout=backends.call_timeout
        )
        rules = {}
        for instrument in reply.instruments:
            try:
                tick_size = parse_tick_size(instrument.tick_size)
            except ValueError as error:
                raise UpstreamContractError(f"{instrument.symbol}: {error}") from None
            rules[instrument.symbol] = InstrumentRules(instrument.symbol, tick_size)
        return rules

    return load
