"""The API's renderings of a flow (detail and list item) from plain rows, without pydantic on the way out.

`app.schemas.hog_flow.HogFlow` (detail) and `HogFlowMinimal` (list) stay the definition and the OpenAPI
schema; validating rows into them and dumping them cost several times the request's other work, so this
module builds the same JSON directly. It covers what the write path stores (actions as `ActionIn` dumps
them); any value of another type than the fast path expects goes through the models instead, so the
output is the models' in every case. Secret inputs are masked in place: each row's JSON is decoded
afresh for the request, so nothing shared is touched.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.db.repositories.hog_flow import SCHEDULE_COLUMNS, USER_BASIC_COLUMNS
from app.schemas.hog_flow import HogFlow, HogFlowMinimal, HogFlowStatus
from app.services.secret_inputs import mask_action_in_place

_STATUSES = frozenset(status.value for status in HogFlowStatus)
_USER_KEYS = [(f"created_by__{name}", name) for name in USER_BASIC_COLUMNS]
_SCHEDULE_KEYS = [(f"schedule__{name}", name) for name in SCHEDULE_COLUMNS]
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


def _flow_data(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The flow's columns by field name, `created_by` as a dict (as the models read them)."""
    data = {column: row[column] for column in _BASE_COLUMNS}
    data["trigger_masking"] = row["trigger_masking"]
    data["actions"] = row["actions"]
    user_id = row["created_by__id"]
    data["created_by"] = None if user_id is None else {name: row[key] for key, name in _USER_KEYS}
    return data


_BASE_COLUMNS = (
    "id", "name", "description", "version", "status", "created_at", "updated_at", "trigger",
    "conversion", "exit_condition", "edges", "abort_action", "variables", "billable_action_types",
    "origin_product", "draft", "draft_updated_at",
)  # fmt: skip


def _render_base(data: dict[str, Any]) -> dict[str, Any]:
    """HogFlowBase's fields in its order, secret inputs of `trigger` and `draft` masked."""
    if not (
        _str_or_none(data["name"])
        and type(data["description"]) is str
        and _is_int(data["version"])
        and data["status"] in _STATUSES
        and type(data["trigger"]) is dict
        and (data["conversion"] is None or type(data["conversion"]) is dict)
        and type(data["exit_condition"]) is str
        and _str_or_none(data["abort_action"])
        and _list_of_dicts(data["variables"])
        and type(data["billable_action_types"]) is list
        and all(type(item) is str for item in data["billable_action_types"])
        and _str_or_none(data["origin_product"])
        and (data["draft"] is None or type(data["draft"]) is dict)
    ):
        raise _Unexpected
    creator = data["created_by"]
    if creator is not None:
        if creator["hedgehog_config"] is not None and type(creator["hedgehog_config"]) is not dict:
            raise _Unexpected
        creator = {**creator, "uuid": str(creator["uuid"])}
    trigger = data["trigger"]
    mask_action_in_place({"type": "trigger", "config": trigger})
    draft = data["draft"]
    if draft is not None:
        draft = dict(draft)
        if type(draft.get("actions")) is list:
            for action in draft["actions"]:
                if type(action) is dict:
                    mask_action_in_place(action)
        if type(draft.get("trigger")) is dict and draft["trigger"]:
            mask_action_in_place({"type": "trigger", "config": draft["trigger"]})
    return {
        "id": str(data["id"]),
        "name": data["name"],
        "description": data["description"],
        "version": data["version"],
        "status": data["status"],
        "created_at": _drf(data["created_at"]),
        "created_by": creator,
        "updated_at": _drf(data["updated_at"]),
        "trigger": trigger,
        "conversion": data["conversion"],
        "exit_condition": data["exit_condition"],
        "edges": data["edges"],
        "abort_action": data["abort_action"],
        "variables": data["variables"],
        "billable_action_types": data["billable_action_types"],
        "origin_product": data["origin_product"],
        "draft": draft,
        "draft_updated_at": _drf(data["draft_updated_at"]),
    }


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


def _render_trigger_masking(masking: Any) -> dict[str, Any] | None:
    if masking is None:
        return None
    if type(masking) is not dict:
        raise _Unexpected
    ttl, threshold, hash_ = masking.get("ttl"), masking.get("threshold"), masking.get("hash")
    if not ((ttl is None or _is_int(ttl)) and (threshold is None or _is_int(threshold)) and _str_or_none(hash_)):
        raise _Unexpected
    return {field: masking.get(field) for field in _TRIGGER_MASKING_FIELDS}


def _schedule(row: Mapping[Any, Any]) -> dict[str, Any]:
    """app.schemas.schedules.Schedule's JSON."""
    schedule = {name: row[key] for key, name in _SCHEDULE_KEYS}
    if not (type(schedule["rrule"]) is str and type(schedule["timezone"]) is str and type(schedule["status"]) is str):
        raise _Unexpected
    schedule["id"] = str(schedule["id"])
    for name in ("starts_at", "next_run_at", "created_at", "updated_at"):
        schedule[name] = _drf(schedule[name])
    return schedule


def render_detail(rows: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    """The detail rendering (`HogFlow`) of the rows of `HogFlowReads.detail` (at least one)."""
    data = _flow_data(rows[0])
    try:
        schedules = [_schedule(row) for row in rows if row["schedule__id"] is not None]
        rendered = _render_base(data)
        rendered["trigger_masking"] = _render_trigger_masking(data["trigger_masking"])
        if type(data["actions"]) is not list:
            raise _Unexpected
        rendered["actions"] = [_render_action(action) for action in data["actions"]]
        rendered["schedules"] = schedules
        return rendered
    except _Unexpected:
        pass
    from app.schemas.schedules import Schedule

    data = _flow_data(rows[0])  # afresh: the fast path may have masked part of it
    data["schedules"] = [
        Schedule.model_validate({name: row[key] for key, name in _SCHEDULE_KEYS}).model_dump(mode="json")
        for row in rows
        if row["schedule__id"] is not None
    ]
    return HogFlow.model_validate(data).model_dump(mode="json")


def render_list_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The list rendering (`HogFlowMinimal`) of one row of `HogFlowReads.page`."""
    data = _flow_data(row)
    try:
        masking, actions = data["trigger_masking"], data["actions"]
        if not ((masking is None or type(masking) is dict) and _list_of_dicts(actions)):
            raise _Unexpected
        rendered = _render_base(data)
        rendered["trigger_masking"] = masking
        for action in actions:
            mask_action_in_place(action)
        rendered["actions"] = actions
        return rendered
    except _Unexpected:
        return HogFlowMinimal.model_validate(_flow_data(row)).model_dump(mode="json")
