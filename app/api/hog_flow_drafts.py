"""The draft cycle and graph edits of a flow: `graph`, `publish`, `discard_draft`, `revisions`."""

from typing import Annotated, Any

from fastapi import APIRouter, Header

from app.api.deps import AppSettings, DBSession, ReadTeam, WriteTeam, parse_flow_id
from app.api.hog_flows import ERROR_RESPONSES
from app.api.pagination import Pagination
from app.crypto import SecretBox
from app.schemas.hog_flow import HogFlow
from app.schemas.hog_flow_revisions import PublishPreview, PublishResult, RevisionDetail, RevisionPage
from app.services import hog_flow_publishing as publishing
from app.services import hog_flows as service
from app.services.graph_operations import GraphUpdate

router = APIRouter(prefix="/hog_flows", tags=["hog_flows"])

RESPONSES: dict[int | str, dict[str, Any]] = {**ERROR_RESPONSES, 409: {"description": "Stale edit"}}
ClientHeader = Annotated[
    str | None,
    Header(alias="x-posthog-client", description="`mcp`: content edits of an active flow are staged as a draft."),
]


@router.patch("/{flow_id}/graph/", response_model=HogFlow, responses=RESPONSES, summary="Edit the graph of a flow")
async def update_graph(
    session: DBSession,
    settings: AppSettings,
    ctx: WriteTeam,
    flow_id: str,
    payload: GraphUpdate,
    client: ClientHeader = None,
) -> Any:
    """Apply `operations` in order; the whole flow is answered. An invalid result writes nothing."""
    stage = client == "mcp"
    box = SecretBox.from_setting(settings.secret_key)
    return await service.update_graph(
        session, ctx.team, ctx.user, parse_flow_id(flow_id), payload, box, stage_draft=stage
    )


@router.post(
    "/{flow_id}/publish/",
    response_model=PublishPreview | PublishResult,
    responses=RESPONSES,
    summary="Preview or publish the draft",
)
async def publish(
    session: DBSession,
    ctx: WriteTeam,
    settings: AppSettings,
    flow_id: str,
    payload: publishing.PublishRequest | None = None,
) -> Any:
    """Without `confirm`: the impact and a `confirm_token`. With `confirm` and the token: the draft goes live."""
    request = payload or publishing.PublishRequest()
    return await publishing.publish(session, ctx.team, ctx.user, parse_flow_id(flow_id), request, settings.secret_key)


@router.post("/{flow_id}/discard_draft/", response_model=HogFlow, responses=RESPONSES, summary="Discard the draft")
async def discard_draft(
    session: DBSession, ctx: WriteTeam, flow_id: str, payload: publishing.DiscardRequest | None = None
) -> Any:
    """Drop the staged draft; the live flow is unchanged but its `updated_at` moves on."""
    return await publishing.discard_draft(session, ctx.team, parse_flow_id(flow_id))


@router.get("/{flow_id}/revisions/", response_model=RevisionPage, responses=RESPONSES, summary="List versions")
async def list_revisions(session: DBSession, ctx: ReadTeam, flow_id: str, page: Pagination) -> dict[str, Any]:
    """Published versions, newest first, without their content."""
    count, revisions = await publishing.list_revisions(
        session, ctx.team, parse_flow_id(flow_id), limit=page.limit, offset=page.offset
    )
    next_url, previous_url = page.links(count)
    return {"count": count, "next": next_url, "previous": previous_url, "results": revisions}


@router.get(
    "/{flow_id}/revisions/{version}/", response_model=RevisionDetail, responses=RESPONSES, summary="One version"
)
async def retrieve_revision(session: DBSession, ctx: ReadTeam, flow_id: str, version: int) -> Any:
    return await publishing.get_revision(session, ctx.team, parse_flow_id(flow_id), version)


@router.post(
    "/{flow_id}/revisions/{version}/restore/",
    response_model=HogFlow,
    responses=RESPONSES,
    summary="Copy a version into the draft",
)
async def restore_revision(
    session: DBSession,
    ctx: WriteTeam,
    flow_id: str,
    version: int,
    payload: publishing.RestoreRequest | None = None,
) -> Any:
    """The version's content becomes the draft; publish it to make it live."""
    request = payload or publishing.RestoreRequest()
    return await publishing.restore_revision(session, ctx.team, parse_flow_id(flow_id), version, request)
