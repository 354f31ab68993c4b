"""Runtime globals seen by filter bytecode (api.md §10.3, `convertToHogFunctionFilterGlobal`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from app.filters.elements import derived_fields

MAX_GROUP_TYPES = 5


def _person_id(person: Mapping[str, Any]) -> Any:
    return person.get("id", person.get("uuid"))


def _object(value: Any) -> dict[str, Any]:
    """A properties object; JSON text (as stored in ClickHouse rows) is parsed."""
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _groups(groups: Mapping[str, Any] | list[Any] | None) -> list[Mapping[str, Any]]:
    if not groups:
        return []
    values = groups.values() if isinstance(groups, Mapping) else groups
    return [g for g in values if isinstance(g, Mapping)]


def build_filter_globals(
    event: Mapping[str, Any],
    person: Mapping[str, Any] | None,
    groups: Mapping[str, Any] | list[Any] | None = None,
    variables: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the globals a filter's bytecode runs against.

    `event` is the CDP event `{uuid, event, distinct_id, properties, elements_chain, timestamp}`,
    `person` `{id, properties}` (or None), `groups` maps group type → `{id, index, properties}`.
    """
    properties = _object(event.get("properties"))
    elements_chain = event.get("elements_chain")
    if elements_chain is None:
        elements_chain = properties.get("$elements_chain")
    distinct_id = event.get("distinct_id")

    person_value: dict[str, Any] | None = None
    pdi: dict[str, Any] | None = None
    if person:
        person_id = _person_id(person)
        person_properties = _object(person.get("properties"))
        pdi = {
            "distinct_id": distinct_id,
            "person_id": person_id,
            "person": {"id": person_id, "properties": person_properties},
        }
        # `person.pdi.distinct_id` is what a person `distinct_id` filter reads.
        person_value = {
            "id": person_id,
            "properties": person_properties,
            "pdi": {"distinct_id": distinct_id, "person_id": person_id},
        }

    result: dict[str, Any] = {
        "event": event.get("event"),
        "uuid": event.get("uuid"),
        "distinct_id": distinct_id,
        "timestamp": _timestamp(event.get("timestamp")),
        "properties": properties,
        "elements_chain": elements_chain,
        **derived_fields(elements_chain),
        "person": person_value,
        "person_id": person_value["id"] if person_value else None,
        "pdi": pdi,
        "variables": dict(variables) if variables else {},
    }
    for index in range(MAX_GROUP_TYPES):
        result[f"$group_{index}"] = None
        result[f"group_{index}"] = {"properties": {}}
    for index in range(MAX_GROUP_TYPES):
        # Without enriched groups, the group keys still come from the event properties.
        key = properties.get(f"$group_{index}")
        if key not in (None, ""):
            result[f"$group_{index}"] = key
    for group in _groups(groups):
        group_index = group.get("index")
        if isinstance(group_index, bool) or not isinstance(group_index, int):
            continue
        if not 0 <= group_index < MAX_GROUP_TYPES:
            continue
        index = group_index
        result[f"group_{index}"] = {"properties": _object(group.get("properties"))}
        result[f"$group_{index}"] = group.get("id", group.get("key"))
    return result
