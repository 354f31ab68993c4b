"""The draft cycle of a live flow: publish (preview, then confirm), discard, revisions and restore.

As PostHog's current API does it:

1. `publish` without `confirm` changes nothing. It answers what publishing would do: the runs in
   flight (`in_flight_runs`), the `impact` (steps the draft deletes and the runs parked on them), the
   `draft_updated_at` it looked at and a `confirm_token` bound to that draft.
2. `publish` with `confirm: true` needs that token: missing, forged or expired answers 400; a draft
   edited since the preview answers 409. The draft is validated strictly (whoever wrote it), goes
   live as one content change (version + 1, a revision) and is cleared. The answer is `{"workflow"}`.
3. `discard_draft` clears the draft and moves `updated_at` forward, so an editor still holding the
   draft's stamp gets a 409 instead of resurrecting it.
4. `revisions` lists versions newest first without content; `revisions/{version}` has the content;
   `revisions/{version}/restore` copies a version's content into the draft (never live). An open
   draft answers 409 unless `overwrite: true`; `expected_draft_updated_at` that no longer matches
   the draft answers 409.

Differences from PostHog: in-flight counts come from our runs table (PostgreSQL), not a Node
service; a run keeps its version's graph, so `impact.deleted_steps[].moves_to` is always null
(runs on a deleted step finish on their own version instead of being moved); revisions are not
behind a flag.
"""

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import SecretBox
from app.db.base import utcnow
from app.db.models import HogFlow, HogFlowRevision, Team, User
from app.db.repositories.hog_flow import HogFlowRepository, HogFlowRevisionRepository
from app.errors import Conflict, NotFound, ValidationError, drf_error_from_pydantic, join_attr
from app.hog.budget import offload
from app.schemas.hog_flow import HogFlowWrite
from app.services.hog_flows import COMPILE_BUDGET_SECONDS, CONTENT_FIELDS, apply_live, check_fresh, validated_fields

CONFIRM_TOKEN_TTL_SECONDS = 15 * 60


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    confirm: bool = Field(default=False, description="false: preview only. true: publish the draft.")
    confirm_token: str | None = Field(default=None, description="The token of the preview being confirmed.")


class DiscardRequest(BaseModel):
    """No fields: the body, if any, is ignored."""

    model_config = ConfigDict(extra="ignore")


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    overwrite: bool = Field(default=False, description="Replace an open draft.")
    expected_draft_updated_at: datetime | None = Field(
        default=None, description="The draft stamp the client saw; a different one answers 409."
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _sign(secret_key: str, payload: str) -> str:
    # HOGFLOWS_SECRET_KEY may list several secrets (comma-separated); the first one signs, as for sessions.
    secret = secret_key.split(",")[0].strip() or secret_key
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def mint_confirm_token(secret: str, flow_id: UUID, draft_updated_at: datetime, *, now: float | None = None) -> str:
    issued = time.time() if now is None else now
    body = json.dumps(
        {"flow": str(flow_id), "draft": draft_updated_at.isoformat(), "exp": int(issued + CONFIRM_TOKEN_TTL_SECONDS)},
        separators=(",", ":"),
    )
    payload = _b64(body.encode())
    return f"{payload}.{_sign(secret, payload)}"


def _read_confirm_token(secret: str, token: str | None, flow_id: UUID) -> str:
    """The draft stamp the token was issued for; 400 for anything not issued by us for this flow."""
    if not token:
        raise ValidationError("confirm_token is required to publish.", attr="confirm_token")
    payload, _, signature = token.partition(".")
    if not hmac.compare_digest(signature.encode(), _sign(secret, payload).encode()):
        raise ValidationError("Invalid confirm_token.", attr="confirm_token")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if claims.get("flow") != str(flow_id):
        raise ValidationError("Invalid confirm_token.", attr="confirm_token")
    if claims.get("exp", 0) < time.time():
        raise ValidationError("confirm_token has expired. Preview the publish again.", attr="confirm_token")
    return str(claims.get("draft"))


async def _locked(session: AsyncSession, team: Team, flow_id: UUID) -> HogFlow:
    flow = await HogFlowRepository(session).get_for_update(team.id, flow_id)
    if flow is None:
        raise NotFound()
    return flow


def _impact(flow: HogFlow, by_action: dict[str, int] | None) -> dict[str, Any]:
    draft_ids = {action.get("id") for action in (flow.draft or {}).get("actions") or []}
    deleted = [
        {
            "action_id": action.get("id"),
            "name": action.get("name"),
            "runs": (by_action or {}).get(str(action.get("id")), 0) if by_action is not None else None,
            "moves_to": None,
            "exits": False,
        }
        for action in flow.actions or []
        if action.get("id") not in draft_ids
    ]
    return {
        "deleted_steps": deleted,
        "position_unknown": 0 if by_action is not None else None,
        "empty_variables": [],
        "schedule_conflicts": [],
    }


def _draft_payload(draft: dict[str, Any]) -> HogFlowWrite:
    fields = {name: draft[name] for name in CONTENT_FIELDS if name in draft and draft[name] is not None}
    fields.pop("trigger", None)
    fields.pop("abort_action", None)
    fields.setdefault("actions", [])
    try:
        return HogFlowWrite.model_validate(fields)
    except PydanticValidationError as error:
        first = error.errors()[0]
        code, message = drf_error_from_pydantic(dict(first))
        raise ValidationError(message, attr=join_attr(list(first["loc"])), code=code) from error


async def publish(
    session: AsyncSession, team: Team, user: User | None, flow_id: UUID, request: PublishRequest, secret: str
) -> dict[str, Any]:
    flow = await _locked(session, team, flow_id)
    if flow.draft is None or flow.draft_updated_at is None:
        raise ValidationError("This workflow has no draft to publish.", attr="draft")
    if not request.confirm:
        by_action = await HogFlowRepository(session).in_flight_runs_by_action(flow.id)
        return {
            "in_flight_runs": sum(by_action.values()),
            "draft_updated_at": flow.draft_updated_at,
            "confirm_token": mint_confirm_token(secret, flow.id, flow.draft_updated_at),
            "impact": _impact(flow, by_action),
        }
    issued_for = _read_confirm_token(secret, request.confirm_token, flow.id)
    if issued_for != flow.draft_updated_at.isoformat():
        raise Conflict(
            "The draft changed since this publish was previewed. Preview it again before publishing.",
            code="stale_draft",
        )
    fields = await offload(
        COMPILE_BUDGET_SECONDS,
        validated_fields,
        _draft_payload(flow.draft),
        flow,
        team,
        SecretBox.from_setting(secret),
        strict=True,
    )
    fields.setdefault("edges", flow.draft.get("edges", flow.edges))
    fields["abort_action"] = flow.draft.get("abort_action")
    flow.draft = None
    flow.draft_updated_at = None
    await apply_live(session, flow, fields, user)
    return {"workflow": await HogFlowRepository(session).save(flow)}


async def discard_draft(session: AsyncSession, team: Team, flow_id: UUID) -> HogFlow:
    flow = await _locked(session, team, flow_id)
    flow.draft = None
    flow.draft_updated_at = None
    flow.updated_at = utcnow()
    return await HogFlowRepository(session).save(flow)


async def list_revisions(
    session: AsyncSession, team: Team, flow_id: UUID, *, limit: int, offset: int
) -> tuple[int, list[HogFlowRevision]]:
    if await HogFlowRepository(session).get(team.id, flow_id) is None:
        raise NotFound()
    count, revisions = await HogFlowRevisionRepository(session).list(team.id, flow_id, limit=limit, offset=offset)
    return count, list(revisions)


async def get_revision(session: AsyncSession, team: Team, flow_id: UUID, version: int) -> HogFlowRevision:
    revision = await HogFlowRevisionRepository(session).get(team.id, flow_id, version)
    if revision is None:
        raise NotFound()
    return revision


async def restore_revision(
    session: AsyncSession, team: Team, flow_id: UUID, version: int, request: RestoreRequest
) -> HogFlow:
    flow = await _locked(session, team, flow_id)
    revision = await get_revision(session, team, flow_id, version)
    if request.expected_draft_updated_at is not None:
        if flow.draft_updated_at is None:
            raise Conflict("The draft was discarded since you loaded it.", code="stale_draft")
        check_fresh(flow.draft_updated_at, request.expected_draft_updated_at)
    elif flow.draft is not None and not request.overwrite:
        raise Conflict("This workflow has an open draft. Restore with overwrite to replace it.", code="draft_exists")
    flow.draft = {name: revision.content.get(name) for name in CONTENT_FIELDS}
    flow.draft_updated_at = utcnow()
    flow.updated_at = HogFlow.updated_at
    await session.flush()
    await session.refresh(flow)
    return await HogFlowRepository(session).save(flow)
