"""The tokens PostHog's UI turns into links inside log messages."""

from typing import Any


def event_token(event: dict[str, Any]) -> str:
    name = str(event.get("event") or "").replace("|", "")
    return f"[Event:{event.get('uuid')}|{name}|{event.get('timestamp')}]"


def person_display_name(person: dict[str, Any]) -> str:
    properties = person.get("properties") or {}
    for key in ("email", "name", "username"):
        if properties.get(key):
            return str(properties[key])
    return str(person.get("distinct_id") or person.get("id"))


def person_token(person: dict[str, Any] | None) -> str:
    if not person:
        return "[Person:unknown]"
    return f"[Person:{person.get('id')}|{person_display_name(person)}]"
