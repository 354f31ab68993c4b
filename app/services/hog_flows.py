"""Creating and updating flows: merge the request with what is stored, validate, persist.

An update, as PostHog's current API does it:

1. The flow is read locked (`SELECT ... FOR UPDATE`), so concurrent writers queue up.
2. `base_updated_at`, when sent, is the stamp the client loaded: `draft_updated_at` for an edit that
   lands in the open draft, `updated_at` otherwise. A stored stamp strictly newer answers 409
   (`stale_update`) and writes nothing. A stamp without a timezone is UTC. Omitting it keeps
   last-writer-wins.
3. On an active flow, `stage_draft: true` (or the `x-posthog-client: mcp` header) puts the content
   fields (`CONTENT_FIELDS`) into `draft`, a full copy of the content, and leaves what runs alone;
   name, description and status still apply live. On any other flow the edit applies live.
4. A live edit that changes the content bumps `version` and appends a revision; the first such edit
   also snapshots the outgoing content (author null) so every version a run can be on has its graph.
   Metadata-only, status-only and no-op edits change neither.

Difference from PostHog: revisions are always on (PostHog gates them behind a flag), and the worker
reads them: a run keeps the graph of the version it started on (`app.worker.processor`).
"""

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import SecretBox
from app.db.base import utcnow
from app.db.models import HogFlow, HogFlowRevision, Team, User
from app.db.repositories.hog_flow import HogFlowRepository, HogFlowRevisionRepository
from app.db.repositories.schedules import ScheduleRepository
from app.errors import Conflict, NotFound, ValidationError, drf_error_from_pydantic, join_attr
from app.hog.budget import offload
from app.schemas.hog_flow import ActionIn, HogFlowWrite, OriginProduct
from app.schemas.schedules import Schedule
from app.services import activity_log
from app.services.flow_compilation import TeamFilterContext
from app.services.graph_operations import GraphUpdate, apply_graph_operations, validate_graph_structure
from app.services.graph_validation import validate_graph
from app.services.hog_flow_validation import FlowValidator, billable_action_types, trigger_of, validate_variables
from app.services.secret_inputs import open_secret_inputs, restore_secret_inputs, seal_secret_inputs

# Compiling everything one save sends (filters, inputs, masking) runs in a thread, within this total.
COMPILE_BUDGET_SECONDS = 5.0

# Everything the draft cycle stages and publish promotes (PostHog's DRAFT_CONTENT_FIELDS, less the
# email rate limit we do not store). Metadata and status always apply live.
CONTENT_FIELDS = (
    "actions",
    "edges",
    "trigger",
    "trigger_masking",
    "conversion",
    "exit_condition",
    "abort_action",
    "variables",
)


FLOW_TYPES = ("messaging", "automation", "loop", "broadcast")
ORIGIN_PRODUCTS = tuple(product.value for product in OriginProduct)
MAX_SEARCH_LENGTH = 200


def search_pattern(term: str | None) -> str | None:
    """PostHog's search: the term's characters literally, a run of spaces matching any run of
    whitespace, dashes and underscores; matched case-insensitively."""
    term = (term or "").strip()
    if not term:
        return None
    if len(term) > MAX_SEARCH_LENGTH:
        raise ValidationError(f"Ensure this field has no more than {MAX_SEARCH_LENGTH} characters.", attr="search")
    return r"[\s\-_]*".join(re.escape(part) for part in re.split(r" +", term))


def comma_choices(key: str, raw: str | None, allowed: tuple[str, ...]) -> frozenset[str] | None:
    """A comma list of known values (OR); unknown values, or only commas, answer 400."""
    if not raw:
        return None
    requested = {value for value in raw.split(",") if value}
    unknown = sorted(requested - set(allowed))
    if unknown or not requested:
        named = f"Unknown: {', '.join(unknown)}. " if unknown else ""
        raise ValidationError(f"{named}Must be one of: {', '.join(allowed)}", attr=key)
    return frozenset(requested)


def content_of(flow: HogFlow) -> dict[str, Any]:
    return {name: getattr(flow, name) for name in CONTENT_FIELDS}


def team_filter_context(team: Team) -> TeamFilterContext:
    return TeamFilterContext(timezone=team.timezone, test_account_filters=list(team.test_account_filters or []))


def validated_fields(
    payload: HogFlowWrite, flow: HogFlow | None, team: Team, box: SecretBox, *, strict: bool | None = None
) -> dict[str, Any]:
    """The columns to write, after PostHog's draft/strict validation of what was sent; secret inputs
    are validated in clear and written sealed (`app.services.secret_inputs`)."""
    sent = payload.model_fields_set
    status = payload.status if "status" in sent and payload.status else (flow.status if flow else None)
    becomes_active = status == "active" and (flow is None or flow.status != "active" or "actions" in sent)
    # Only an active flow's actions passed the strict rules (or predate them): a draft's may never have.
    accepted = flow.actions if flow is not None and flow.status == "active" and isinstance(flow.actions, list) else None
    strict = status == "active" if strict is None else strict
    validator = FlowValidator(team_filter_context(team), strict=strict, stored_actions=accepted)
    fields: dict[str, Any] = {}
    for name in ("name", "description", "status", "exit_condition", "edges"):
        if name in sent:
            fields[name] = getattr(payload, name)
    if "actions" in sent and payload.actions is not None:
        actions = [action.model_dump(exclude_unset=False) for action in payload.actions]
        # A secret input read back as {"secret": true} keeps its stored value.
        actions = restore_secret_inputs(flow.actions if flow is not None else None, actions)
        opened = open_secret_inputs(actions, box)
        fields["actions"] = seal_secret_inputs(validator.validate_actions(actions), box, opened)
    elif becomes_active and flow is not None:
        # Activation re-checks the stored draft strictly and keeps the compiled result.
        stored = [ActionIn.model_validate(action).model_dump() for action in flow.actions]
        opened = open_secret_inputs(stored, box)
        fields["actions"] = seal_secret_inputs(validator.validate_actions(stored), box, opened)
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
    if status == "active" and (becomes_active or "edges" in sent):
        actions = fields["actions"] if "actions" in fields else list(flow.actions if flow else [])
        edges = fields.get("edges", flow.edges if flow else [])
        validate_graph(actions, edges, flow.abort_action if flow else None)
    return fields


async def validated_configuration(payload: HogFlowWrite, team: Team, box: SecretBox) -> dict[str, Any]:
    """The columns of a new flow after validation, without saving it."""
    fields = await offload(COMPILE_BUDGET_SECONDS, validated_fields, payload, None, team, box)
    fields.setdefault("edges", {})
    return fields


async def create_flow(session: AsyncSession, team: Team, user: User, payload: HogFlowWrite, box: SecretBox) -> HogFlow:
    fields = await validated_configuration(payload, team, box)
    origin = payload.origin_product.value if payload.origin_product else None
    flow = HogFlow(team_id=team.id, created_by_id=user.id, origin_product=origin, **fields)
    flow = await HogFlowRepository(session).add(flow)
    await activity_log.log_created(session, flow, user)
    return flow


def check_fresh(stored: datetime | None, base: datetime | None) -> None:
    """409 when the client's stamp is older than the stored one (strictly: equal is current)."""
    if base is None or stored is None:
        return
    if base.tzinfo is None:
        base = base.replace(tzinfo=UTC)
    if stored > base:
        raise Conflict()


def routes_to_draft(flow: HogFlow, payload: HogFlowWrite, *, stage_draft: bool) -> bool:
    sent_status = payload.status if "status" in payload.model_fields_set else None
    return stage_draft and flow.status == "active" and sent_status in (None, "active")


async def update_flow(
    session: AsyncSession,
    team: Team,
    user: User | None,
    flow_id: UUID,
    payload: HogFlowWrite,
    box: SecretBox,
    *,
    stage_draft: bool = False,
) -> HogFlow:
    flow = await HogFlowRepository(session).get_for_update(team.id, flow_id)
    if flow is None:
        raise NotFound()
    to_draft = routes_to_draft(flow, payload, stage_draft=stage_draft or payload.stage_draft)
    _check_base(flow, payload.base_updated_at, to_draft=to_draft)
    return await _write(session, team, user, flow, payload, box, to_draft=to_draft)


def _check_base(flow: HogFlow, base: datetime | None, *, to_draft: bool) -> None:
    draft_open = to_draft and flow.draft is not None
    check_fresh(flow.draft_updated_at if draft_open else flow.updated_at, base)


async def update_graph(
    session: AsyncSession,
    team: Team,
    user: User | None,
    flow_id: UUID,
    request: GraphUpdate,
    box: SecretBox,
    *,
    stage_draft: bool,
) -> HogFlow:
    """Apply graph operations to the graph the edit targets (the open draft or the live one), all or nothing."""
    flow = await HogFlowRepository(session).get_for_update(team.id, flow_id)
    if flow is None:
        raise NotFound()
    to_draft = (stage_draft or request.stage_draft) and flow.status == "active"
    _check_base(flow, request.base_updated_at, to_draft=to_draft)
    source = flow.draft if to_draft and flow.draft is not None else content_of(flow)
    stored_actions, stored_edges = source.get("actions"), source.get("edges")
    actions, edges = apply_graph_operations(
        stored_actions if isinstance(stored_actions, list) else [],
        stored_edges if isinstance(stored_edges, list) else [],
        request.operations,
    )
    validate_graph_structure(actions, edges, abort_action=source.get("abort_action"))
    try:
        payload = HogFlowWrite.model_validate({"actions": actions, "edges": edges})
    except PydanticValidationError as error:
        first = error.errors()[0]
        code, message = drf_error_from_pydantic(dict(first))
        raise ValidationError(message, attr=join_attr(list(first["loc"])), code=code) from error
    return await _write(session, team, user, flow, payload, box, to_draft=to_draft)


async def _write(
    session: AsyncSession,
    team: Team,
    user: User | None,
    flow: HogFlow,
    payload: HogFlowWrite,
    box: SecretBox,
    *,
    to_draft: bool,
) -> HogFlow:
    repo = HogFlowRepository(session)
    fields = await offload(COMPILE_BUDGET_SECONDS, validated_fields, payload, flow, team, box)
    if to_draft:
        content = {name: fields.pop(name) for name in CONTENT_FIELDS if name in fields}
        fields.pop("billable_action_types", None)
        if content:
            flow.draft = {**(flow.draft or content_of(flow)), **content}
            flow.draft_updated_at = utcnow()
        if not fields:
            # Staging alone leaves the live row as it was, `updated_at` included.
            flow.updated_at = HogFlow.updated_at
            await session.flush()
            await session.refresh(flow)
            return await repo.save(flow)
    await apply_live(session, flow, fields, user)
    return await repo.save(flow)


async def apply_live(session: AsyncSession, flow: HogFlow, fields: dict[str, Any], user: User | None) -> None:
    """Write validated columns live; a content change bumps `version` and appends a revision."""
    before = content_of(flow)
    tracked = activity_log.snapshot(flow)
    for name, value in fields.items():
        setattr(flow, name, value)
    flow.updated_at = utcnow()
    await activity_log.log_updated(session, flow, user, tracked)
    after = content_of(flow)
    if after == before:
        return
    revisions = HogFlowRevisionRepository(session)
    if not await revisions.exists(flow.id, flow.version):
        await revisions.add(
            HogFlowRevision(team_id=flow.team_id, hog_flow_id=flow.id, version=flow.version, content=before)
        )
    flow.version += 1
    await revisions.add(
        HogFlowRevision(
            team_id=flow.team_id,
            hog_flow_id=flow.id,
            version=flow.version,
            content=after,
            created_by_id=user.id if user else None,
        )
    )


async def get_flow(session: AsyncSession, team: Team, flow_id: UUID) -> HogFlow:
    flow = await HogFlowRepository(session).get(team.id, flow_id)
    if flow is None:
        raise NotFound()
    return flow


async def with_schedules(session: AsyncSession, flow: HogFlow) -> HogFlow:
    """The flow, carrying its schedules (oldest first) for the detail rendering, as PostHog nests them."""
    rows = await ScheduleRepository(session).list_for_flow(flow.team_id, flow.id)
    schedules = [Schedule.model_validate(row).model_dump(mode="json") for row in reversed(rows)]
    # Not a mapped column: only the response model reads it.
    setattr(flow, "schedules", schedules)  # noqa: B010
    return flow


async def delete_flow(session: AsyncSession, flow: HogFlow, user: User | None) -> None:
    await activity_log.log_deleted(session, flow, user)
    await HogFlowRepository(session).delete(flow)
