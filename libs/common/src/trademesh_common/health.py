"""Liveness and readiness.

`/healthz` answers while the process's event loop runs; `/readyz` runs every
registered check, so a pod takes traffic only once its dependencies answer.
The gRPC health service mirrors readiness for gRPC-native probes.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

ReadinessCheck = Callable[[], Awaitable[bool]]

log = logging.getLogger(__name__)


class Health:
    def __init__(self) -> None:
        self._checks: dict[str, ReadinessCheck] = {}

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def readiness(self, timeout: float = 2.0) -> dict[str, bool]:
        async def run(name: str, check: ReadinessCheck) -> tuple[str, bool]:
            try:
                return name, bool(await asyncio.wait_for(check(), timeout))
            except Exception as exc:  # a failing dependency is "not ready", never a crash
                log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
                return name, False

        results = await asyncio.gather(*(run(n, c) for n, c in self._checks.items()))
        return dict(results)
