"""Starting real runs of a flow and reading them back."""

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import HogFlow, HogFlowRun, HogFlowRunStep
from app.db.repositories.persons import PersonRepository
from app.db.repositories.runs import RunRepository
from app.engine.invocation import default_variables, initial_state
from app.errors import NotFound, ValidationError
from app.observability import metrics


def manual_event(distinct_id: str, now: datetime, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "event": "$workflow_triggered",
        "distinct_id": distinct_id,
        "properties": properties or {},
        "elements_chain": "",
        "timestamp": now.isoformat().replace("+00:00", "Z"),
    }


async def start_manual_run(
    session: AsyncSession,
    flow: HogFlow,
    *,
    distinct_id: str | None,
    person_id: UUID | None,
    event: dict[str, Any] | None,
    variables: dict[str, Any] | None,
) -> HogFlowRun:
    if flow.status != "active":
        raise ValidationError("Workflow must be active to start a run. Enable it first.", attr="status")
    persons = PersonRepository(session)
    if person_id is not None and distinct_id is None:
        person = await persons.get(flow.team_id, person_id)
        if person is None:
            raise ValidationError("Person not found.", attr="person_id")
        distinct_id = next(iter(await persons.distinct_ids(person.id)), None)
    if not distinct_id:
        raise ValidationError("Either distinct_id or person_id is required.", attr="distinct_id")
    now = utcnow()
    event = {**manual_event(distinct_id, now), **(event or {}), "distinct_id": distinct_id}
    metrics.runs_created("manual")
    return await RunRepository(session).create(
        team_id=flow.team_id,
        hog_flow_id=flow.id,
        state=initial_state(event, default_variables(flow.variables), variables),
        now=now,
        distinct_id=distinct_id,
        person_id=person_id,
        is_manual=True,
        version=flow.version,
    )


async def get_run(session: AsyncSession, flow: HogFlow, run_id: UUID) -> tuple[HogFlowRun, list[HogFlowRunStep]]:
    repo = RunRepository(session)
    run = await repo.get(flow.team_id, flow.id, run_id)
    if run is None:
        raise NotFound()
    return run, list(await repo.steps(run.id))
