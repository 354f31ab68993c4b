"""Standard library: arity errors and per-function semantics (hog.md §4)."""

from __future__ import annotations

from typing import Any

import pytest

from app.hog import HogVMError
from app.hog.opcodes import Op
from app.hog.stl import BYTECODE_STL, STL

from .vm_helpers import call, error_message, program, push, run, value


def stl(name: str, *args: Any) -> Any:
    return value(*call(name, *args))


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("concat", [], "Function concat requires at least 1 arguments"),
        ("upper", ["a", "b"], "Function upper requires at most 1 arguments"),
        ("HogError", [], "Function HogError requires at least 1 arguments"),
        ("range", [1, 2, 3], "Function range requires at most 2 arguments"),
        ("dateAdd", ["day", 1], "Function dateAdd requires at least 3 arguments"),
        ("generateUUIDv4", [1], "Function generateUUIDv4 requires at most 0 arguments"),
        ("arrayFilter", [1, 2, 3], "Function arrayFilter requires exactly 2 arguments"),
    ],
)
def test_arity_errors(name: str, args: list[Any], message: str) -> None:
    assert error_message(*call(name, *args)) == message


def test_arity_is_checked_through_closures_too() -> None:
    message = error_message(Op.STRING, "upper", Op.GET_GLOBAL, 1, Op.CALL_LOCAL, 0)
    assert message == "Function upper requires at least 1 arguments"


@pytest.mark.parametrize("name", ["round", "floor", "now", "toString", "toStartOfDay", "position", "arraySort"])
def test_trailing_ignored_argument_is_allowed(name: str) -> None:
    max_args = STL[name].max_args
    assert max_args is None or max_args >= 2 or name == "now"


def test_registry_covers_the_spec_table() -> None:
    expected = {
        "Error", "HogError", "JSONExtract", "JSONExtractArrayRaw", "JSONExtractBool", "JSONExtractFloat",
        "JSONExtractInt", "JSONExtractString", "JSONHas", "JSONLength", "NotImplementedError", "RetryError",
        "addDays", "and", "arrayPopBack", "arrayPopFront", "arrayPushBack", "arrayPushFront", "arrayReverse",
        "arrayReverseSort", "arraySort", "arrayStringConcat", "assumeNotNull", "base64Decode", "base64Encode",
        "coalesce", "concat", "dateAdd", "dateDiff", "dateTrunc", "decodeURLComponent", "empty",
        "encodeURLComponent", "equals", "extract", "extractRegex", "floor", "formatDateTime",
        "fromUnixTimestamp", "fromUnixTimestampMilli", "generateUUIDv4", "greater", "greaterOrEquals", "has",
        "if", "ifNull", "ilike", "in", "indexOf", "isIPAddressInRange", "isNotNull", "isNull", "isValidJSON",
        "jsonParse", "jsonStringify", "keys", "length", "less", "lessOrEquals", "like", "lower", "match",
        "max2", "md5", "md5Hex", "min2", "minus", "multiIf", "multiSearchAnyCaseInsensitive", "not",
        "notEmpty", "notEquals", "notILike", "notLike", "now", "or", "plus", "position",
        "positionCaseInsensitive", "print", "randomFloat", "range", "replaceAll", "replaceOne", "reverse",
        "round", "sha1", "sha1Hex", "sha1HmacChain", "sha1HmacChainHex", "sha256", "sha256Hex",
        "sha256HmacChain", "sha256HmacChainHex", "sleep", "splitByString", "startsWith", "substring",
        "toDate", "toDateTime", "toFloat", "toInt", "toIntervalDay", "toIntervalHour", "toIntervalMinute",
        "toIntervalMonth", "toMonth", "toStartOfDay", "toStartOfHour", "toStartOfMonth", "toStartOfWeek",
        "toString", "toTimeZone", "toUUID", "toUnixTimestamp", "toUnixTimestampMilli", "toYYYYMM", "toYear",
        "today", "trim", "trimLeft", "trimRight", "tryBase64Decode", "tryDecodeURLComponent", "tuple",
        "typeof", "upper", "values",
    }  # fmt: skip
    assert expected - set(STL) == set()
    assert {"arrayMap", "arrayFilter", "arrayExists", "arrayCount", "arrayReduce"} <= set(BYTECODE_STL)


def test_strings() -> None:
    assert stl("trim", "  hi  ") == "hi"
    assert stl("trim", "xxhixx", "x") == "hi"
    assert stl("trimLeft", "xxhi", "x") == "hi"
    assert stl("trimRight", "hi  ") == "hi"
    assert stl("trim", "xhix", "xy") == ""
    assert stl("splitByString", " ", "a b c") == ["a", "b", "c"]
    assert stl("splitByString", " ", "a b c", 2) == ["a", "b"]
    assert stl("position", "abc", "c") == 3
    assert stl("position", "abc", "d") == 0
    assert stl("positionCaseInsensitive", "AbC", "b") == 2
    assert stl("substring", "hello", 2, 3) == "ell"
    assert stl("substring", "hello", 2) == "ello"
    assert stl("startsWith", "hello", "he") is True
    assert stl("replaceOne", "aaa", "a", "b") == "baa"
    assert stl("replaceAll", "aaa", "a", "b") == "bbb"
    assert stl("reverse", "abc") == "cba"
    assert stl("concat", "a", 1, None, True, [1, "x"]) == "a1true[1, 'x']"
    assert stl("length", [1, 2]) == 2
    assert stl("match", "abc", "^a") is True
    assert stl("extractRegex", "order 1234 done", "(\\d+)") == "1234"
    assert stl("extractRegex", "no digits", "\\d+") == ""
    assert stl("multiSearchAnyCaseInsensitive", "Hello World", ["xyz", "WORLD"]) is True


@pytest.mark.parametrize("name", ["length", "upper", "lower", "reverse", "trim", "trimLeft", "trimRight"])
def test_string_functions_on_null(name: str) -> None:
    assert stl(name, None) is None


def test_encodings() -> None:
    assert stl("encodeURLComponent", "tom & jerry/é") == "tom%20%26%20jerry%2F%C3%A9"
    assert stl("encodeURLComponent", "a!*'()~") == "a!*'()~"
    assert stl("decodeURLComponent", "tom%20%26%20jerry") == "tom & jerry"
    assert stl("tryDecodeURLComponent", "%E0%A4%A") is None
    assert stl("tryDecodeURLComponent", "%C3%A9") == "é"
    assert stl("base64Encode", "é!") == "w6kh"
    assert stl("base64Decode", "w6kh") == "é!"
    assert stl("tryBase64Decode", "***") == ""
    with pytest.raises(HogVMError, match="invalid base64"):
        run(*call("base64Decode", "***"))


def test_conversions_and_types() -> None:
    assert stl("toInt", "42") == 42
    assert stl("toInt", "4.7") == 4
    assert stl("toInt", "x") is None
    assert stl("toFloat", "1.5") == 1.5
    assert stl("toFloat", "1_0") is None
    assert stl("toString", 1.5) == "1.5"
    assert stl("toString", None) == "null"
    assert stl("toString", {"a": [1]}) == "{'a': [1]}"
    assert stl("typeof", (1,)) == "tuple"
    assert stl("typeof", {"__hogError__": True, "type": "E", "message": "m"}) == "error"
    assert stl("empty", "") is True
    assert stl("empty", 0) is False
    assert stl("notEmpty", [1]) is True
    assert stl("coalesce", None, None, 3) == 3
    assert stl("ifNull", None, 2) == 2
    assert stl("multiIf", False, 1, True, 2, 3) == 2
    assert stl("multiIf", False, 1, False, 2, 3) == 3
    assert "Value is null" in error_message(*call("assumeNotNull", None))


def test_numbers_and_logic() -> None:
    assert stl("round", 3.5) == 4
    assert stl("round", 2.5) == 2  # round-half-even, the Python reference VM
    assert stl("floor", 2.7) == 2
    assert stl("range", 3) == [0, 1, 2]
    assert stl("range", 2, 5) == [2, 3, 4]
    assert stl("plus", 1, 2) == 3
    assert stl("minus", 1, 2) == -1
    assert stl("min2", 1, 2.5) == 1
    assert stl("max2", 1, 2.5) == 2.5
    assert stl("equals", 1, 1.0) is True
    assert stl("equals", 1, "1") is False
    assert stl("notEquals", 1, 1.0) is False
    assert stl("greater", 2, 1) is True
    # JavaScript's `null < 1` in PostHog's TypeScript VM, as the `<` operator does here.
    assert stl("less", None, 1) is True
    assert stl("lessOrEquals", "a", "b") is True
    assert stl("and", 1) is True
    assert stl("or", 0, 0, 1) is True
    assert stl("not", 0) is True
    assert 0 <= stl("randomFloat") < 1
    assert len(stl("generateUUIDv4")) == 36


def test_arrays_never_mutate_their_input() -> None:
    result = run(
        *push([3, 1, 2]),
        Op.GET_LOCAL, 0, Op.INTEGER, 4, Op.CALL_GLOBAL, "arrayPushBack", 2, Op.POP,
        Op.GET_LOCAL, 0, Op.CALL_GLOBAL, "arraySort", 1, Op.POP,
        Op.GET_LOCAL, 0, Op.RETURN,
    )  # fmt: skip
    assert result.result == [3, 1, 2]
    assert stl("arrayPushFront", [1], 0) == [0, 1]
    assert stl("arrayPopBack", [1, 2]) == [1]
    assert stl("arrayPopFront", [1, 2]) == [2]
    assert stl("arrayReverseSort", [1, 3, 2]) == [3, 2, 1]
    assert stl("arrayReverse", [1, 2]) == [2, 1]
    assert stl("arrayStringConcat", [1, "a", None], "-") == "1-a-"
    assert stl("has", [1, 2], 2.0) is True
    assert stl("has", "abc", "a") is False
    assert stl("indexOf", [1.0, 2.0], 2) == 2
    assert stl("in", 1, (1, 2)) is True
    assert stl("keys", (5, 6)) == [0, 1]
    assert stl("values", {"a": 1}) == [1]
    assert stl("keys", None) == []
    assert stl("tuple", 1, 2) == (1, 2)
    assert "mixed types" in error_message(*call("arraySort", [1, "a"]))


def _lambda_x_times_2() -> list[Any]:
    from app.hog.assembler import function

    return function("lambda", 1, [Op.INTEGER, 2, Op.GET_LOCAL, 0, Op.MULTIPLY, Op.RETURN])


def test_bytecode_stl() -> None:
    from app.hog.assembler import function

    is_big = function("lambda", 1, [Op.INTEGER, 2, Op.GET_LOCAL, 0, Op.GT, Op.RETURN])
    add = function("lambda", 2, [Op.GET_LOCAL, 1, Op.GET_LOCAL, 0, Op.PLUS, Op.RETURN])
    assert value(*_lambda_x_times_2(), *push([1, 2, 3]), Op.CALL_GLOBAL, "arrayMap", 2) == [2, 4, 6]
    assert value(*is_big, *push([1, 2, 3, 4]), Op.CALL_GLOBAL, "arrayFilter", 2) == [3, 4]
    assert value(*is_big, *push([1, 2, 3]), Op.CALL_GLOBAL, "arrayExists", 2) is True
    assert value(*is_big, *push([1, 2]), Op.CALL_GLOBAL, "arrayExists", 2) is False
    assert value(*is_big, *push([1, 5, 9]), Op.CALL_GLOBAL, "arrayCount", 2) == 2
    assert value(*add, *push([1, 2, 3]), Op.INTEGER, 10, Op.CALL_GLOBAL, "arrayReduce", 3) == 16
    assert value(*add, Op.NULL, Op.INTEGER, 10, Op.CALL_GLOBAL, "arrayReduce", 3) == 10
    assert value(*is_big, Op.NULL, Op.CALL_GLOBAL, "arrayMap", 2) == []
    assert value(*_lambda_x_times_2(), *push({"a": 1}), Op.CALL_GLOBAL, "arrayMap", 2) == [2]
    assert error_message(*push([1]), Op.CALL_GLOBAL, "__hogArrayPush", 1).startswith("Unsupported function call")


def test_json() -> None:
    assert stl("jsonStringify", {"a": [1, (2, 3)], "b": None}) == '{"a":[1,[2,3]],"b":null}'
    assert stl("jsonStringify", {"a": 1}, 2) == '{\n  "a": 1\n}'
    assert stl("jsonStringify", {1: "x", "é": float("inf")}) == '{"1":"x","é":null}'
    assert stl("jsonParse", '{"a": [1, 2.5, true, null]}') == {"a": [1, 2.5, True, None]}
    assert "Invalid JSON" in error_message(*call("jsonParse", "{"))
    assert stl("isValidJSON", "[1]") is True
    assert stl("isValidJSON", "nope") is False
    document = '{"a": {"b": [10, 20.5, "30", true]}}'
    assert stl("JSONHas", document, "a", "b", -1) is True
    assert stl("JSONHas", document, "a", "b", 0) is False
    assert stl("JSONLength", document, "a", "b") == 4
    assert stl("JSONLength", document, "zz") == 0
    assert stl("JSONExtractInt", document, "a", "b", 2) == 20
    assert stl("JSONExtractInt", document, "a", "b", 3) == 30
    assert stl("JSONExtractFloat", document, "a", "b", 1) == 10.0
    assert stl("JSONExtractString", document, "a", "b", 3) == "30"
    assert stl("JSONExtractString", document, "a", "missing") is None
    assert stl("JSONExtractBool", document, "a", "b", 4) is True
    assert stl("JSONExtractBool", document, "a", "b", 1) is False
    assert stl("JSONExtractArrayRaw", document, "a", "b") == [10, 20.5, "30", True]
    # PostHog's VMs ignore JSONExtract's return type and hand back the value found.
    assert stl("JSONExtract", document, "a", "b", 2, "Int64") == 20.5
    assert stl("JSONExtract", document, "a", "b", 3, "Nullable(String)") == "30"
    assert stl("JSONExtract", document, "a", "b", 3, "Int64") == "30"
    assert stl("JSONExtract", "not json", "a", "String") is None
    assert stl("JSONExtractInt", {"a": 7}, "a") == 7


def test_crypto() -> None:
    text = "this is a secure string"
    assert stl("md5Hex", text) == "e7b466647ea215dbe59b00c756560911"
    assert stl("sha1Hex", "abc") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert stl("sha256", text, "hex") == "5216c0931310b31737ef30353830c234901283544e934f54eb75f622cfb86c9d"
    assert stl("sha256", "abc", "base64") == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    assert stl("sha256", "abc", "base64url") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
    assert len(stl("md5", "abc", "binary")) == 16
    assert stl("md5Hex", None) is None
    chain = stl("sha256HmacChainHex", ["key", "msg"])
    assert chain == "2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628"
    assert stl("sha256HmacChain", ["key", "msg", "more"], "hex") == stl("sha256HmacChainHex", ["key", "msg", "more"])
    assert len(stl("sha1HmacChainHex", ["a", "b"])) == 40
    assert "at least 2 items" in error_message(*call("sha256HmacChainHex", ["only"]))


@pytest.mark.parametrize(
    ("ip", "cidr", "expected"),
    [
        ("10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "11.0.0.0/8", False),
        ("2001:db8::1", "2001:db8::/32", True),
        ("10.1.2.3", "2001:db8::/32", False),
        ("10.1.2.3", "10.0.0.0", False),
        ("10.1.2.3", "10.0.0.0/33", False),
        ("nope", "10.0.0.0/8", False),
        (None, "10.0.0.0/8", False),
    ],
)
def test_ip_ranges(ip: Any, cidr: Any, expected: bool) -> None:
    assert stl("isIPAddressInRange", ip, cidr) is expected


def test_errors_and_print() -> None:
    assert stl("Error") == {"__hogError__": True, "type": "Error", "message": "An error occurred", "payload": None}
    assert stl("RetryError", "m")["type"] == "RetryError"
    assert stl("HogError", "Fish", "m", 1)["payload"] == 1
    assert run(*call("print", "a", 1, "b", None, (1,), {"k": "v's"})).prints == ["a 1 b null tuple(1) {'k': 'v\\'s'}"]


def test_sleep_is_refused_unless_the_host_makes_it_async() -> None:
    from app.hog import execute

    with pytest.raises(HogVMError, match="only function steps may sleep"):
        run(*call("sleep", 0.001))
    paused = execute(program(*call("sleep", 5)), async_functions=("sleep",))
    assert not paused.finished
    assert paused.async_call is not None and paused.async_call.name == "sleep" and paused.async_call.args == [5]


def test_host_functions() -> None:
    seen: list[Any] = []

    def record(*args: Any) -> Any:
        seen.append(args)
        return {"ok": (1, 2)}

    result = run(*call("record", "a", (1, 2)), functions={"record": record})
    assert seen == [("a", [1, 2])]
    assert result.result == {"ok": (1, 2)}
    result = run(*call("upper", "x"), functions={"upper": lambda text: "host " + text})
    assert result.result == "host x"
    via_closure = run(Op.STRING, "q", Op.STRING, "record", Op.GET_GLOBAL, 1, Op.CALL_LOCAL, 1,
                      functions={"record": record})  # fmt: skip
    assert via_closure.result == {"ok": (1, 2)}
