"""A total time budget for the Hog work of one request or one step, shared by every parse and VM run in it.

A budget is a deadline in a context variable: `with time_budget(2.0): ...` sets it (an enclosing,
earlier deadline wins), `remaining()` reads it, `bounded(limits)` shortens a VM's `Limits` to it. So
thirty input templates share one budget instead of getting one each, and the code in between needs
no parameter for it. `asyncio.to_thread` copies context variables, so a budget set around
`await offload(...)` holds in the thread too.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from app.hog.errors import HogTimeoutError
from app.hog.limits import Limits

P = ParamSpec("P")
T = TypeVar("T")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("hog_deadline", default=None)


class time_budget:
    """`with time_budget(seconds):` (a class: it costs less than a `@contextmanager` generator)."""

    __slots__ = ("seconds", "token")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        deadline = time.monotonic() + self.seconds
        current = _deadline.get()
        self.token = _deadline.set(deadline if current is None or deadline < current else current)

    def __exit__(self, *_: object) -> None:
        _deadline.reset(self.token)


def remaining() -> float | None:
    """Seconds left in the current budget (may be negative), or None outside any budget."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def bounded(limits: Limits) -> Limits:
    """`limits` with its time limit cut to what is left of the budget; raises when nothing is left."""
    left = remaining()
    if left is None or left >= limits.timeout_s:
        return limits
    if left <= 0:
        raise HogTimeoutError("Execution timed out: the time budget of this request was used up")
    return limits.with_timeout(left)


async def offload(seconds: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run CPU-bound `fn` in a thread under a budget of `seconds`, so the event loop keeps serving."""

    def call() -> T:
        with time_budget(seconds):
            return fn(*args, **kwargs)

    return await asyncio.to_thread(call)
