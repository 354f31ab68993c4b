"""Waiting for something asynchronous to become true, without fixed sleeps."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_for(check: Callable[[], Awaitable[Any] | Any], within: float = 30.0, interval: float = 0.2) -> Any:
    """Poll a check (async, or a plain function of what the loop can see) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


def wait_until(check: Callable[[], Any], within: float = 60, interval: float = 0.2) -> Any:
    """Synchronous polling with a deadline, for checks against other processes."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        time.sleep(interval)
