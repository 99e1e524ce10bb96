"""A consumer's step is retried until it succeeds, and given up only when stopping."""

import asyncio

import pytest

from trademesh_common import retry
from trademesh_common.retry import until_done


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(retry, "FIRST_DELAY_SECONDS", 0.001)


async def test_a_failing_step_is_retried_until_it_succeeds():
    attempts: list[int] = []

    async def flaky(batch: int) -> int:
        attempts.append(batch)
        if len(attempts) < 3:
            raise ConnectionError("database away")
        return batch * 2

    assert await until_done("apply", flaky, 21, stop=asyncio.Event()) == 42
    assert attempts == [21, 21, 21]


async def test_stopping_gives_up_without_a_result():
    stop = asyncio.Event()

    async def never(batch: int) -> int:
        stop.set()  # the service is told to stop while the dependency is still away
        raise ConnectionError("broker away")

    assert await until_done("apply", never, 1, stop=stop) is None
