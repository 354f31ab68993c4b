"""JSON with orjson, with exactly the standard library's results.

orjson is several times faster than `json.loads` on the flows' `actions`, `edges` and `trigger`, but it
reads integers beyond 64 bits as floats and refuses `1e400` and lone surrogates, all of which `jsonb`
can hold. Texts that might contain such an integer (a run of 19+ ASCII digits) and texts orjson refuses
go to `json.loads`, so every value decodes as before. `dumps` likewise leaves to `json` what orjson
cannot write (integers beyond 64 bits).
"""

import json
from typing import Any

import orjson

# Digits become `0` and every other byte `x`: a run of 19 digits is then a plain substring search, several
# times cheaper than a regex over the text.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x78 for byte in range(256))
_LONG_RUN = b"0" * 19


def _has_long_integer(data: bytes) -> bool:
    return _LONG_RUN in data.translate(_DIGITS_AS_ZERO)


def loads(text: str | bytes) -> Any:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _has_long_integer(data):
        return json.loads(text)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 (Starlette's JSONResponse body for the same value)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
