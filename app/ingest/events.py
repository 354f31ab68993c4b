"""One captured event, normalised the way PostHog's ingestion does before anything reads it.

`normalize_event` validates the raw SDK object and pulls out what person processing needs
(`$set`, `$set_once`, `$identify`'s `$anon_distinct_id`, `$create_alias`'s `alias`, `$groups`).
`event_globals` is the frozen copy a run keeps in `state.event` (PostHog's HogFunction event globals).
"""

import uuid as uuid_module
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from dateutil.parser import isoparse

from app.db.base import uuid7
from app.ingest.errors import invalid_payload
from app.ingest.sanitize import UnstorableValue, storable

# PostHog truncates event names and refuses longer distinct ids.
MAX_EVENT_NAME = 200
MAX_DISTINCT_ID = 200
# Clients with clocks far in the future would otherwise write events "from tomorrow".
_MAX_FUTURE = timedelta(hours=23)


@dataclass
class IncomingEvent:
    uuid: str
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime
    elements_chain: str = ""
    set: dict[str, Any] = field(default_factory=dict)
    set_once: dict[str, Any] = field(default_factory=dict)
    # `$identify` / `$create_alias`: another distinct id that becomes the same person.
    merge_with: str | None = None
    # `$process_person_profile: false` events are personless: no person is created or read.
    process_person: bool = True
    # `$groups`: group type -> group key.
    groups: dict[str, str] = field(default_factory=dict)


def _id_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _object(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_payload(f"`{where}` must be an object")
    return value


def _parse_time(value: Any) -> datetime | None:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        if isinstance(value, str) and value:
            if value.isdigit():
                return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
            parsed = isoparse(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def event_timestamp(raw: dict[str, Any], sent_at: Any, now: datetime) -> datetime:
    """PostHog's rule: with `sent_at`, trust the client's clock only for the gap between the two."""
    timestamp = _parse_time(raw.get("timestamp"))
    sent = _parse_time(sent_at)
    properties = raw.get("properties")
    ignore_sent_at = isinstance(properties, dict) and properties.get("$ignore_sent_at") is True
    try:
        if timestamp is not None and sent is not None and not ignore_sent_at:
            result = now + (timestamp - sent)
        elif timestamp is not None:
            result = timestamp
        elif isinstance(raw.get("offset"), int | float) and not isinstance(raw.get("offset"), bool):
            result = now - timedelta(milliseconds=raw["offset"])
        else:
            result = now
    except (OverflowError, ValueError):  # absurd dates: the server's clock is the best guess
        return now
    return now if result - now > _MAX_FUTURE else result


def _event_uuid(value: Any) -> str:
    if isinstance(value, str):
        try:
            return str(uuid_module.UUID(value))
        except ValueError:
            pass
    return str(uuid7())


def normalize_event(raw: Any, *, sent_at: Any, now: datetime) -> IncomingEvent:
    if not isinstance(raw, dict):
        raise invalid_payload("every event must be an object")
    try:
        raw = storable(raw)
    except UnstorableValue as error:
        raise invalid_payload(str(error)) from error
    name = raw.get("event")
    if not isinstance(name, str) or not name:
        raise invalid_payload("All events must have the event name field 'event'!")
    properties = dict(_object(raw, "properties", "properties"))
    distinct_id = (
        _id_text(raw.get("distinct_id"))
        or _id_text(properties.get("distinct_id"))
        or _id_text(raw.get("$distinct_id"))
        or _id_text(properties.get("$distinct_id"))
    )
    if distinct_id is None:
        raise invalid_payload("You need to set user distinct ID field `distinct_id`.")
    if len(distinct_id) > MAX_DISTINCT_ID:
        raise invalid_payload(f"`distinct_id` must be at most {MAX_DISTINCT_ID} characters")
    # Top-level `$set`/`$set_once` (server SDKs) end up in the properties, as in PostHog.
    set_properties = {**_object(properties, "$set", "properties.$set"), **_object(raw, "$set", "$set")}
    set_once = {**_object(properties, "$set_once", "properties.$set_once"), **_object(raw, "$set_once", "$set_once")}
    if set_properties:
        properties["$set"] = set_properties
    if set_once:
        properties["$set_once"] = set_once
    elements_chain = raw.get("elements_chain") or properties.get("$elements_chain") or ""
    groups = properties.get("$groups")
    return IncomingEvent(
        uuid=_event_uuid(raw.get("uuid")),
        event=name[:MAX_EVENT_NAME],
        distinct_id=distinct_id,
        properties=properties,
        timestamp=event_timestamp(raw, sent_at, now),
        elements_chain=elements_chain if isinstance(elements_chain, str) else "",
        set=set_properties,
        set_once=set_once,
        merge_with=_merge_target(name, properties),
        process_person=properties.get("$process_person_profile") is not False,
        groups={
            str(kind): key
            for kind, value in (groups.items() if isinstance(groups, dict) else [])
            if (key := _id_text(value)) is not None
        },
    )


def _merge_target(name: str, properties: dict[str, Any]) -> str | None:
    if name == "$identify":
        other = _id_text(properties.get("$anon_distinct_id"))
    elif name in ("$create_alias", "$merge_dangerously"):
        other = _id_text(properties.get("alias"))
    else:
        return None
    return other if other is not None and len(other) <= MAX_DISTINCT_ID else None


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_globals(event: IncomingEvent, project_url: str) -> dict[str, Any]:
    """`{uuid, event, distinct_id, properties, elements_chain, timestamp, url}`, as a run stores it."""
    timestamp = iso_timestamp(event.timestamp)
    return {
        "uuid": event.uuid,
        "event": event.event,
        "distinct_id": event.distinct_id,
        "properties": event.properties,
        "elements_chain": event.elements_chain,
        "timestamp": timestamp,
        "url": f"{project_url}/events/{quote(event.uuid, safe='')}/{quote(timestamp, safe='')}",
    }
