"""Resource limits and the memory cost model.

Cost model (PostHog's units, roughly bytes): every value costs 8, a string adds its length, a
container adds the cost of its items (dict: keys and values); a container reached twice counts 8
the second time, which also makes cycles finite.

Accounting strategy (cheap on the hot path, exact when it matters): the VM adds an *upper bound*
of what each allocating operation can add (a new string, array, dict, a JSON parse, a property
set...) to ``pending``. Only when ``live + pending`` could exceed the budget does it walk
everything reachable (stack, closures, closed upvalues, printed output) to measure the real live
size. Garbage is thus never charged, and a program that keeps allocating near the limit pays for
walks in time, which the time budget bounds.
"""

from __future__ import annotations

from collections.abc import Callable as PyCallable
from dataclasses import dataclass
from typing import Any

from app.hog.values import Closure

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_CALL_DEPTH = 1000
DEFAULT_MAX_OPS = 50_000_000
DEFAULT_MAX_ASYNC_STEPS = 100
MAX_FUNCTION_ARGS = 300


@dataclass(frozen=True)
class Limits:
    """Budgets for one program run; time, ops and async steps span pauses.

    ``timeout_s`` counts synchronous VM time only (not the time spent paused on async calls).
    ``max_ops`` bounds executed instructions; ``None`` disables that bound (time still applies).
    """

    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    max_call_depth: int = DEFAULT_MAX_CALL_DEPTH
    max_ops: int | None = DEFAULT_MAX_OPS
    max_async_steps: int = DEFAULT_MAX_ASYNC_STEPS
    # Largest ``len(text) x program size`` one RE2 search may take on (see hog/regex.py): one call
    # cannot be interrupted, and this keeps it well under a second.
    regex_work_budget: int = 100_000_000

    def with_timeout(self, timeout_s: float) -> Limits:
        # What `dataclasses.replace` gives at a tenth of its cost: it runs before every VM run of a step.
        cut = object.__new__(Limits)
        cut.__dict__.update(self.__dict__, timeout_s=timeout_s)
        return cut


def alloc_size(value: Any) -> int:
    """Upper bound of the memory a freshly built value adds, without walking shared children."""
    t = type(value)
    if t is str:
        return 8 + len(value)
    if t is list or t is tuple:
        size = 8 + 8 * len(value)
        for item in value:
            if type(item) is str:
                size += len(item)
        return size
    if t is dict:
        size = 8 + 16 * len(value)
        for key, item in value.items():
            if type(key) is str:
                size += len(key)
            if type(item) is str:
                size += len(item)
        return size
    return 8


_LEAVES = frozenset({int, float, bool, type(None)})
_TICK_EVERY = 65536


def deep_size(roots: list[Any], stop_at: int | None = None, tick: PyCallable[[], None] | None = None) -> int:
    """Cost of everything reachable from ``roots``.

    Iterative (no recursion limit), visits each container once, and stops early once past
    ``stop_at``. ``tick`` is called every few thousand items so a huge heap cannot make one
    measurement outlast the time budget.
    """
    seen: set[int] = set()
    total = 8 * len(roots)
    work = [value for value in roots if type(value) not in _LEAVES]
    steps = 0
    while work:
        value = work.pop()
        t = type(value)
        if t is str:
            total += len(value)
            continue
        if id(value) in seen or (t is not list and t is not tuple and t is not dict and t is not Closure):
            continue
        seen.add(id(value))
        if t is dict:
            total += 16 * len(value)
            work.extend([key for key in value if type(key) not in _LEAVES])
            children: Any = value.values()
        elif t is Closure:
            children = [up.value for up in value.upvalues if up.closed]
            total += 8 * len(children)
        else:
            total += 8 * len(value)
            children = value
        work.extend([child for child in children if type(child) not in _LEAVES])
        steps += len(value) if t is not Closure else 1
        if steps > _TICK_EVERY:
            steps = 0
            if stop_at is not None and total > stop_at:
                return total
            if tick is not None:
                tick()
    return total
