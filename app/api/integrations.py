"""`/integrations/`: a team's connected accounts (Slack, Twilio...) that function inputs refer to by id.

`sensitive_config` (tokens) is accepted on create and never returned.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import AppSettings, AuthorizedTeam, DBSession, team_with_scope
from app.api.errors import NotFound
from app.api.hog_flows import ERROR_RESPONSES
from app.api.pagination import PG_INTEGER_MAX, Pagination
from app.crypto import SecretBox
from app.db.models import Integration as IntegrationModel
from app.db.repositories.integrations import IntegrationRepository
from app.schemas.integrations import Integration, IntegrationCreate, IntegrationKind, IntegrationPage

router = APIRouter(prefix="/integrations", tags=["integrations"])

IntegrationsReader = Annotated[AuthorizedTeam, Depends(team_with_scope("integration:read"))]
IntegrationsWriter = Annotated[AuthorizedTeam, Depends(team_with_scope("integration:write"))]


async def _get(session: DBSession, team_id: int, integration_id: str) -> IntegrationModel:
    if not integration_id.isdigit() or len(integration_id) > 10 or int(integration_id) > PG_INTEGER_MAX:
        raise NotFound()
    integration = await IntegrationRepository(session).get(team_id, int(integration_id))
    if integration is None:
        raise NotFound()
    return integration


@router.get("/", response_model=IntegrationPage, responses=ERROR_RESPONSES, summary="List integrations")
async def list_integrations(
    session: DBSession, ctx: IntegrationsReader, page: Pagination, kind: IntegrationKind | None = None
) -> dict[str, Any]:
    """The team's integrations, newest first; `kind` filters."""
    repository = IntegrationRepository(session)
    count, rows = await repository.list(ctx.team.id, kind=kind, limit=page.limit, offset=page.offset)
    next_url, previous_url = page.links(count)
    return {"count": count, "next": next_url, "previous": previous_url, "results": rows}


@router.post(
    "/",
    response_model=Integration,
    status_code=status.HTTP_201_CREATED,
    responses=ERROR_RESPONSES,
    summary="Create an integration",
)
async def create_integration(
    session: DBSession, settings: AppSettings, ctx: IntegrationsWriter, payload: IntegrationCreate
) -> Any:
    """Store an account's config and tokens (`sensitive_config`, write-only, encrypted at rest)."""
    box = SecretBox.from_setting(settings.secret_key)
    return await IntegrationRepository(session, box).create(
        team_id=ctx.team.id,
        kind=payload.kind,
        config=payload.config,
        sensitive_config=payload.sensitive_config,
        integration_id=payload.integration_id,
        created_by=ctx.user,
    )


@router.get(
    "/{integration_id}/", response_model=Integration, responses=ERROR_RESPONSES, summary="Retrieve an integration"
)
async def retrieve_integration(session: DBSession, ctx: IntegrationsReader, integration_id: str) -> Any:
    """One integration, without its sensitive config."""
    return await _get(session, ctx.team.id, integration_id)


@router.delete(
    "/{integration_id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERROR_RESPONSES,
    summary="Delete an integration",
)
async def delete_integration(session: DBSession, ctx: IntegrationsWriter, integration_id: str) -> Response:
    """Delete an integration; function inputs that use it resolve to null afterwards."""
    integration = await _get(session, ctx.team.id, integration_id)
    await IntegrationRepository(session).delete(integration)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
