"""The API's renderings of a flow (detail and list item) from plain rows, without pydantic on the way out.

`app.schemas.hog_flow.HogFlow` (detail) and `HogFlowMinimal` (list) stay the definition and the OpenAPI
schema; validating rows into them and dumping them cost several times the request's other work, so this
module builds the same JSON directly. It covers what the write path stores (actions as `ActionIn` dumps
them); any value of another type than the fast path expects goes through the models instead, so the
output is the models' in every case.

The rows carry JSON columns as text. Each column's rendering (decoded, checked, secret inputs masked,
encoded) depends on nothing but that text, so it is kept per text in a bounded cache and embedded as an
`orjson.Fragment`: a flow read again costs a dictionary look-up per column instead of a decode and a dump.
A list item depends on nothing but its row, so it is kept whole, by the row's values, the same way.
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from app.db.json_codec import dumps, loads
from app.db.repositories.hog_flow import SCHEDULE_COLUMNS, USER_BASIC_COLUMNS
from app.schemas.hog_flow import HogFlow, HogFlowMinimal, HogFlowStatus
from app.schemas.schedules import Schedule
from app.services.secret_inputs import mask_action_in_place

_STATUSES = frozenset(status.value for status in HogFlowStatus)
_USER_KEYS = [(f"created_by__{name}", name) for name in USER_BASIC_COLUMNS]
_SCHEDULE_KEYS = [(f"schedule__{name}", name) for name in SCHEDULE_COLUMNS]
_JSON_COLUMNS = (
    "trigger", "trigger_masking", "conversion", "edges", "actions", "variables", "billable_action_types", "draft",
)  # fmt: skip
_ACTION_FIELDS = ("id", "name", "description", "on_error", "filters", "type", "config", "output_variable")
_FILTERS_FIELDS = (
    "events", "actions", "properties", "filter_test_accounts", "source", "bytecode", "bytecode_error",
)  # fmt: skip
_EVENT_FIELDS = ("id", "name", "type", "order", "properties")
_TRIGGER_MASKING_FIELDS = ("ttl", "threshold", "hash", "bytecode")


class _Unexpected(Exception):
    """A value the fast path does not render itself: the pydantic models do."""


def _drf(value: datetime | None) -> str | None:
    # app.schemas.hog_flow._drf_datetime
    return None if value is None else value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _is_int(value: Any) -> bool:
    return type(value) is int


def _str_or_none(value: Any) -> bool:
    return value is None or type(value) is str


def _list_of_dicts(value: Any) -> bool:
    return type(value) is list and all(type(item) is dict for item in value)


def _dict_or_none(value: Any) -> Any:
    if value is not None and type(value) is not dict:
        raise _Unexpected
    return value


def _any(value: Any) -> Any:
    return value


def _trigger(value: Any) -> Any:
    if type(value) is not dict:
        raise _Unexpected
    mask_action_in_place({"type": "trigger", "config": value})
    return value


def _variables(value: Any) -> Any:
    if not _list_of_dicts(value):
        raise _Unexpected
    return value


def _billable_action_types(value: Any) -> Any:
    if type(value) is not list or not all(type(item) is str for item in value):
        raise _Unexpected
    return value


def _draft(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is not dict:
        raise _Unexpected
    if type(value.get("actions")) is list:
        for action in value["actions"]:
            if type(action) is dict:
                mask_action_in_place(action)
    if type(value.get("trigger")) is dict and value["trigger"]:
        mask_action_in_place({"type": "trigger", "config": value["trigger"]})
    return value


def _list_actions(value: Any) -> Any:
    if not _list_of_dicts(value):
        raise _Unexpected
    for action in value:
        mask_action_in_place(action)
    return value


def _render_event(item: Any) -> dict[str, Any]:
    """EventOrActionFilter: its fields, defaults included, then the other keys."""
    if type(item) is not dict:
        raise _Unexpected
    if not (
        _str_or_none(item.get("name"))
        and _str_or_none(item.get("type"))
        and (item.get("order") is None or _is_int(item.get("order")))
        and (item.get("properties") is None or _list_of_dicts(item.get("properties")))
    ):
        raise _Unexpected
    rendered = {field: item.get(field) for field in _EVENT_FIELDS}
    rendered.update((key, value) for key, value in item.items() if key not in rendered)
    return rendered


def _render_filters(filters: Any) -> dict[str, Any]:
    """Filters: only the keys given (declared fields first), as its serializer keeps them."""
    if type(filters) is not dict:
        raise _Unexpected
    rendered: dict[str, Any] = {}
    for field in _FILTERS_FIELDS:
        if field not in filters:
            continue
        value = filters[field]
        if field in ("events", "actions"):
            if value is not None:
                if type(value) is not list:
                    raise _Unexpected
                value = [_render_event(item) for item in value]
        elif field == "properties":
            if value is not None and not _list_of_dicts(value):
                raise _Unexpected
        elif field == "filter_test_accounts":
            if value is not None and type(value) is not bool:
                raise _Unexpected
        elif field == "bytecode":
            if value is not None and type(value) is not list:
                raise _Unexpected
        elif not _str_or_none(value):
            raise _Unexpected
        rendered[field] = value
    rendered.update((key, value) for key, value in filters.items() if key not in _FILTERS_FIELDS)
    return rendered


def _render_action(action: Any) -> dict[str, Any]:
    """ActionOut: its fields, defaults included, then the other keys; secret inputs masked."""
    if type(action) is not dict:
        raise _Unexpected
    if not (
        type(action.get("id")) is str
        and type(action.get("name")) is str
        and type(action.get("type")) is str
        and type(action.get("config")) is dict
        and type(action.get("description", "")) is str
        and _str_or_none(action.get("on_error"))
    ):
        raise _Unexpected
    filters = action.get("filters")
    mask_action_in_place({"type": action["type"], "config": action["config"]})
    rendered = {
        "id": action["id"],
        "name": action["name"],
        "description": action.get("description", ""),
        "on_error": action.get("on_error"),
        "filters": None if filters is None else _render_filters(filters),
        "type": action["type"],
        "config": action["config"],
        "output_variable": action.get("output_variable"),
    }
    rendered.update((key, value) for key, value in action.items() if key not in _ACTION_FIELDS)
    return rendered


def _detail_actions(value: Any) -> Any:
    if type(value) is not list:
        raise _Unexpected
    return [_render_action(action) for action in value]


def _detail_trigger_masking(masking: Any) -> Any:
    if masking is None:
        return None
    if type(masking) is not dict:
        raise _Unexpected
    ttl, threshold, hash_ = masking.get("ttl"), masking.get("threshold"), masking.get("hash")
    if not ((ttl is None or _is_int(ttl)) and (threshold is None or _is_int(threshold)) and _str_or_none(hash_)):
        raise _Unexpected
    return {field: masking.get(field) for field in _TRIGGER_MASKING_FIELDS}


_COMMON: dict[str, Callable[[Any], Any]] = {
    "trigger": _trigger,
    "conversion": _dict_or_none,
    "edges": _any,
    "variables": _variables,
    "billable_action_types": _billable_action_types,
    "draft": _draft,
}
_LIST = {**_COMMON, "trigger_masking": _dict_or_none, "actions": _list_actions}
_DETAIL = {**_COMMON, "trigger_masking": _detail_trigger_masking, "actions": _detail_actions}


class _Bounded:
    """Encoded renderings by key, about `max_bytes` of them; the oldest entries go first (first in, first
    out: refreshing an entry on every hit would cost more than an occasional re-render)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: dict[Any, tuple[orjson.Fragment, int]] = {}

    def find(self, key: Any) -> orjson.Fragment | None:
        found = self._entries.get(key)
        return None if found is None else found[0]

    def keep(self, key: Any, encoded: bytes, size: int) -> orjson.Fragment:
        fragment = orjson.Fragment(encoded)
        self._entries[key] = (fragment, size)
        self.size += size
        while self.size > self.max_bytes and self._entries:
            self.size -= self._entries.pop(next(iter(self._entries)))[1]
        return fragment


class _RenderedColumns(_Bounded):
    """Rendered JSON columns by (renderer, stored text)."""

    def get(self, render: Callable[[Any], Any], text: str | None) -> orjson.Fragment:
        found = self.find((render, text))
        if found is not None:
            return found
        encoded = dumps(render(None if text is None else loads(text)))
        # the text, about as much rendered, and the entry itself
        return self.keep((render, text), encoded, 2 * len(text or "") + 200)


_COLUMNS = _RenderedColumns(max_bytes=32 * 1024 * 1024)
# Whole list items by the values of their row: a page read again costs a look-up per row.
_ITEMS = _Bounded(max_bytes=16 * 1024 * 1024)


def _render(row: Mapping[Any, Any], renderers: Mapping[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """HogFlowBase's fields in its order, then `trigger_masking` and `actions`."""
    if not (
        _str_or_none(row["name"])
        and type(row["description"]) is str
        and _is_int(row["version"])
        and row["status"] in _STATUSES
        and type(row["exit_condition"]) is str
        and _str_or_none(row["abort_action"])
        and _str_or_none(row["origin_product"])
    ):
        raise _Unexpected
    column = _COLUMNS.get
    creator = None
    if row["created_by__id"] is not None:
        creator = {name: row[key] for key, name in _USER_KEYS}
        creator["uuid"] = str(creator["uuid"])
        creator["hedgehog_config"] = column(_dict_or_none, creator["hedgehog_config"])
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "version": row["version"],
        "status": row["status"],
        "created_at": _drf(row["created_at"]),
        "created_by": creator,
        "updated_at": _drf(row["updated_at"]),
        "trigger": column(renderers["trigger"], row["trigger"]),
        "conversion": column(renderers["conversion"], row["conversion"]),
        "exit_condition": row["exit_condition"],
        "edges": column(renderers["edges"], row["edges"]),
        "abort_action": row["abort_action"],
        "variables": column(renderers["variables"], row["variables"]),
        "billable_action_types": column(renderers["billable_action_types"], row["billable_action_types"]),
        "origin_product": row["origin_product"],
        "draft": column(renderers["draft"], row["draft"]),
        "draft_updated_at": _drf(row["draft_updated_at"]),
        "trigger_masking": column(renderers["trigger_masking"], row["trigger_masking"]),
        "actions": column(renderers["actions"], row["actions"]),
    }


def _decoded(text: str | None) -> Any:
    return None if text is None else loads(text)


def _model_data(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The row as the models read it: JSON decoded, `created_by` a dict."""
    data = {key: row[key] for key in HogFlowMinimal.model_fields if key in row and key != "created_by"}
    for key in _JSON_COLUMNS:
        data[key] = _decoded(row[key])
    creator = None
    if row["created_by__id"] is not None:
        creator = {name: row[key] for key, name in _USER_KEYS}
        creator["hedgehog_config"] = _decoded(creator["hedgehog_config"])
    data["created_by"] = creator
    return data


def _schedule(row: Mapping[Any, Any]) -> dict[str, Any]:
    """app.schemas.schedules.Schedule's JSON."""
    schedule = {name: row[key] for key, name in _SCHEDULE_KEYS}
    if not (type(schedule["rrule"]) is str and type(schedule["timezone"]) is str and type(schedule["status"]) is str):
        raise _Unexpected
    schedule["id"] = str(schedule["id"])
    schedule["variables"] = _COLUMNS.get(_any, schedule["variables"])
    for name in ("starts_at", "next_run_at", "created_at", "updated_at"):
        schedule[name] = _drf(schedule[name])
    return schedule


def render_detail(rows: Sequence[Mapping[Any, Any]]) -> dict[str, Any] | orjson.Fragment:
    """The detail rendering (`HogFlow`) of the rows of `HogFlowReads.detail` (at least one), ready for
    `app.db.json_codec.dumps`."""
    try:
        rendered = _render(rows[0], _DETAIL)
        rendered["schedules"] = [_schedule(row) for row in rows if row["schedule__id"] is not None]
        return rendered
    except _Unexpected:
        pass
    data = _model_data(rows[0])
    data["schedules"] = [
        Schedule.model_validate(
            {name: _decoded(row[key]) if name == "variables" else row[key] for key, name in _SCHEDULE_KEYS}
        ).model_dump(mode="json")
        for row in rows
        if row["schedule__id"] is not None
    ]
    return orjson.Fragment(dumps(HogFlow.model_validate(data).model_dump(mode="json")))


def render_list_item(row: Mapping[Any, Any]) -> orjson.Fragment:
    """The list rendering (`HogFlowMinimal`) of one row of `HogFlowReads.page`, ready for
    `app.db.json_codec.dumps`."""
    key = tuple(row.values())
    try:
        found = _ITEMS.find(key)
    except TypeError:  # a value that cannot be a key (no column returns one today)
        return orjson.Fragment(_encoded_list_item(row))
    if found is not None:
        return found
    encoded = _encoded_list_item(row)
    return _ITEMS.keep(key, encoded, sum(len(value) for value in key if type(value) is str) + len(encoded) + 500)


def _encoded_list_item(row: Mapping[Any, Any]) -> bytes:
    try:
        return dumps(_render(row, _LIST))
    except _Unexpected:
        return dumps(HogFlowMinimal.model_validate(_model_data(row)).model_dump(mode="json"))
