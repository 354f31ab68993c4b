"""`/hog_flows/user_blast_radius/` and `/hog_flows/bulk_delete/`."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path

from app.api.deps import AppSettings, Authenticated, AuthorizedTeam, DBSession, authenticate, team_with_scope
from app.api.errors import PermissionDenied
from app.api.hog_flows import ERROR_RESPONSES
from app.schemas.audiences import BLAST_RADIUS_EXAMPLE, BlastRadius, BulkDeleted
from app.services import audiences
from app.services.api_keys import scope_satisfied
from app.services.bulk_delete import bulk_delete as delete_archived

router = APIRouter(prefix="/hog_flows", tags=["hog_flows"])


def team_with_scopes(*scopes: str) -> Any:
    """Like `team_with_scope`, for actions that need several scopes (PostHog MID)."""
    first = team_with_scope(scopes[0])

    async def dependency(
        session: DBSession,
        auth: Annotated[Authenticated, Depends(authenticate)],
        team_id: Annotated[str, Path(description="Team (environment) id, or `@current`.")],
    ) -> AuthorizedTeam:
        granted = auth.key.scopes
        for scope in scopes:
            if granted is not None and not scope_satisfied(granted, scope):
                raise PermissionDenied(f"API key missing required scope '{scope}'")
        return await first(session, auth, team_id)

    return dependency


BlastRadiusTeam = Annotated[AuthorizedTeam, Depends(team_with_scopes("hog_flow:read", "person:read"))]
WriteTeam = Annotated[AuthorizedTeam, Depends(team_with_scope("hog_flow:write"))]


@router.post("/user_blast_radius/", response_model=BlastRadius, responses=ERROR_RESPONSES, summary="Count an audience")
async def user_blast_radius(
    session: DBSession,
    ctx: BlastRadiusTeam,
    settings: AppSettings,
    body: Annotated[Any, Body(openapi_examples={"plan": {"value": BLAST_RADIUS_EXAMPLE}})] = None,
) -> Any:
    """How many of the team's persons match `filters.properties` (`affected`) out of all (`total`).

    The same semantics as a batch job's audience. `dedupe_key: "email"` counts sends (one per
    distinct email). Feature-flag conditions are refused. Large audiences come with a
    `confirm_token` that starting a batch job for them needs. `group_type_index` is accepted and
    ignored: persons are counted.
    """
    return await audiences.blast_radius(session, ctx.team, body, audiences.confirm_policy(settings))


@router.post(
    "/bulk_delete/",
    response_model=BulkDeleted,
    responses={**ERROR_RESPONSES, 400: {"description": '`{"error": ...}`'}},
    summary="Delete archived flows",
)
async def bulk_delete(session: DBSession, ctx: WriteTeam, body: Annotated[Any, Body()] = None) -> Any:
    """Delete the team's archived flows among `ids`; others are left alone.

    `deleted` counts the flows plus their schedules and batch jobs, as PostHog's count does.
    """
    return {"deleted": await delete_archived(session, ctx.team.id, body)}
