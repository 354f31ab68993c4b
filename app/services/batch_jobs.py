"""Starting a flow for its whole audience (batch jobs, api.md §5.1-§5.2) and listing them.

Errors follow PostHog: an unknown flow is a 404 `Workflow <pk> not found`; a flow that is not
active is refused as the MID version does; body errors come back as raw DRF dicts.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.audiences import audience_filters
from app.batch.runs import merged_variables
from app.db.base import utcnow
from app.db.models import HogFlow, HogFlowBatchJob, Team, User
from app.db.repositories.batch_jobs import BatchJobRepository
from app.db.repositories.hog_flow import HogFlowRepository
from app.db.repositories.runs import RunRepository
from app.errors import NotFound, RawError, ValidationError
from app.schemas.batch_jobs import BATCH_JOB_STATUSES
from app.services.audiences import ConfirmPolicy, check_confirmation

NOT_ACTIVE = "Workflow must be active to run a batch. Enable it first."
BATCH_JOB_NOT_FOUND = "Batch job not found."
NOT_BATCH = "Only batch Workflows are supported for batch jobs"
_NULL = "This field may not be null."


async def flow_for_batch_jobs(session: AsyncSession, team: Team, raw_id: str) -> HogFlow:
    """The flow in the URL; anything unknown (even a non-UUID) is `Workflow <pk> not found`."""
    try:
        flow_id = UUID(raw_id)
    except ValueError:
        raise NotFound(f"Workflow {raw_id} not found") from None
    flow = await HogFlowRepository(session).get(team.id, flow_id)
    if flow is None:
        raise NotFound(f"Workflow {raw_id} not found")
    return flow


def _kind(value: Any) -> str:
    return {dict: "dict", list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(
        type(value), type(value).__name__
    )


def validate_batch_job_body(body: Any) -> dict[str, Any]:
    """DRF's `HogFlowBatchJobSerializer` rules; every field error at once, as a raw dict."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise RawError({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {_kind(body)}."]})
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    if "status" in body:
        status = body["status"]
        if status is None:
            errors["status"] = [_NULL]
        elif str(status) not in BATCH_JOB_STATUSES:
            # DRF's ChoiceField looks the value up by `str()` and shows it the same way.
            errors["status"] = [f'"{status}" is not a valid choice.']
        else:
            fields["status"] = str(status)
    if "filters" in body:
        filters = body["filters"]
        if filters is None:
            errors["filters"] = [_NULL]
        elif not isinstance(filters, dict):
            errors["filters"] = [f'Expected a dictionary of items but got type "{_kind(filters)}".']
        else:
            fields["filters"] = filters
    if "variables" in body:
        if body["variables"] is None:
            errors["variables"] = [_NULL]
        else:
            fields["variables"] = body["variables"]
    if errors:
        raise RawError(errors)
    return fields


def check_flow_runs_batches(flow: HogFlow) -> None:
    if flow.status != "active":
        raise ValidationError(NOT_ACTIVE)
    if (flow.trigger or {}).get("type") != "batch":
        raise ValidationError(NOT_BATCH)


async def create_batch_job(
    session: AsyncSession, flow: HogFlow, team: Team, user: User, body: Any, policy: ConfirmPolicy
) -> HogFlowBatchJob:
    check_flow_runs_batches(flow)
    fields = validate_batch_job_body(body)
    audience = audience_filters((flow.trigger or {}).get("filters"), fields.get("filters"))
    token = body.get("confirm_token") if isinstance(body, dict) else None
    await check_confirmation(session, team, audience, token, policy)
    now = utcnow()
    job = HogFlowBatchJob(
        team_id=flow.team_id,
        hog_flow_id=flow.id,
        status=fields.get("status", "queued"),
        filters=fields.get("filters", {}),
        variables=merged_variables(flow.variables, fields.get("variables")),
        created_by_id=user.id,
        persons_matched=0,
        runs_created=0,
        created_at=now,
        updated_at=now,
    )
    return await BatchJobRepository(session).create(job)


@dataclass(frozen=True)
class Cancelled:
    status: str
    marked: int
    remaining: int
    done: bool


async def cancel_batch_job(session: AsyncSession, flow: HogFlow, raw_job_id: str) -> Cancelled:
    """Stop a job's audience fan-out and flag its unfinished runs (PostHog's batch job cancel).

    A job that already ended keeps its status (a completion that raced the stop wins and is
    reported); its unfinished runs are cancelled either way. Unlike PostHog, every run is flagged
    in this one call, so `remaining` is always 0.
    """
    try:
        job_id = UUID(raw_job_id)
    except ValueError:
        raise NotFound(BATCH_JOB_NOT_FOUND) from None
    jobs = BatchJobRepository(session)
    job = await jobs.get_for_flow(flow.team_id, flow.id, job_id)
    if job is None:
        raise NotFound(BATCH_JOB_NOT_FOUND)
    now = utcnow()
    await jobs.finish(job.id, None, status="cancelled", error="Cancelled", now=now)
    marked = await RunRepository(session).cancel_children(flow.team_id, str(job.id), now)
    await session.refresh(job)
    return Cancelled(status=job.status, marked=marked, remaining=0, done=True)


def render(job: HogFlowBatchJob, user: User | None) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "hog_flow": job.hog_flow_id,
        "filters": job.filters,
        "variables": job.variables,
        "created_at": job.created_at,
        "created_by": user,
        "updated_at": job.updated_at,
        "persons_matched": job.persons_matched,
        "runs_created": job.runs_created,
    }


async def list_batch_jobs(session: AsyncSession, flow: HogFlow) -> Sequence[dict[str, Any]]:
    rows = await BatchJobRepository(session).list_for_flow(flow.team_id, flow.id)
    return [render(job, user) for job, user in rows]
