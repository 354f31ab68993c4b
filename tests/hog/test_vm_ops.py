"""One or more tests per opcode, on hand-assembled bytecode (hog.md §2-§3)."""

from __future__ import annotations

import pytest

from app.hog import HogVMError, UncaughtHogError, execute
from app.hog.assembler import Jump, Label, Try, assemble, function
from app.hog.opcodes import Op

from .vm_helpers import call, error_message, push, run, value


def test_headers_and_invalid_bytecode() -> None:
    assert execute(["_H", 1, 33, 2, 33, 1, 6]).result == 3
    assert execute(["_h", 33, 2, 33, 1, 6]).result == 3
    with pytest.raises(HogVMError, match="Must start with '_H'"):
        execute(["_X", 1, 33, 1])
    with pytest.raises(HogVMError, match="Must start with '_H'"):
        execute([])


def test_unknown_opcode_and_null_noop() -> None:
    assert execute(["_H", 1, None, 33, 4]).result == 4
    with pytest.raises(HogVMError, match='Unexpected node while running bytecode in chunk "root": 99'):
        execute(["_H", 1, 99])
    with pytest.raises(HogVMError, match="Unexpected node"):
        execute(["_H", 1, int(Op.IN_COHORT)])


def test_constants() -> None:
    assert value(Op.TRUE) is True
    assert value(Op.FALSE) is False
    assert value(Op.NULL) is None
    assert value(Op.STRING, "hi") == "hi"
    assert value(Op.INTEGER, -5) == -5
    result = value(Op.FLOAT, 1.0)
    assert result == 1.0 and type(result) is float


def test_arithmetic_pops_left_first() -> None:
    # R is pushed first, then L: ``L op R``.
    assert value(Op.INTEGER, 2, Op.INTEGER, 7, Op.MINUS) == 5
    assert value(Op.INTEGER, 3, Op.INTEGER, 4, Op.MULTIPLY) == 12
    assert value(Op.INTEGER, 2, Op.INTEGER, 3, Op.DIVIDE) == 1.5
    assert value(Op.INTEGER, 2, Op.INTEGER, 4, Op.DIVIDE) == 2.0
    assert value(Op.FLOAT, 0.5, Op.INTEGER, 1, Op.PLUS) == 1.5


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [(-7, 3, -1), (7, -3, 1), (7, 3, 1), (-7.5, 2, -1.5), (6, 3, 0)],
)
def test_mod_takes_the_sign_of_the_dividend(left: float, right: float, expected: float) -> None:
    assert value(*push(right), *push(left), Op.MOD) == expected


def test_arithmetic_errors_and_big_ints() -> None:
    assert "Division by zero" in error_message(Op.INTEGER, 0, Op.INTEGER, 1, Op.DIVIDE)
    assert "Unsupported operand types for +" in error_message(Op.INTEGER, 1, Op.NULL, Op.PLUS)
    assert value(Op.STRING, "b", Op.STRING, "a", Op.PLUS) == "ab"
    assert value(Op.INTEGER, 1, Op.TRUE, Op.PLUS) == 2
    huge = value(Op.INTEGER, 2**62, Op.INTEGER, 2**62, Op.MULTIPLY)
    assert isinstance(huge, float)


def test_and_or_not_take_all_operands() -> None:
    assert value(Op.INTEGER, 1, Op.INTEGER, 2, Op.AND, 2) is True
    assert value(Op.INTEGER, 1, Op.INTEGER, 0, Op.AND, 2) is False
    assert value(Op.INTEGER, 0, Op.NULL, Op.STRING, "x", Op.OR, 3) is True
    assert value(Op.INTEGER, 0, Op.OR, 1) is False
    assert value(Op.STRING, "", Op.NOT) is True
    assert value(Op.ARRAY, 0, Op.NOT) is True


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        (Op.EQ, 1, "1", True),
        (Op.EQ, 1, 1.0, True),
        (Op.EQ, True, 1, True),
        (Op.EQ, 2, True, False),
        (Op.EQ, "true", True, True),
        (Op.EQ, 0, None, False),
        (Op.EQ, None, None, True),
        (Op.EQ, "a", 1, False),
        (Op.NOT_EQ, 1, "2", True),
        (Op.LT, 1, "2", True),
        (Op.LT, "1", 2, True),
        (Op.GT, "abc", "abd", False),
        (Op.GT_EQ, 2.5, 2, True),
        (Op.LT_EQ, 3, 3, True),
        (Op.LT, None, 3, True),
        (Op.GT, None, 3, False),
        (Op.LT, "a", None, False),
        (Op.LT, "x", 1, False),
    ],
)
def test_comparisons(op: Op, left: object, right: object, expected: bool) -> None:
    assert value(*push(right), *push(left), op) is expected


def test_incomparable_types_raise() -> None:
    assert "Can not compare" in error_message(*push([1]), *push("a"), Op.LT)


@pytest.mark.parametrize(
    ("op", "text", "pattern", "expected"),
    [
        (Op.LIKE, "banana", "n", True),
        (Op.LIKE, "banana", "N", False),
        (Op.LIKE, "baax", "b%x", True),
        (Op.LIKE, "abc", "a_c", True),
        (Op.LIKE, "abc", "a_d", False),
        (Op.ILIKE, "banana", "%AN%", True),
        (Op.NOT_LIKE, "a", "b", True),
        (Op.NOT_ILIKE, "A", "a", False),
        (Op.LIKE, None, "%", False),
    ],
)
def test_like(op: Op, text: object, pattern: object, expected: bool) -> None:
    assert value(*push(pattern), *push(text), op) is expected


@pytest.mark.parametrize(
    ("op", "text", "pattern", "expected"),
    [
        (Op.REGEX, "test", "e.*", True),
        (Op.REGEX, "test", "^e", False),
        (Op.NOT_REGEX, "test", "^e", True),
        (Op.IREGEX, "test", "EST", True),
        (Op.NOT_IREGEX, "test", "EST", False),
        (Op.REGEX, None, "x", False),
        (Op.NOT_REGEX, None, "x", False),
        (Op.NOT_IREGEX, "x", None, False),
    ],
)
def test_regex_ops(op: Op, text: object, pattern: object, expected: bool) -> None:
    assert value(*push(pattern), *push(text), op) is expected


def test_in_and_not_in() -> None:
    assert value(*push([1, 2]), *push(1.0), Op.IN) is True
    assert value(*push("car"), *push("a"), Op.IN) is True
    assert value(*push({"k": 1}), *push("k"), Op.IN) is True
    assert value(*push((1, 2)), *push(3), Op.NOT_IN) is True
    # `3 in null` fails in both of PostHog's VMs (`null.includes(3)`, `3 in None`).
    assert error_message(Op.NULL, *push(3), Op.IN) == "Can not check membership in null"
    assert error_message(*push(5), *push(3), Op.NOT_IN) == "Can not check membership in integer"


def test_locals_and_pop() -> None:
    result = run(Op.INTEGER, 1, Op.INTEGER, 2, Op.GET_LOCAL, 0, Op.GET_LOCAL, 1, Op.PLUS, Op.SET_LOCAL, 0,
                 Op.GET_LOCAL, 0, Op.RETURN)  # fmt: skip
    assert result.result == 3
    assert run(Op.INTEGER, 1, Op.POP).result is None


def test_jumps() -> None:
    # if (false) 1 else 2
    assert value(Op.FALSE, Jump(Op.JUMP_IF_FALSE, "else"), Op.INTEGER, 1, Jump(Op.JUMP, "end"),
                 Label("else"), Op.INTEGER, 2, Label("end")) == 2  # fmt: skip
    # while (i < 5) i := i + 1
    loop = run(
        Op.INTEGER, 0,
        Label("cond"), Op.INTEGER, 5, Op.GET_LOCAL, 0, Op.LT, Jump(Op.JUMP_IF_FALSE, "end"),
        Op.INTEGER, 1, Op.GET_LOCAL, 0, Op.PLUS, Op.SET_LOCAL, 0, Jump(Op.JUMP, "cond"),
        Label("end"), Op.GET_LOCAL, 0, Op.RETURN,
    )  # fmt: skip
    assert loop.result == 5


def test_backward_jump_before_start_is_an_error() -> None:
    assert "jump before the start" in error_message(Op.JUMP, -10)


def test_jump_if_stack_not_null_keeps_the_value() -> None:
    # a ?? b
    assert value(Op.INTEGER, 1, Jump(Op.JUMP_IF_STACK_NOT_NULL, "end"), Op.POP, Op.INTEGER, 2, Label("end")) == 1
    assert value(Op.NULL, Jump(Op.JUMP_IF_STACK_NOT_NULL, "end"), Op.POP, Op.INTEGER, 2, Label("end")) == 2


def test_containers() -> None:
    assert value(*push([1, "2", [3]])) == [1, "2", [3]]
    assert value(*push((1, 2))) == (1, 2)
    assert value(*push({"a": 1, 3: "x"})) == {"a": 1, 3: "x"}
    assert "dictionary key" in error_message(*push([1]), Op.INTEGER, 1, Op.DICT, 1)


def test_get_property_rules() -> None:
    assert value(*push([10, 20, 30]), Op.INTEGER, 1, Op.GET_PROPERTY) == 10
    assert value(*push([10, 20, 30]), Op.INTEGER, -1, Op.GET_PROPERTY) == 30
    assert value(*push([10, 20, 30]), Op.INTEGER, 4, Op.GET_PROPERTY) is None
    assert value(*push([10, 20, 30]), Op.INTEGER, -4, Op.GET_PROPERTY_NULLISH) is None
    assert value(*push((1, 2)), Op.INTEGER, 2, Op.GET_PROPERTY) == 2
    assert value(*push("abc"), Op.INTEGER, 2, Op.GET_PROPERTY) == "b"
    assert value(*push({"a": {"b": 1}}), Op.STRING, "a", Op.GET_PROPERTY, Op.STRING, "b", Op.GET_PROPERTY) == 1
    assert value(Op.NULL, Op.STRING, "a", Op.GET_PROPERTY) is None
    assert value(*push([1]), Op.STRING, "a", Op.GET_PROPERTY) is None
    assert error_message(*push([1]), Op.INTEGER, 0, Op.GET_PROPERTY) == "Hog arrays start from index 1"


def test_set_property_mutates_aliases() -> None:
    result = run(
        *push([1, 2, 3]), Op.GET_LOCAL, 0,  # b := a
        Op.GET_LOCAL, 1, Op.INTEGER, 1, Op.INTEGER, 5, Op.SET_PROPERTY,
        *push({}), Op.GET_LOCAL, 2, Op.STRING, "k", Op.STRING, "v", Op.SET_PROPERTY,
        Op.GET_LOCAL, 0, Op.GET_LOCAL, 2, Op.TUPLE, 2, Op.RETURN,
    )  # fmt: skip
    assert result.result == ([5, 2, 3], {"k": "v"})
    assert "Hog arrays start from index 1" in error_message(*push([1]), Op.INTEGER, 0, Op.INTEGER, 1, Op.SET_PROPERTY)
    assert 'Can not set property "x" on object of type "string"' in error_message(
        Op.STRING, "s", Op.STRING, "x", Op.INTEGER, 1, Op.SET_PROPERTY
    )


def test_get_global_walks_copies_and_resolves_functions() -> None:
    event = {"properties": {"list": [1, 2]}}
    code = [Op.STRING, "list", Op.STRING, "properties", Op.STRING, "event", Op.GET_GLOBAL, 3]
    result = run(*code, Op.INTEGER, 1, Op.INTEGER, 9, Op.SET_PROPERTY, *code, globals={"event": event})
    assert result.result == [1, 2]
    assert event == {"properties": {"list": [1, 2]}}  # host data never mutated
    assert run(Op.STRING, "x", Op.STRING, "event", Op.GET_GLOBAL, 2, globals={"event": None}).result is None
    assert error_message(Op.STRING, "nope", Op.GET_GLOBAL, 1) == "Global variable not found: nope"
    printed = run(Op.STRING, "upper", Op.GET_GLOBAL, 1, Op.CALL_GLOBAL, "print", 1).prints
    assert printed == ["fn<upper(1)>"]


def test_call_global_argument_order_v0_and_v1() -> None:
    assert execute(["_H", 1, 32, "a", 32, "b", 2, "concat", 2]).result == "ab"
    assert execute(["_h", 32, "a", 32, "b", 2, "concat", 2]).result == "ba"


def test_call_global_errors() -> None:
    assert error_message(Op.CALL_GLOBAL, "noSuchFunction", 0) == "Unsupported function call: noSuchFunction"
    assert error_message(*call("arrayMap", None)) == "Function arrayMap requires exactly 2 arguments"


def _add_function() -> list[object]:
    # fun add(a, b) { return a + b }
    return function("add", 2, [Op.GET_LOCAL, 1, Op.GET_LOCAL, 0, Op.PLUS, Op.RETURN])


def test_callable_closure_and_call_local() -> None:
    result = run(*_add_function(), Op.INTEGER, 3, Op.INTEGER, 4, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 2, Op.RETURN)
    assert result.result == 7
    printed = run(*_add_function(), Op.GET_LOCAL, 0, Op.CALL_GLOBAL, "print", 1).prints
    assert printed == ["fn<add(2)>"]


def test_call_local_pads_missing_args_and_rejects_extra() -> None:
    result = run(*function("f", 2, [Op.GET_LOCAL, 1, Op.RETURN]), Op.INTEGER, 1, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 1,
                 Op.RETURN)  # fmt: skip
    assert result.result is None
    message = error_message(*_add_function(), *push(1), *push(2), *push(3), Op.GET_LOCAL, 0, Op.CALL_LOCAL, 3)
    assert message == "Too many arguments. Passed 3, expected 2"
    assert error_message(Op.INTEGER, 1, Op.CALL_LOCAL, 0) == "Invalid closure"


def test_stl_function_as_a_value() -> None:
    result = run(Op.STRING, "hi", Op.STRING, "upper", Op.GET_GLOBAL, 1, Op.CALL_LOCAL, 1, Op.RETURN)
    assert result.result == "HI"
    result = run(*function("l", 1, [Op.INTEGER, 2, Op.GET_LOCAL, 0, Op.MULTIPLY, Op.RETURN]), *push([1, 2]),
                 Op.STRING, "arrayMap", Op.GET_GLOBAL, 1, Op.CALL_LOCAL, 2, Op.RETURN)  # fmt: skip
    assert result.result == [2, 4]


def test_upvalues_capture_and_close() -> None:
    # fun counter() { let n := 0; return () -> { n := n + 1; return n } }
    inner = function(
        "lambda",
        0,
        [Op.INTEGER, 1, Op.GET_UPVALUE, 0, Op.PLUS, Op.SET_UPVALUE, 0, Op.GET_UPVALUE, 0, Op.RETURN],
        captures=[(True, 0)],
    )
    outer = function("counter", 0, [Op.INTEGER, 0, *inner, Op.RETURN])
    result = run(
        *outer, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 0,  # c := counter()
        Op.GET_LOCAL, 1, Op.CALL_LOCAL, 0, Op.POP,
        Op.GET_LOCAL, 1, Op.CALL_LOCAL, 0, Op.RETURN,
    )  # fmt: skip
    assert result.result == 2


def test_close_upvalue_keeps_value_after_scope_ends() -> None:
    reader = function("lambda", 0, [Op.GET_UPVALUE, 0, Op.RETURN], captures=[(True, 1)])
    result = run(
        Op.NULL,  # slot 0: keeps the closure
        Op.INTEGER, 41,  # slot 1: x, captured
        *reader, Op.GET_LOCAL, 2, Op.SET_LOCAL, 0, Op.POP,
        Op.INTEGER, 42, Op.SET_LOCAL, 1,  # x := 42 while the upvalue is open
        Op.CLOSE_UPVALUE,  # x leaves scope: the upvalue keeps 42
        Op.INTEGER, 7,  # a new value in the old slot must not leak into the closure
        Op.GET_LOCAL, 0, Op.CALL_LOCAL, 0, Op.RETURN,
    )  # fmt: skip
    assert result.result == 42


def test_try_catch_and_throw() -> None:
    result = run(
        Try("catch"), *call("Error", "boom"), Op.THROW, Op.POP_TRY, Jump(Op.JUMP, "end"),
        Label("catch"), Op.STRING, "message", Op.GET_PROPERTY, Op.RETURN,
        Label("end"), Op.NULL, Op.RETURN,
    )  # fmt: skip
    assert result.result == "boom"


def test_uncaught_error_and_throwing_non_errors() -> None:
    with pytest.raises(UncaughtHogError) as caught:
        run(*call("HogError", "FishError", "no fish", {"n": 1}), Op.THROW)
    assert caught.value.type == "FishError"
    assert caught.value.message == "no fish"
    assert caught.value.payload == {"n": 1}
    assert str(caught.value) == "FishError('no fish', {'n': 1})"
    assert error_message(Op.INTEGER, 1, Op.THROW) == "Can not throw: value is not of type Error"
    assert error_message(Op.POP_TRY) == "Invalid operation POP_TRY: no try block to pop"


def test_return_inside_try_drops_the_stale_handler() -> None:
    # fun f() { try { return 1 } catch (e) { return 2 } }; f(); throw Error() must stay uncaught.
    body = _try_returning_one()
    with pytest.raises(UncaughtHogError):
        run(*function("f", 0, body), Op.GET_LOCAL, 0, Op.CALL_LOCAL, 0, Op.POP, *call("Error"), Op.THROW)


def _try_returning_one() -> list[object]:
    return assemble(Try("catch"), Op.INTEGER, 1, Op.RETURN, Op.POP_TRY, Label("catch"), Op.INTEGER, 2, Op.RETURN)


def test_declare_fn_legacy() -> None:
    # DECLARE_FN name argc bodyLen; body: return arg + 1
    code = ["_H", 1, 41, "inc", 1, 6, 33, 1, 36, 0, 6, 38, 33, 4, 2, "inc", 1]
    assert execute(code).result == 5


def test_multi_chunk_import() -> None:
    bytecode = {
        "bytecodes": {
            "root": {"bytecode": ["_H", 1, 32, "lib", 2, "import", 1, 35, 32, "x", 1, 1]},
            "lib": {"bytecode": ["_H", 1, 32, "from lib", 2, "print", 1, 35], "globals": {}},
        }
    }
    result = execute(bytecode, {"x": 3})
    assert result.prints == ["from lib"]
    assert result.result == 3


def test_expression_result_is_top_of_stack() -> None:
    assert execute(["_H", 1, 33, 1, 33, 2]).result == 2
