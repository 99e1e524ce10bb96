"""Retrying a consumer's step until it succeeds or the service stops.

A consumer that skipped a batch because PostgreSQL, Redis or Kafka was away would lose
records; one that crashed would replay them on restart anyway. Retrying the same batch
in memory is what re-consuming it would do, without a seek.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 5.0

_Input = TypeVar("_Input")
_Result = TypeVar("_Result")


async def until_done(
    what: str,
    action: Callable[[_Input], Awaitable[_Result]],
    argument: _Input,
    *,
    stop: asyncio.Event,
) -> _Result | None:
    """Runs `action(argument)` until it succeeds, backing off between tries; None if
    `stop` comes first (nothing is committed then, and the next owner replays)."""
    delay = FIRST_DELAY_SECONDS
    while not stop.is_set():
        try:
            return await action(argument)
        except Exception:  # a dependency is away: wait for it rather than skip records
            log.exception(f"could not {what}, retrying", extra={"retry_in_seconds": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, MAX_DELAY_SECONDS)
    return None
