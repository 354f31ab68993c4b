"""The runs a batch job (or a schedule) creates: one per person, with the job's variables."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from app.audiences import batch_event
from app.db.base import uuid7
from app.db.models import HogFlow, RunStatus
from app.engine.invocation import default_variables, initial_state


def job_variables(raw: Any) -> dict[str, Any]:
    """Variable overrides: an object, or PostHog's list form `[{"key": ..., "value": ...}]`."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, list):
        found: dict[str, Any] = {}
        for item in raw:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                found[item["key"]] = item.get("value")
        return found
    return {}


def merged_variables(declared: Any, overrides: Any) -> dict[str, Any]:
    """A flow's declared defaults with the overrides over them (PostHog's `_resolve_variables`):
    what a batch job's runs start with, and what the job echoes."""
    merged = {
        item["key"]: item.get("default")
        for item in declared or []
        if isinstance(item, Mapping) and isinstance(item.get("key"), str)
    }
    merged.update(job_variables(overrides))
    return merged


def batch_run_row(
    flow: HogFlow,
    *,
    job_id: UUID,
    person_id: UUID,
    distinct_id: str | None,
    variables: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A `hog_flow_runs` row for one person of a batch job (PostHog: a child with `parentRunId`)."""
    state = initial_state(batch_event(distinct_id or "", now), default_variables(flow.variables), variables)
    state["personId"] = str(person_id)
    return {
        "id": uuid7(),
        "team_id": flow.team_id,
        "hog_flow_id": flow.id,
        "version": flow.version,
        "parent_run_id": str(job_id),
        "status": RunStatus.QUEUED,
        "state": state,
        "current_action_id": None,
        "distinct_id": distinct_id,
        "person_id": person_id,
        "next_run_at": now,
        "pickups": 0,
        "is_manual": False,
        "created_at": now,
        "updated_at": now,
    }
