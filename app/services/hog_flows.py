"""Creating and updating flows: merge the request with what is stored, validate, persist."""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import HogFlow, Team, User
from app.db.repositories.hog_flow import HogFlowRepository
from app.errors import NotFound
from app.hog.budget import offload
from app.schemas.hog_flow import ActionIn, HogFlowWrite
from app.services.flow_compilation import TeamFilterContext
from app.services.hog_flow_validation import FlowValidator, billable_action_types, trigger_of, validate_variables

# Compiling everything one save sends (filters, inputs, masking) runs in a thread, within this total.
COMPILE_BUDGET_SECONDS = 5.0


def team_filter_context(team: Team) -> TeamFilterContext:
    return TeamFilterContext(timezone=team.timezone, test_account_filters=list(team.test_account_filters or []))


def _validated_fields(payload: HogFlowWrite, flow: HogFlow | None, team: Team) -> dict[str, Any]:
    """The columns to write, after PostHog's draft/strict validation of what was sent."""
    sent = payload.model_fields_set
    status = payload.status if "status" in sent and payload.status else (flow.status if flow else None)
    becomes_active = status == "active" and (flow is None or flow.status != "active" or "actions" in sent)
    # Only an active flow's actions passed the strict rules (or predate them): a draft's may never have.
    accepted = flow.actions if flow is not None and flow.status == "active" and isinstance(flow.actions, list) else None
    validator = FlowValidator(team_filter_context(team), strict=status == "active", stored_actions=accepted)
    fields: dict[str, Any] = {}
    for name in ("name", "description", "status", "exit_condition", "edges"):
        if name in sent:
            fields[name] = getattr(payload, name)
    if "actions" in sent and payload.actions is not None:
        actions = [action.model_dump(exclude_unset=False) for action in payload.actions]
        fields["actions"] = validator.validate_actions(actions)
    elif becomes_active and flow is not None:
        # Activation re-checks the stored draft strictly and keeps the compiled result.
        stored = [ActionIn.model_validate(action).model_dump() for action in flow.actions]
        fields["actions"] = validator.validate_actions(stored)
    if "actions" in fields:
        fields["trigger"] = trigger_of(fields["actions"])
        fields["billable_action_types"] = billable_action_types(fields["actions"])
    if "trigger_masking" in sent:
        masking = payload.trigger_masking.model_dump() if payload.trigger_masking else None
        fields["trigger_masking"] = validator.validate_trigger_masking(masking)
    if "conversion" in sent:
        conversion = payload.conversion.model_dump(exclude_unset=True) if payload.conversion else None
        fields["conversion"] = validator.validate_conversion(conversion)
    if "variables" in sent and payload.variables is not None:
        fields["variables"] = validate_variables(payload.variables)
    return fields


async def validated_configuration(payload: HogFlowWrite, team: Team) -> dict[str, Any]:
    """The columns of a new flow after validation, without saving it."""
    fields = await offload(COMPILE_BUDGET_SECONDS, _validated_fields, payload, None, team)
    fields.setdefault("edges", {})
    return fields


async def create_flow(session: AsyncSession, team: Team, user: User, payload: HogFlowWrite) -> HogFlow:
    fields = await validated_configuration(payload, team)
    flow = HogFlow(team_id=team.id, created_by_id=user.id, **fields)
    return await HogFlowRepository(session).add(flow)


async def update_flow(session: AsyncSession, team: Team, flow_id: UUID, payload: HogFlowWrite) -> HogFlow:
    repo = HogFlowRepository(session)
    flow = await get_flow(session, team, flow_id)
    fields = await offload(COMPILE_BUDGET_SECONDS, _validated_fields, payload, flow, team)
    for name, value in fields.items():
        setattr(flow, name, value)
    flow.updated_at = utcnow()
    return await repo.save(flow)


async def get_flow(session: AsyncSession, team: Team, flow_id: UUID) -> HogFlow:
    flow = await HogFlowRepository(session).get(team.id, flow_id)
    if flow is None:
        raise NotFound()
    return flow
