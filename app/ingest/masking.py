"""Trigger masking (executor.md §3.3): a frequency cap / sampler keyed by a hash of each invocation.

The flow's `trigger_masking.bytecode` (compiled from a template such as `{person.id}`) runs with
`{event, person}`. A falsy result is never masked. Otherwise invocations with the same hash share a
counter (per flow) whose window starts at the first hit and lasts `ttl` seconds:

* no threshold: the first invocation in the window passes, the rest are masked;
* threshold N: the 1st, (N+1)th, (2N+1)th... invocations pass.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

from app.hog import Limits, execute, to_string
from app.hog.fastpath import FastPathUnavailable, fast_program

# Flows may mask for up to three years (hog functions: one day).
MAX_TTL_SECONDS = 3 * 365 * 24 * 60 * 60
# PostHog gives the hash program 50 ms.
HASH_LIMITS = Limits(timeout_s=0.05)
# `fast_mask_digest` could not answer: the hash program must run on the VM (`mask_digest`).
NEEDS_VM = object()


def masking_store_key(flow_id: str, digest: str) -> str:
    return f"@posthog/hog-masker/mask/{flow_id}/{digest}"


def masking_ttl(masking: Mapping[str, Any]) -> int:
    ttl = masking.get("ttl")
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl:
        return MAX_TTL_SECONDS
    return int(min(max(ttl, 1), MAX_TTL_SECONDS))


def masking_threshold(masking: Mapping[str, Any]) -> int | None:
    threshold = masking.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        return None
    return threshold


def mask_digest(masking: Mapping[str, Any], globals: Mapping[str, Any], limits: Limits = HASH_LIMITS) -> str | None:
    """md5 of the hash program's result; None when the result is falsy (never masked).

    Raises when the program fails; the caller masks such invocations (fail closed).
    """
    bytecode = masking.get("bytecode")
    if not bytecode:
        return None
    outcome = execute(bytecode, dict(globals), limits=limits)
    if not outcome.finished:
        raise RuntimeError("The masking hash may not call async functions")
    return _digest(outcome.result)


def fast_mask_digest(masking: Mapping[str, Any], globals: Mapping[str, Any]) -> str | object | None:
    """`mask_digest` on the fast path (`{person.id}` and the like take microseconds), or `NEEDS_VM`."""
    bytecode = masking.get("bytecode")
    if not bytecode:
        return None
    program = fast_program(bytecode)
    if program is None:
        return NEEDS_VM
    try:
        return _digest(program.run(globals, HASH_LIMITS))
    except FastPathUnavailable:
        return NEEDS_VM


def _digest(value: Any) -> str | None:
    if value is None or value is False or value == "" or value == 0:
        return None
    text = value if isinstance(value, str) else to_string(value)
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:32]


def passes(new_value: int, increment: int, threshold: int | None) -> int:
    """How many of the `increment` invocations that moved the counter to `new_value` may pass."""
    old_value = new_value - increment
    if threshold is None:
        return 1 if old_value == 0 else 0
    # Floor division on purpose: for old_value 0, (0 - 1) // N is -1, so the first hit always passes.
    return (new_value - 1) // threshold - (old_value - 1) // threshold
