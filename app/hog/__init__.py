"""Hog: PostHog's small language for filters, templates and functions -- VM and standard library.

Public API (stable; other modules build on it)::

    execute(bytecode, globals=None, *, functions=None, async_functions=("fetch",), limits=None)
        -> ExecResult
    resume(state, value, *, globals=None, functions=None, async_functions=("fetch",), limits=None)
        -> ExecResult

* ``bytecode``: ``["_H", 1, ...]`` (or legacy ``["_h", ...]``), or the multi-chunk form
  ``{"bytecodes": {"root": {"bytecode": [...], "globals": {...}}, "<name>": {...}}}``.
* ``globals``: JSON-like data the program reads with ``GET_GLOBAL`` (``event``, ``person``...).
  Values are deep-copied on access, so programs never mutate host data.
* ``functions``: extra synchronous host functions ``name -> callable(*args)``. Arguments arrive
  as plain JSON values (``from_hog_value``), the return value goes through ``to_hog_value``.
  They take precedence over STL functions of the same name.
* ``async_functions``: names that pause the VM (default ``fetch``; add e.g. ``sendEmail``).
  Calling one returns ``ExecResult(finished=False, async_call=AsyncCall(name, args), state=...)``.
  The host performs the call and continues with ``resume(state, value)`` -- possibly much later
  and in another process: ``state`` is plain JSON (``json.loads(json.dumps(state)) == state``)
  and carries the bytecode and the globals, so ``resume`` needs nothing else. Passing
  ``globals`` to ``resume`` replaces the stored ones. ``functions`` (not serialisable) and
  ``limits`` must be passed again when needed. Time, op and async-step budgets span pauses;
  time spent paused does not count. A host answering the call in the same process may pass
  ``keep_paused=True`` and continue the live VM with ``resume_paused`` (``runtime.py``), encoding it
  only when it has to persist it.
* ``limits``: :class:`Limits` -- time (5 s), memory (64 MiB), call depth (1000), ops (50M),
  async steps (100). Breaking one raises a :class:`HogLimitError` subclass.

``ExecResult`` fields: ``finished``, ``result`` (a Hog value: use ``from_hog_value`` for plain
JSON), ``prints`` (lines printed in this run segment), ``async_call``, ``state``, ``ops`` and
``duration_ms`` (both cumulative across pauses).

Errors: :class:`HogVMError` for runtime errors (``str()`` is PostHog's message; ``.prints``
holds the output printed before the failure); :class:`UncaughtHogError` (a ``HogVMError``) for
a Hog error object thrown and never caught -- ``.type``, ``.message``, ``.payload``.

Semantic choices where PostHog's VMs differ (documented in the modules): ``jsonStringify`` is
compact like the production (TypeScript) VM; ``null < 3`` is true and ``null > 3`` false (the
``nulls`` fixture); integers leaving the 64-bit range become floats; ``x / 0`` is a runtime
error; regexes run on RE2 (linear time, RE2 syntax, as PostHog's VMs; ``regex.py``); ``sleep``
is refused unless the host lists it in ``async_functions``; memory follows PostHog's cost model
(``limits.py``), not Python's
real object sizes.

Values: Hog values are plain Python values except tuples (``tuple``), functions
(:class:`~app.hog.values.Closure`) and tagged dicts for dates, datetimes, intervals and errors.
``to_hog_value`` / ``from_hog_value`` convert at the host boundary.
"""

from app.hog.convert import from_hog_value, to_hog_value
from app.hog.errors import (
    HogLimitError,
    HogMemoryError,
    HogStackOverflowError,
    HogStepLimitError,
    HogTimeoutError,
    HogVMError,
    UncaughtHogError,
)
from app.hog.limits import Limits
from app.hog.printing import print_hog_value, to_string
from app.hog.runtime import AsyncCall, ExecResult, PausedVM, continue_paused, execute, resume, resume_paused

__all__ = [
    "AsyncCall",
    "ExecResult",
    "HogLimitError",
    "HogMemoryError",
    "HogStackOverflowError",
    "HogStepLimitError",
    "HogTimeoutError",
    "HogVMError",
    "Limits",
    "PausedVM",
    "UncaughtHogError",
    "continue_paused",
    "execute",
    "from_hog_value",
    "print_hog_value",
    "resume",
    "resume_paused",
    "to_hog_value",
    "to_string",
]
