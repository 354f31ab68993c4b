"""The Hog work of one capture request: the fast path on the event loop, the VM off it, under one budget.

1. Trigger filters, masking hashes and wait filters first try what answers without the VM (filter
   shortcuts and `app.hog.fastpath`, microseconds of straight-line code). That stays on the loop: it is
   the throughput path, and the pipeline hands control back every few milliseconds of it.
2. What needs the VM (loops, lambdas, a fast run that hands over) is collected and run in one call per
   phase on `CAPTURE_VM_THREADS` dedicated thread(s), so one tenant's slow filters never hold the loop.
3. All VM work of a request shares `CAPTURE_VM_BUDGET_SECONDS` of thread time (time queued for the
   thread does not count), each program still capped by its own limit; past the budget the rest fail
   as timeouts (`filtering_failed`, masked, not woken).

One thread, at a lower OS priority: the VM holds the GIL, so more threads would not run more Hog at
once, they would only take more of the GIL (and the cores) from the loop.
"""

import asyncio
import contextlib
import contextvars
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from app.filters import FilterResult, evaluate_filters
from app.hog import HogTimeoutError, Limits
from app.hog.budget import bounded, time_budget

T = TypeVar("T")

CAPTURE_VM_BUDGET_SECONDS = 0.5
CAPTURE_VM_THREADS = 1
VM_THREAD_NICENESS = 10
# Fast-path work between two hand-overs of the loop to other requests.
YIELD_EVERY_SECONDS = 0.005

# The thread holds the GIL while the VM runs; the loop, each time it comes back from I/O, waits for it up
# to Python's switch interval (5 ms by default), and a request does I/O dozens of times. The app sets
# this shorter interval (`app.main`) so a busy VM thread costs the loop little.
GIL_SWITCH_SECONDS = 0.0005

_executor: ThreadPoolExecutor | None = None


def _vm_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=CAPTURE_VM_THREADS, thread_name_prefix="capture-vm", initializer=_lower_priority
        )
    return _executor


def _lower_priority() -> None:
    """When the loop and the VM thread both want a core, the OS runs the loop first (Linux: per thread)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), VM_THREAD_NICENESS)


@dataclass
class VmBudget:
    """What is left of one request's VM time; `run` spends it."""

    seconds: float = CAPTURE_VM_BUDGET_SECONDS

    async def run(self, work: Callable[[], T]) -> T:
        def call() -> T:
            started = time.monotonic()
            try:
                with time_budget(max(self.seconds, 0.0)):
                    return work()
            finally:
                self.seconds -= time.monotonic() - started

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_vm_executor(), contextvars.copy_context().run, call)


def filter_on_vm(filters: Mapping[str, Any] | None, globals: Mapping[str, Any], limits: Limits) -> FilterResult:
    """`evaluate_filters` within what is left of the budget (call it inside `VmBudget.run`)."""
    try:
        limits = bounded(limits)
    except HogTimeoutError as error:
        return FilterResult(matched=False, error=str(error))
    return evaluate_filters(filters, globals, limits=limits)


class LoopYielder:
    """Hands the loop over to other tasks once `YIELD_EVERY_SECONDS` of work has passed."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    async def __call__(self) -> None:
        if time.perf_counter() - self._last > YIELD_EVERY_SECONDS:
            await asyncio.sleep(0)
            self._last = time.perf_counter()
