"""Limits a hostile program cannot escape: time, steps, call depth, memory, regex, nesting."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from app.hog import (
    HogMemoryError,
    HogStackOverflowError,
    HogStepLimitError,
    HogTimeoutError,
    HogVMError,
    Limits,
    execute,
    resume,
)
from app.hog.assembler import Jump, Label, function
from app.hog.opcodes import Op

from .vm_helpers import call, program, push, run

FOREVER = [Label("top"), Jump(Op.JUMP, "top")]


def loop_forever(*body: Any) -> list[Any]:
    return [Label("top"), *body, Jump(Op.JUMP, "top")]


def test_while_true_times_out() -> None:
    started = time.perf_counter()
    with pytest.raises(HogTimeoutError, match=r"Execution timed out after 0.2 seconds. Performed \d+ ops."):
        run(*FOREVER, limits=Limits(timeout_s=0.2))
    assert time.perf_counter() - started < 2


def test_default_limits_match_posthog() -> None:
    limits = Limits()
    assert limits.timeout_s == 5.0
    assert limits.memory_bytes == 64 * 1024 * 1024
    assert limits.max_call_depth == 1000
    assert limits.max_async_steps == 100


def test_step_bound() -> None:
    with pytest.raises(HogStepLimitError, match="Exceeded maximum number of operations: 10000"):
        run(*FOREVER, limits=Limits(max_ops=10_000))


def test_backward_conditional_jump_loops_are_bounded_too() -> None:
    with pytest.raises(HogStepLimitError):
        run(Label("top"), Op.FALSE, Jump(Op.JUMP_IF_FALSE, "top"), limits=Limits(max_ops=5_000))


def test_infinite_recursion_is_a_stack_overflow() -> None:
    recurse = function("f", 0, [Op.GET_UPVALUE, 0, Op.CALL_LOCAL, 0, Op.RETURN], captures=[(True, 0)])
    with pytest.raises(HogStackOverflowError, match="Stack overflow: call stack exceeded maximum length of 1000"):
        run(*recurse, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 0)
    with pytest.raises(HogStackOverflowError, match="maximum length of 50"):
        run(*recurse, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 0, limits=Limits(max_call_depth=50))


def test_string_doubling_hits_the_memory_limit() -> None:
    doubling = loop_forever(Op.GET_LOCAL, 0, Op.GET_LOCAL, 0, Op.CALL_GLOBAL, "concat", 2, Op.SET_LOCAL, 0)
    with pytest.raises(HogMemoryError, match=r"Memory limit of 67108864 bytes exceeded. Attempted to use \d+ bytes"):
        run(Op.STRING, "x", *doubling)
    with pytest.raises(HogMemoryError, match="Memory limit of 100000 bytes exceeded"):
        run(Op.STRING, "x", *doubling, limits=Limits(memory_bytes=100_000))


def test_huge_range_fails_before_allocating() -> None:
    started = time.perf_counter()
    with pytest.raises(HogMemoryError):
        run(*call("range", 10**12))
    assert time.perf_counter() - started < 1


def test_replace_all_blowup_is_charged_before_it_happens() -> None:
    grow = loop_forever(Op.GET_LOCAL, 0, Op.STRING, "x", Op.GET_LOCAL, 0, Op.CALL_GLOBAL, "replaceAll", 3,
                        Op.SET_LOCAL, 0)  # fmt: skip
    with pytest.raises(HogMemoryError):
        run(Op.STRING, "xxxxxxxxxx", *grow)


def test_accumulating_arrays_hit_the_memory_limit() -> None:
    accumulate = loop_forever(Op.GET_LOCAL, 0, *call("range", 1000), Op.CALL_GLOBAL, "arrayPushBack", 2,
                              Op.SET_LOCAL, 0)  # fmt: skip
    with pytest.raises(HogMemoryError):
        run(Op.ARRAY, 0, *accumulate, limits=Limits(memory_bytes=2_000_000))


def test_growing_a_dict_hits_the_memory_limit() -> None:
    grow = loop_forever(
        Op.GET_LOCAL, 0, Op.GET_LOCAL, 1, Op.STRING, "value", Op.SET_PROPERTY,
        Op.INTEGER, 1, Op.GET_LOCAL, 1, Op.PLUS, Op.SET_LOCAL, 1,
    )  # fmt: skip
    with pytest.raises(HogMemoryError):
        run(Op.DICT, 0, Op.INTEGER, 0, *grow, limits=Limits(memory_bytes=500_000))


def test_printing_forever_hits_the_memory_limit() -> None:
    with pytest.raises(HogMemoryError):
        run(*loop_forever(*call("print", "x" * 100), Op.POP), limits=Limits(memory_bytes=200_000))


def test_pushing_forever_on_the_stack_hits_the_memory_limit() -> None:
    with pytest.raises(HogMemoryError):
        run(*loop_forever(Op.INTEGER, 1), limits=Limits(memory_bytes=400_000))


def test_multiplying_forever_stays_cheap() -> None:
    with pytest.raises(HogStepLimitError):
        run(Op.INTEGER, 2, *loop_forever(Op.GET_LOCAL, 0, Op.GET_LOCAL, 0, Op.MULTIPLY, Op.SET_LOCAL, 0),
            limits=Limits(max_ops=100_000))  # fmt: skip


def _nest(depth: int) -> list[Any]:
    """let a := []; for i in 0..depth: a := [a]"""
    return [
        Op.ARRAY, 0, Op.INTEGER, 0,
        Label("cond"), *push(depth), Op.GET_LOCAL, 1, Op.LT, Jump(Op.JUMP_IF_FALSE, "end"),
        Op.GET_LOCAL, 0, Op.ARRAY, 1, Op.SET_LOCAL, 0,
        Op.INTEGER, 1, Op.GET_LOCAL, 1, Op.PLUS, Op.SET_LOCAL, 1, Jump(Op.JUMP, "cond"),
        Label("end"),
    ]  # fmt: skip


def test_deeply_nested_values_print_without_recursion() -> None:
    result = run(*_nest(20_000), Op.GET_LOCAL, 0, Op.CALL_GLOBAL, "print", 1)
    assert result.prints[0].startswith("[[[[") and len(result.prints[0]) == 2 * 20_001


def test_deeply_nested_values_fail_cleanly_elsewhere() -> None:
    with pytest.raises(HogVMError, match="nested too deeply"):
        run(*_nest(20_000), Op.GET_LOCAL, 0, Op.CALL_GLOBAL, "jsonStringify", 1)


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth


def test_deeply_nested_values_cross_the_host_boundary() -> None:
    result = run(*_nest(20_000), Op.GET_LOCAL, 0, Op.CALL_GLOBAL, "depth", 1, functions={"depth": _depth})
    assert result.result == 20_000


def test_deep_nesting_survives_a_pause() -> None:
    paused = execute(program(*_nest(5_000), *call("fetch", "x")))
    assert not paused.finished
    result = resume(json.loads(json.dumps(paused.state)), None)
    assert result.finished


def test_catastrophic_regex_is_linear() -> None:
    started = time.perf_counter()
    assert run(*call("match", "a" * 5000 + "b", "(a+)+$")).result is False
    assert run(*push("(x+x+)+y"), *push("x" * 3000), Op.REGEX).result is False
    assert run(*call("extractRegex", "a" * 3000 + "!", "((a|aa)+)!")).result == "a" * 3000
    assert time.perf_counter() - started < 5


def test_regex_features_re2_lacks_are_errors() -> None:
    # As in PostHog's VMs (RE2 and re2js): backreferences are not regex syntax.
    with pytest.raises(HogVMError, match="Invalid regular expression"):
        run(*call("match", "abab", "(ab)\\1"))


def test_regex_work_past_the_budget_is_refused() -> None:
    with pytest.raises(HogVMError, match="too complex"):
        run(*call("match", "a" * 200_000 + "b", "(a|a?)+(a|a?)+(a|a?)+c"), limits=Limits(regex_work_budget=10_000))


def test_limits_span_pauses() -> None:
    paused = execute(program(*call("fetch", "u"), Op.POP, *FOREVER), limits=Limits(timeout_s=1))
    state = dict(paused.state or {})
    assert state["ops"] == paused.ops > 0
    state["duration_ms"] = 990.0  # as if the first segment had used almost the whole budget
    started = time.perf_counter()
    with pytest.raises(HogTimeoutError):
        resume(state, None, limits=Limits(timeout_s=1))
    assert time.perf_counter() - started < 0.5


def test_async_step_limit() -> None:
    code = program(*call("fetch", 1), Op.POP, *call("fetch", 2), Op.POP, *call("fetch", 3))
    limits = Limits(max_async_steps=2)
    first = execute(code, limits=limits)
    second = resume(first.state or {}, None, limits=limits)
    with pytest.raises(HogVMError, match="Exceeded maximum number of async steps: 2"):
        resume(second.state or {}, None, limits=limits)


def test_huge_async_results_count_against_memory() -> None:
    paused = execute(program(*call("fetch", "u")), limits=Limits(memory_bytes=10_000))
    with pytest.raises(HogMemoryError):
        resume(paused.state or {}, "x" * 20_000, limits=Limits(memory_bytes=10_000))


def test_garbage_is_not_charged() -> None:
    # Builds and drops a 10 kB string 2000 times: 20 MB allocated, never more than ~20 kB live.
    churn = [
        Op.INTEGER, 0,
        Label("cond"), *push(2000), Op.GET_LOCAL, 0, Op.LT, Jump(Op.JUMP_IF_FALSE, "end"),
        *call("concat", "x" * 5000, "y" * 5000), Op.POP,
        Op.INTEGER, 1, Op.GET_LOCAL, 0, Op.PLUS, Op.SET_LOCAL, 0, Jump(Op.JUMP, "cond"),
        Label("end"),
    ]  # fmt: skip
    assert run(*churn, limits=Limits(memory_bytes=1_000_000)).finished
