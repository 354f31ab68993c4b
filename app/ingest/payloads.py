"""Decoding what PostHog SDKs post to the capture endpoints into a token and a list of raw events.

SDKs send one event (`{event, distinct_id, properties, ...}`), a batch (`{"api_key", "batch": [...]}`),
or a bare JSON list (posthog-js). The body may be gzip (`Content-Encoding: gzip` or
`?compression=gzip-js`), base64, or a form with a `data=` field; GET requests carry `?data=`.
"""

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from app.db.json_codec import _has_long_integer
from app.ingest.errors import CaptureError, invalid_payload, no_data

_GZIP_MAGIC = b"\x1f\x8b"
_TOKEN_KEYS = ("api_key", "token", "$token")


@dataclass(frozen=True)
class CaptureBody:
    token: str | None
    events: list[Any]
    # When the SDK sent the batch; event timestamps are corrected for the client's clock with it.
    sent_at: Any = None


def decode_capture(
    body: bytes,
    *,
    content_type: str,
    content_encoding: str,
    query: Mapping[str, str],
    max_inflated_bytes: int,
) -> CaptureBody:
    payload, compression = _payload_and_compression(body, content_type, query)
    if not payload.strip():
        raise no_data()
    wants_gzip = "gzip" in content_encoding.lower() or compression in ("gzip", "gzip-js")
    if wants_gzip or payload.startswith(_GZIP_MAGIC):
        payload = _gunzip(payload, max_inflated_bytes)
    elif compression == "base64" or not _looks_like_json(payload):
        payload = _base64(payload)
        if payload.startswith(_GZIP_MAGIC):
            payload = _gunzip(payload, max_inflated_bytes)
    data = _parse_json(payload)
    return _structure(data, query)


def _payload_and_compression(body: bytes, content_type: str, query: Mapping[str, str]) -> tuple[bytes, str]:
    compression = (query.get("compression") or "").lower()
    if content_type.lower().startswith("application/x-www-form-urlencoded") and body:
        form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        compression = (form.get("compression", [compression])[0] or compression).lower()
        data = form.get("data", [""])[0]
        return data.encode("latin-1"), compression
    if not body and "data" in query:
        return query["data"].encode("utf-8"), compression
    return body, compression


def _looks_like_json(payload: bytes) -> bool:
    return payload.lstrip()[:1] in (b"{", b"[")


def _gunzip(payload: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(payload, limit + 1)
    except zlib.error as error:
        raise invalid_payload(f"could not decompress gzip body ({error})") from error
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise CaptureError(413, "invalid_request", "request_too_large", "Request body is too large.")
    return inflated


def _base64(payload: bytes) -> bytes:
    text = payload.strip()
    try:
        return base64.b64decode(
            text + b"=" * (-len(text) % 4), altchars=b"-_" if b"-" in text or b"_" in text else None
        )
    except (binascii.Error, ValueError) as error:
        raise invalid_payload("the body is neither JSON nor base64") from error


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; PostgreSQL's JSONB would refuse them later.
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(payload: bytes) -> Any:
    # orjson where it reads exactly what `json` reads (not integers past 64 bits, which it makes floats);
    # whatever it refuses, `json` decides, and words the error.
    if not _has_long_integer(payload):
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise invalid_payload("the body is not UTF-8") from error
    except (ValueError, RecursionError) as error:
        raise invalid_payload(f"invalid JSON ({error})") from error


def _structure(data: Any, query: Mapping[str, str]) -> CaptureBody:
    sent_at = query.get("_")
    token: Any = None
    if isinstance(data, list):
        events = data
    elif isinstance(data, dict):
        if "batch" in data:
            if not isinstance(data["batch"], list):
                raise invalid_payload("`batch` must be a list of events")
            events = data["batch"]
        else:
            events = [data]
        token = next((data[key] for key in _TOKEN_KEYS if isinstance(data.get(key), str) and data[key]), None)
        sent_at = data.get("sent_at") or sent_at
    else:
        raise invalid_payload("expected an event object, a batch object or a list of events")
    token = token or query.get("token") or query.get("api_key") or _token_from_events(events)
    return CaptureBody(token=token or None, events=events, sent_at=sent_at)


def _token_from_events(events: list[Any]) -> str | None:
    """posthog-js puts the project token in every event's properties."""
    for event in events:
        if not isinstance(event, dict):
            continue
        properties = event.get("properties")
        places = (properties, event) if isinstance(properties, dict) else (event,)
        for place in places:
            for key in _TOKEN_KEYS:
                value = place.get(key)
                if isinstance(value, str) and value:
                    return value
    return None
