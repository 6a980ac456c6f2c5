"""skilllink.sockets.SendWatchdog: one timer per loop ends sends that hang."""

import asyncio

import pytest

from skilllink.sockets import SendWatchdog


async def _send(watchdog: SendWatchdog, hang: asyncio.Event, timeout: float) -> str:
    task = asyncio.current_task()
    watchdog.enter(task, timeout)
    try:
        await hang.wait()
    except asyncio.CancelledError:
        if not watchdog.leave(task):
            raise
        return "expired"
    finally:
        watchdog.forget(task)
    return "sent"


async def test_a_send_that_hangs_expires_and_one_that_finishes_does_not():
    watchdog = SendWatchdog()
    never, soon = asyncio.Event(), asyncio.Event()
    hanging = asyncio.create_task(_send(watchdog, never, 0.2))
    quick = asyncio.create_task(_send(watchdog, soon, 0.2))
    while len(watchdog.pending) < 2:  # both sends are under watch
        await asyncio.sleep(0)
    soon.set()
    assert await quick == "sent"
    assert await hanging == "expired"
    assert not watchdog.pending and not watchdog.expired
    # The expired task's cancellation was taken back: it is not left cancelling.
    assert hanging.cancelling() == 0


async def test_a_cancellation_that_is_not_the_watchdogs_goes_through():
    watchdog = SendWatchdog()
    task = asyncio.create_task(_send(watchdog, asyncio.Event(), 10))
    while not watchdog.pending:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not watchdog.pending
