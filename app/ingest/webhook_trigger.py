"""Starting a run from a public webhook request: find the flow, run its source inputs, create the run.

No trigger filter, masking or rate limit applies here (PostHog's behaviour, executor.md §3.5).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import SecretBox
from app.db.base import uuid7
from app.db.models import HogFlow
from app.db.repositories.ingest import IngestRepository, NewRun
from app.db.repositories.observability import ObservabilityRepository
from app.db.repositories.tenancy import TenancyRepository
from app.engine.invocation import default_variables, initial_state
from app.engine.records import LogRecord, MetricRecord
from app.hog.budget import offload
from app.ingest.pipeline import project_url
from app.ingest.webhooks import (
    SOURCE_BUDGET_SECONDS,
    WEBHOOK_TRIGGER_TYPES,
    IncomingRequest,
    SourceOutcome,
    run_source,
)
from app.observability import metrics

NOT_FOUND = SourceOutcome(404, {"error": "Not found"})


@dataclass(frozen=True)
class WebhookResult:
    outcome: SourceOutcome
    run_id: UUID | None = None


def _trigger_action_id(flow: HogFlow) -> str:
    return next((str(action.get("id")) for action in flow.actions or [] if action.get("type") == "trigger"), "trigger")


async def trigger_webhook(
    session: AsyncSession, flow_id: UUID, request: IncomingRequest, site_url: str, now: datetime, box: SecretBox
) -> WebhookResult:
    repo = IngestRepository(session)
    flow = await repo.flow_by_id(flow_id)
    trigger = flow.trigger if flow is not None and isinstance(flow.trigger, dict) else {}
    if flow is None or flow.status != "active" or trigger.get("type") not in WEBHOOK_TRIGGER_TYPES:
        return WebhookResult(NOT_FOUND)
    team = await TenancyRepository(session).get_team(flow.team_id)
    if team is None:
        return WebhookResult(NOT_FOUND)
    project: dict[str, Any] = {"id": team.id, "name": team.name, "url": project_url(site_url, team.id)}
    observability = ObservabilityRepository(session)
    source_id = str(flow.id)
    try:
        # A secret input (e.g. `auth_header`) is stored sealed: opened for this request only.
        trigger = {**trigger, "inputs": box.open_inputs(trigger.get("inputs"))}
        outcome = await offload(SOURCE_BUDGET_SECONDS, run_source, trigger, request, project, now)
    except Exception as error:  # the request made an input fail: report it on the flow, answer 400 (never 500)
        message = f"[Action:{_trigger_action_id(flow)}] Error triggering flow: {error}"
        await observability.add_logs([LogRecord(team.id, source_id, str(uuid7()), now, "error", message)])
        await observability.add_metrics([MetricRecord(team.id, source_id, None, "failure", "trigger_failed", now)])
        return WebhookResult(SourceOutcome(400, {"error": "Error triggering flow", "detail": str(error)}))
    if outcome.event is None:
        return WebhookResult(outcome)
    run = NewRun(
        id=uuid7(),
        team_id=team.id,
        hog_flow_id=flow.id,
        state={
            **initial_state(outcome.event, default_variables(flow.variables), outcome.variables),
            "request": request.stored(),
        },
        distinct_id=outcome.event["distinct_id"],
        person_id=None,
        version=flow.version,
    )
    await repo.create_runs([run], now)
    metrics.runs_created("webhook")
    await observability.add_metrics(
        [
            MetricRecord(team.id, source_id, None, "other", "triggered", now),
            MetricRecord(team.id, source_id, None, "billing", "billable_invocation", now),
        ]
    )
    return WebhookResult(outcome, run.id)
