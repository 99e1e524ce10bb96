"""A loop that dies asks the process to stop; loops that end on stop do not."""

import asyncio

from trademesh_common.background import BackgroundTasks


async def test_a_loop_that_fails_asks_the_process_to_stop():
    fatal = asyncio.Event()
    background = BackgroundTasks(on_fatal=fatal.set)

    async def broken() -> None:
        raise RuntimeError("consumer lost its broker")

    background.spawn("broken", broken())
    await asyncio.wait_for(fatal.wait(), timeout=5)
    await background.stop()


async def test_a_loop_that_returns_early_asks_the_process_to_stop_too():
    fatal = asyncio.Event()
    background = BackgroundTasks(on_fatal=fatal.set)

    async def quits(stopping: asyncio.Event) -> None:
        return

    background.spawn("quits", quits(background.stopping))
    await asyncio.wait_for(fatal.wait(), timeout=5)
    await background.stop()


async def test_stop_lets_each_loop_finish_its_work_and_is_not_fatal():
    calls: list[str] = []
    background = BackgroundTasks(on_fatal=lambda: calls.append("fatal"))

    async def consumer(stopping: asyncio.Event) -> None:
        await stopping.wait()
        await asyncio.sleep(0.01)  # the batch in hand
        calls.append("committed")

    background.spawn("consumer", consumer(background.stopping))
    background.spawn("relay", consumer(background.stopping))
    await asyncio.sleep(0)
    await background.stop()

    assert calls == ["committed", "committed"]
