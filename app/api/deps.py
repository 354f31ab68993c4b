"""Request dependencies: the database session, authentication, the team in the URL, scopes."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.errors import AuthenticationFailed, NotAuthenticated, NotFound, PermissionDenied
from app.api.pagination import PG_INTEGER_MAX
from app.config import Settings
from app.db.models import HogFlow as HogFlowModel
from app.db.models import PersonalAPIKey, Team, User
from app.db.repositories.tenancy import TenancyRepository
from app.db.session import session_scope
from app.services import hog_flows as flows
from app.services.api_keys import hash_key, scope_satisfied


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; committed before the response is sent, rolled back on error."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with session_scope(sessionmaker) as session:
        yield session


DBSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


@dataclass(frozen=True)
class Authenticated:
    user: User
    key: PersonalAPIKey


@dataclass(frozen=True)
class AuthorizedTeam:
    """The team in the URL and the user and key allowed to act on it."""

    team: Team
    user: User
    key: PersonalAPIKey


async def _read_key(request: Request) -> tuple[str, str] | None:
    """Find a personal API key the way PostHog does: header, then body, then query string."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token and not token.startswith("pha_"):
        return token, "Authorization header"
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("personal_api_key"), str):
            return body["personal_api_key"], "body"
    query_key = request.query_params.get("personal_api_key")
    if query_key:
        return query_key, "query string"
    return None


async def authenticate(request: Request, session: DBSession) -> Authenticated:
    found = await _read_key(request)
    if found is None:
        raise NotAuthenticated()
    key_value, source = found
    return await authenticate_key_hash(session, hash_key(key_value), source)


async def authenticate_key_hash(session: AsyncSession, secure_value: str, source: str) -> Authenticated:
    """The key with this stored hash and its active user (the web page's session holds only the hash)."""
    repo = TenancyRepository(session)
    match = await repo.get_key_with_user(secure_value)
    if match is None or not match[1].is_active:
        raise AuthenticationFailed(f"Personal API key found in request {source} is invalid.")
    key, user = match
    repo.touch_key(key)
    return Authenticated(user=user, key=key)


def _parse_team_id(raw: str, user: User) -> int:
    if raw == "@current":
        if user.current_team_id is None:
            raise NotFound("Project not found.")
        return user.current_team_id
    if not raw.isdigit() or len(raw) > 10 or int(raw) > PG_INTEGER_MAX:
        raise NotFound("Project not found.")
    return int(raw)


def team_with_scope(required_scope: str) -> Callable[..., Awaitable[AuthorizedTeam]]:
    """Resolve the URL's team for a caller that holds `required_scope`, in PostHog's check order."""

    async def dependency(
        session: DBSession,
        auth: Annotated[Authenticated, Depends(authenticate)],
        team_id: Annotated[str, Path(description="Team (environment) id, or `@current`.")],
    ) -> AuthorizedTeam:
        return await authorize_team(session, auth, team_id, required_scope)

    return dependency


async def authorize_team(
    session: AsyncSession, auth: Authenticated, raw_team_id: str, required_scope: str
) -> AuthorizedTeam:
    """The API's and the web page's one check of scope, team, organization and membership."""
    key = auth.key
    if key.scopes is not None and not scope_satisfied(key.scopes, required_scope):
        raise PermissionDenied(f"API key missing required scope '{required_scope}'")
    repo = TenancyRepository(session)
    team = await repo.get_team(_parse_team_id(raw_team_id, auth.user))
    if team is None:
        raise NotFound("Project not found.")
    if key.scoped_teams is not None and team.id not in key.scoped_teams:
        raise PermissionDenied(f"API key does not have access to the requested project: ID {team.id}.")
    if key.scoped_organizations is not None and str(team.organization_id) not in key.scoped_organizations:
        raise PermissionDenied(
            f"API key does not have access to the requested organization: ID {team.organization_id}."
        )
    membership = await repo.get_membership(auth.user.id, team.organization_id)
    if membership is None:
        raise PermissionDenied("You don't have access to the project.")
    organization = await repo.get_organization(team.organization_id)
    if (
        organization is not None
        and not organization.members_can_use_personal_api_keys
        and membership.level < membership.ADMIN
    ):
        raise PermissionDenied(
            f"Organization '{organization.name}' does not allow using personal API keys. "
            "Contact an admin to enable personal API keys for this organization."
        )
    return AuthorizedTeam(team=team, user=auth.user, key=key)


ReadTeam = Annotated[AuthorizedTeam, Depends(team_with_scope("hog_flow:read"))]
WriteTeam = Annotated[AuthorizedTeam, Depends(team_with_scope("hog_flow:write"))]


# The flow in the path: 404 for a malformed id or another team's flow, before anything else is looked at
# (PostHog's get_object).


def parse_flow_id(flow_id: str) -> UUID:
    try:
        return UUID(flow_id)
    except ValueError:
        raise NotFound() from None


async def readable_flow(session: DBSession, ctx: ReadTeam, flow_id: str) -> HogFlowModel:
    return await flows.get_flow(session, ctx.team, parse_flow_id(flow_id))


async def writable_flow(session: DBSession, ctx: WriteTeam, flow_id: str) -> HogFlowModel:
    return await flows.get_flow(session, ctx.team, parse_flow_id(flow_id))


ReadableFlow = Annotated[HogFlowModel, Depends(readable_flow)]
WritableFlow = Annotated[HogFlowModel, Depends(writable_flow)]
