"""Small helpers for background loops that must stop when they are cancelled."""

from __future__ import annotations

import asyncio
import contextlib


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed.

    On Python 3.11, ``asyncio.wait_for`` (used inside nats-py too) can lose a cancel that
    arrives just as its inner wait completes; the task then keeps a pending cancel request
    but runs on. Loops call this at the top of each round so they stop all the same.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def wait_for_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` passes; True if it was set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    raise_if_cancelled()
    return event.is_set()
