"""Decoding capture bodies and normalising events."""

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.ingest.errors import CaptureError
from app.ingest.events import event_timestamp, normalize_event
from app.ingest.payloads import decode_capture

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def decode(body: bytes, content_type: str = "application/json", encoding: str = "", **query: str) -> object:
    return decode_capture(
        body, content_type=content_type, content_encoding=encoding, query=query, max_inflated_bytes=1 << 20
    )


def test_token_from_every_place() -> None:
    assert decode(b'{"api_key": "a", "batch": []}').token == "a"  # type: ignore[attr-defined]
    assert decode(b'{"token": "b", "event": "e"}').token == "b"  # type: ignore[attr-defined]
    assert decode(b'[{"event": "e", "properties": {"token": "c"}}]').token == "c"  # type: ignore[attr-defined]
    assert decode(b'{"event": "e"}', token="d").token == "d"  # type: ignore[attr-defined]
    assert decode(b'{"event": "e"}').token is None  # type: ignore[attr-defined]


def test_base64_gzip_combination() -> None:
    raw = base64.b64encode(gzip.compress(json.dumps({"api_key": "t", "event": "e"}).encode()))
    decoded = decode(b"data=" + raw.replace(b"+", b"%2B"), "application/x-www-form-urlencoded")
    assert decoded.events == [{"api_key": "t", "event": "e"}]  # type: ignore[attr-defined]


def test_batch_must_be_a_list() -> None:
    with pytest.raises(CaptureError) as error:
        decode(b'{"api_key": "t", "batch": {"event": "e"}}')
    assert error.value.status_code == 400


def test_timestamps_follow_posthog_clock_skew_rule() -> None:
    # The client clock is an hour fast: timestamp and sent_at agree, so the event happened 5 s ago.
    raw = {"timestamp": "2024-06-01T12:59:55Z"}
    assert event_timestamp(raw, "2024-06-01T13:00:00Z", NOW) == NOW - timedelta(seconds=5)
    assert event_timestamp({"timestamp": "2024-06-01T10:00:00+02:00"}, None, NOW) == datetime(2024, 6, 1, 8, tzinfo=UTC)
    assert event_timestamp({"offset": 1500}, None, NOW) == NOW - timedelta(milliseconds=1500)
    assert event_timestamp({"timestamp": "garbage"}, None, NOW) == NOW
    assert event_timestamp({"timestamp": "2030-01-01T00:00:00Z"}, None, NOW) == NOW


def test_normalize_pulls_out_person_updates() -> None:
    event = normalize_event(
        {
            "event": "$identify",
            "distinct_id": 42,
            "$set": {"a": 1},
            "properties": {"$anon_distinct_id": "anon", "$set": {"b": 2}, "$groups": {"company": "acme", "bad": {}}},
        },
        sent_at=None,
        now=NOW,
    )
    assert event.distinct_id == "42"
    assert event.set == {"b": 2, "a": 1}
    assert event.properties["$set"] == {"b": 2, "a": 1}
    assert event.merge_with == "anon"
    assert event.groups == {"company": "acme"}
    assert event.process_person


def test_uuid_is_kept_or_made() -> None:
    kept = normalize_event(
        {"event": "e", "distinct_id": "d", "uuid": "0190A000-0000-7000-8000-000000000001"}, sent_at=None, now=NOW
    )
    assert kept.uuid == "0190a000-0000-7000-8000-000000000001"
    made = normalize_event({"event": "e", "distinct_id": "d", "uuid": "nope"}, sent_at=None, now=NOW)
    assert len(made.uuid) == 36
