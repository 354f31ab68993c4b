"""`/hog_flows/`: list, create, retrieve, update, partial update, delete."""

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import BaseModel, Field

from app.api.deps import (
    AppSettings,
    DBSession,
    TeamIdPath,
    WritableFlow,
    WriteTeam,
    authorize_read,
    parse_flow_id,
)
from app.api.direct import direct_get
from app.api.errors import NotFound, ValidationError
from app.api.pagination import LIMIT_DESCRIPTION, OFFSET_DESCRIPTION, PG_INTEGER_MAX, page_of
from app.crypto import SecretBox
from app.db.json_codec import dumps
from app.db.repositories.hog_flow import HogFlowListFilters, HogFlowReads
from app.schemas.hog_flow import HogFlow, HogFlowCreate, HogFlowPage, HogFlowStatus, HogFlowWrite
from app.services import hog_flows as service
from app.services.hog_flow_views import render_detail, render_list_item

router = APIRouter(prefix="/hog_flows", tags=["hog_flows"])

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Validation error"},
    401: {"description": "Not authenticated"},
    403: {"description": "Missing scope or no access to the project"},
    404: {"description": "Not found"},
}


def _parse_trigger(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        trigger = json.loads(raw)
    except ValueError:
        raise ValidationError("Invalid trigger", attr="trigger") from None
    if not isinstance(trigger, dict):
        raise ValidationError("Invalid trigger", attr="trigger")
    return trigger or None


class HogFlowListQuery(BaseModel):
    """The list's query parameters, validated in one go (app/api/direct.py)."""

    id: UUID | None = None
    created_by: int | None = Field(
        default=None, ge=-PG_INTEGER_MAX - 1, le=PG_INTEGER_MAX, description="User id of the creator."
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: HogFlowStatus | None = None
    trigger: str | None = Field(default=None, description='JSON the trigger must contain, e.g. {"type":"webhook"}.')
    search: str | None = Field(
        default=None, description="Name or description contains it (any case; a space matches `-`, `_`)."
    )
    type: str | None = Field(default=None, description="Comma list of `messaging`, `automation`, `loop`, `broadcast`.")
    origin_product: str | None = Field(default=None, description="Comma list of `loops`, `broadcasts`.")
    # Last, where the `Pagination` dependency's parameters are documented on other lists.
    limit: str | None = Field(default=None, description=LIMIT_DESCRIPTION)
    offset: str | None = Field(default=None, description=OFFSET_DESCRIPTION)


@direct_get(router, "/", response_model=HogFlowPage, responses=ERROR_RESPONSES, summary="List hog flows")
async def list_hog_flows(
    request: Request, team_id: TeamIdPath, query: Annotated[HogFlowListQuery, Query()]
) -> Response:
    """Flows of the team, newest update first."""
    authorized_team_id = await authorize_read(request, team_id, "hog_flow:read")
    page = page_of(request, query.limit, query.offset)
    filters = HogFlowListFilters(
        id=query.id,
        created_by=query.created_by,
        created_at=query.created_at,
        updated_at=query.updated_at,
        status=query.status.value if query.status else None,
        trigger=_parse_trigger(query.trigger),
        search_pattern=service.search_pattern(query.search),
        types=service.comma_choices("type", query.type, service.FLOW_TYPES),
        origin_products=service.comma_choices("origin_product", query.origin_product, service.ORIGIN_PRODUCTS),
    )
    reads = HogFlowReads(request.app.state.read_engine)
    count, rows = await reads.page(authorized_team_id, filters, limit=page.limit, offset=page.offset)
    next_url, previous_url = page.links(count)
    results = [render_list_item(row) for row in rows]
    # Rendered as `HogFlowPage` would (app/services/hog_flow_views.py), without validating it again.
    return _json({"count": count, "next": next_url, "previous": previous_url, "results": results})


@router.post(
    "/",
    response_model=HogFlow,
    status_code=status.HTTP_201_CREATED,
    responses=ERROR_RESPONSES,
    summary="Create a hog flow",
)
async def create_hog_flow(session: DBSession, settings: AppSettings, ctx: WriteTeam, payload: HogFlowCreate) -> Any:
    """Create a flow. `active` flows are validated strictly, drafts leniently."""
    box = SecretBox.from_setting(settings.secret_key)
    return await service.with_schedules(session, await service.create_flow(session, ctx.team, ctx.user, payload, box))


@direct_get(router, "/{flow_id}/", response_model=HogFlow, responses=ERROR_RESPONSES, summary="Retrieve a hog flow")
async def retrieve_hog_flow(request: Request, flow_id: str, team_id: TeamIdPath) -> Response:
    """One flow, with every action rendered in full and its schedules nested."""
    authorized_team_id = await authorize_read(request, team_id, "hog_flow:read")
    rows = await HogFlowReads(request.app.state.read_engine).detail(authorized_team_id, parse_flow_id(flow_id))
    if not rows:
        raise NotFound()
    return _json(render_detail(rows))


def _json(content: Any) -> Response:
    return Response(content=dumps(content), media_type="application/json")


ClientHeader = Annotated[
    str | None,
    Header(alias="x-posthog-client", description="`mcp`: content edits of an active flow are staged as a draft."),
]


@router.put("/{flow_id}/", response_model=HogFlow, responses=ERROR_RESPONSES, summary="Replace a hog flow")
async def update_hog_flow(
    session: DBSession,
    settings: AppSettings,
    ctx: WriteTeam,
    flow_id: str,
    payload: HogFlowCreate,
    client: ClientHeader = None,
) -> Any:
    """Update a flow; `actions` is required. A stale `base_updated_at` answers 409."""
    stage = client == "mcp"
    box = SecretBox.from_setting(settings.secret_key)
    flow = await service.update_flow(
        session, ctx.team, ctx.user, parse_flow_id(flow_id), payload, box, stage_draft=stage
    )
    return await service.with_schedules(session, flow)


@router.patch("/{flow_id}/", response_model=HogFlow, responses=ERROR_RESPONSES, summary="Update part of a hog flow")
async def partial_update_hog_flow(
    session: DBSession,
    settings: AppSettings,
    ctx: WriteTeam,
    flow_id: str,
    payload: HogFlowWrite,
    client: ClientHeader = None,
) -> Any:
    """Update the fields given. `{"status": "active"}` activates a draft after strict validation;
    `stage_draft: true` on an active flow stages content edits as a draft."""
    stage = client == "mcp"
    box = SecretBox.from_setting(settings.secret_key)
    flow = await service.update_flow(
        session, ctx.team, ctx.user, parse_flow_id(flow_id), payload, box, stage_draft=stage
    )
    return await service.with_schedules(session, flow)


@router.delete(
    "/{flow_id}/", status_code=status.HTTP_204_NO_CONTENT, responses=ERROR_RESPONSES, summary="Delete a hog flow"
)
async def delete_hog_flow(session: DBSession, ctx: WriteTeam, flow: WritableFlow) -> Response:
    """Delete a flow for good (its activity log stays)."""
    await service.delete_flow(session, flow, ctx.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
