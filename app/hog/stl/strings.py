"""STL: string functions. Null in -> null out where PostHog's ``nulls`` fixture says so."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from typing import Any

from app.hog.errors import HogVMError
from app.hog.regex import regex_extract, regex_search
from app.hog.stl.registry import StlContext, arg, stl
from app.hog.values import hog_typeof, like


def _string_arg(value: Any, fn: str) -> str:
    if type(value) is not str:
        raise HogVMError(f"Function {fn} expects a string, got {hog_typeof(value)}")
    return value


@stl("length", 1, 1)
def _length(ctx: StlContext, args: list[Any]) -> int | None:
    value = args[0]
    if value is None:
        return None
    if type(value) in (str, list, tuple, dict):
        return len(value)
    return 0


@stl("lower", 1, 1)
def _lower(ctx: StlContext, args: list[Any]) -> str | None:
    return None if args[0] is None else _string_arg(args[0], "lower").lower()


@stl("upper", 1, 1)
def _upper(ctx: StlContext, args: list[Any]) -> str | None:
    return None if args[0] is None else _string_arg(args[0], "upper").upper()


@stl("reverse", 1, 1)
def _reverse(ctx: StlContext, args: list[Any]) -> str | None:
    return None if args[0] is None else _string_arg(args[0], "reverse")[::-1]


def _trim(args: list[Any], fn: str, left: bool, right: bool) -> str | None:
    if args[0] is None:
        return None
    text = _string_arg(args[0], fn)
    chars = arg(args, 1, " ")
    if type(chars) is not str or len(chars) > 1:
        return ""
    if left and right:
        return text.strip(chars)
    return text.lstrip(chars) if left else text.rstrip(chars)


@stl("trim", 1, 2)
def _trim_both(ctx: StlContext, args: list[Any]) -> str | None:
    return _trim(args, "trim", True, True)


@stl("trimLeft", 1, 2)
def _trim_left(ctx: StlContext, args: list[Any]) -> str | None:
    return _trim(args, "trimLeft", True, False)


@stl("trimRight", 1, 2)
def _trim_right(ctx: StlContext, args: list[Any]) -> str | None:
    return _trim(args, "trimRight", False, True)


@stl("replaceOne", 3, 3)
def _replace_one(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None:
        return None
    text = _string_arg(args[0], "replaceOne")
    return text.replace(_string_arg(args[1], "replaceOne"), _string_arg(args[2], "replaceOne"), 1)


@stl("replaceAll", 3, 3)
def _replace_all(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None:
        return None
    text = _string_arg(args[0], "replaceAll")
    old, new = _string_arg(args[1], "replaceAll"), _string_arg(args[2], "replaceAll")
    count = text.count(old) if old else len(text) + 1
    # Charge the result before building it: replaceAll(s, 'x', s) squares the length in one call.
    ctx.allocate(len(text) + count * max(0, len(new) - len(old)))
    return text.replace(old, new)


def _position(args: list[Any], case_insensitive: bool) -> int:
    text, needle = args[0], args[1]
    if type(text) is not str or type(needle) is not str:
        return 0
    start = arg(args, 2, 1)
    start = start - 1 if type(start) is int and start > 0 else 0
    if case_insensitive:
        text, needle = text.lower(), needle.lower()
    return text.find(needle, start) + 1


@stl("position", 2, 3)
def _position_cs(ctx: StlContext, args: list[Any]) -> int:
    return _position(args, False)


@stl("positionCaseInsensitive", 2, 3)
def _position_ci(ctx: StlContext, args: list[Any]) -> int:
    return _position(args, True)


@stl("startsWith", 2, 2)
def _starts_with(ctx: StlContext, args: list[Any]) -> bool:
    return type(args[0]) is str and type(args[1]) is str and args[0].startswith(args[1])


@stl("substring", 2, 3)
def _substring(ctx: StlContext, args: list[Any]) -> str:
    text, start, length = args[0], args[1], arg(args, 2)
    if type(text) is not str or type(start) is not int or (length is not None and type(length) is not int):
        return ""
    if start > 0:
        begin = start - 1
    elif start < 0:
        begin = max(0, len(text) + start)
    else:
        return ""
    if length is None:
        return text[begin:]
    end = len(text) + length if length < 0 else begin + length
    return text[begin : max(begin, end)]


@stl("splitByString", 2, 3)
def _split_by_string(ctx: StlContext, args: list[Any]) -> list[str] | None:
    separator, text = args[0], args[1]
    if text is None:
        return None
    text = _string_arg(text, "splitByString")
    separator = _string_arg(separator, "splitByString")
    parts = list(text) if separator == "" else text.split(separator)
    limit = arg(args, 2)
    if type(limit) is int and limit > 0:
        parts = parts[:limit]
    return parts


@stl("like", 2, 2)
def _like(ctx: StlContext, args: list[Any]) -> bool:
    return like(args[0], args[1])


@stl("ilike", 2, 2)
def _ilike(ctx: StlContext, args: list[Any]) -> bool:
    return like(args[0], args[1], case_insensitive=True)


@stl("notLike", 2, 2)
def _not_like(ctx: StlContext, args: list[Any]) -> bool:
    return not like(args[0], args[1])


@stl("notILike", 2, 2)
def _not_ilike(ctx: StlContext, args: list[Any]) -> bool:
    return not like(args[0], args[1], case_insensitive=True)


@stl("match", 2, 2)
def _match(ctx: StlContext, args: list[Any]) -> bool:
    if type(args[0]) is not str or type(args[1]) is not str:
        return False
    return regex_search(ctx, args[1], args[0], case_insensitive=False)


@stl("extractRegex", 2, 2)
def _extract_regex(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None or args[1] is None:
        return None
    return regex_extract(ctx, _string_arg(args[1], "extractRegex"), _string_arg(args[0], "extractRegex"))


@stl("multiSearchAnyCaseInsensitive", 2, 2)
def _multi_search_any_ci(ctx: StlContext, args: list[Any]) -> bool:
    text, needles = args[0], args[1]
    if type(text) is not str or type(needles) not in (list, tuple):
        return False
    lowered = text.lower()
    return any(type(n) is str and n.lower() in lowered for n in needles)


# --- encodings ------------------------------------------------------------------------------------

# JavaScript's encodeURIComponent keeps these besides letters, digits and "-_.~".
_URI_SAFE = "!*'()"
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


@stl("encodeURLComponent", 1, 1)
def _encode_url_component(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None:
        return None
    return urllib.parse.quote(_string_arg(args[0], "encodeURLComponent"), safe=_URI_SAFE)


@stl("decodeURLComponent", 1, 1)
def _decode_url_component(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None:
        return None
    return urllib.parse.unquote(_string_arg(args[0], "decodeURLComponent"))


@stl("tryDecodeURLComponent", 1, 1)
def _try_decode_url_component(ctx: StlContext, args: list[Any]) -> str | None:
    text = args[0]
    if type(text) is not str or _BAD_PERCENT.search(text):
        return None
    try:
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        return None


@stl("base64Encode", 1, 1)
def _base64_encode(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None:
        return None
    return base64.b64encode(_string_arg(args[0], "base64Encode").encode("utf-8")).decode("ascii")


def _b64decode(text: str) -> str:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, validate=True).decode("utf-8")


@stl("base64Decode", 1, 1)
def _base64_decode(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None:
        return None
    try:
        return _b64decode(_string_arg(args[0], "base64Decode"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HogVMError("Function base64Decode: invalid base64 input") from None


@stl("tryBase64Decode", 1, 1)
def _try_base64_decode(ctx: StlContext, args: list[Any]) -> str:
    if type(args[0]) is not str:
        return ""
    try:
        return _b64decode(args[0])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
