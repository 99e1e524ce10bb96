"""A service's long-running loops (consumers, relays) and how they end.

Each loop watches `stopping` to finish its batch and return. One that ends any other
way (an exception, or returning before stop) leaves the service half alive, so it is
logged and `on_fatal` asks the process to stop: the orchestrator restarts it whole.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self, on_fatal: Callable[[], None] | None = None) -> None:
        self.stopping = asyncio.Event()
        self._on_fatal = on_fatal
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._ended)
        self._tasks.append(task)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.stopping.is_set():
            return
        error = task.exception()
        log.error(
            "background task ended unexpectedly",
            extra={"task": task.get_name(), "error": repr(error)},
            exc_info=error,
        )
        if self._on_fatal is not None:
            self._on_fatal()

    async def stop(self) -> None:
        """Signals every loop to stop and waits for each to finish what it holds."""
        self.stopping.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
