"""Hog work of function steps runs on the event loop when brief, in a thread when not (`briefly_inline`)."""

import asyncio
import threading

import pytest

from app.engine.functions.inputs import INLINE_SECONDS, briefly_inline
from app.hog import HogTimeoutError, Limits, continue_paused, execute, resume_paused
from app.hog.budget import bounded
from app.hog.compiler import compile_program

LOOP = compile_program("let i := 0; while (i < 300000) { i := i + 1 } return i")
SHORT = compile_program("return 1 + 2")


async def test_brief_work_stays_on_the_loop() -> None:
    loop_thread = threading.get_ident()
    ran_on: list[int] = []

    def work() -> object:
        ran_on.append(threading.get_ident())
        return execute(SHORT, {}, limits=bounded(Limits(timeout_s=5))).result

    assert await briefly_inline(work) == 3
    assert ran_on == [loop_thread]


async def test_long_work_is_undone_and_finishes_in_a_thread_under_its_full_limits() -> None:
    loop_thread = threading.get_ident()
    ran_on: list[int] = []
    undone: list[bool] = []

    def work() -> object:
        ran_on.append(threading.get_ident())
        return execute(LOOP, {}, limits=bounded(Limits(timeout_s=30, max_ops=None))).result

    assert await briefly_inline(work, lambda: undone.append(True)) == 300000
    assert ran_on[0] == loop_thread and ran_on[1] != loop_thread and len(ran_on) == 2
    assert undone == [True]
    assert INLINE_SECONDS < 0.01


async def test_a_real_timeout_still_fails() -> None:
    def work() -> object:
        return execute(LOOP, {}, limits=bounded(Limits(timeout_s=0.02, max_ops=None))).result

    with pytest.raises(HogTimeoutError):
        await briefly_inline(work)


async def test_a_long_live_resume_yields_on_the_loop_and_finishes_in_a_thread() -> None:
    """A VM kept in memory cannot be run again from its pause: it stops at a loop and a thread goes on."""
    after_fetch = compile_program("let r := fetch('u'); let i := 0; while (i < 300000) { i := i + 1 } return [r, i]")
    paused = execute(after_fetch, {}, keep_paused=True)
    assert paused.paused is not None
    yielded = resume_paused(paused.paused, "ok", limits=Limits(timeout_s=5), yield_after=INLINE_SECONDS)
    assert yielded.yielded and yielded.paused is not None and yielded.ops > paused.ops
    final = await asyncio.to_thread(continue_paused, yielded.paused)
    assert final.finished and final.result == ["ok", 300000]
