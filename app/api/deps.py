"""Request dependencies: the database session, authentication, the team in the URL, scopes."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.errors import AuthenticationFailed, NotAuthenticated, NotFound, PermissionDenied, Throttled
from app.api.pagination import PG_INTEGER_MAX
from app.config import Settings
from app.db.models import HogFlow as HogFlowModel
from app.db.models import OrganizationMembership, PersonalAPIKey, Team, User
from app.db.repositories.tenancy import TenancyRepository, key_touch_due
from app.db.session import session_scope
from app.services import hog_flows as flows
from app.services.api_keys import hash_key, scope_satisfied
from app.services.principals import Principal, PrincipalCache, load_principal
from app.services.rate_limit import Rate, RateLimiter


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; committed before the response is sent, rolled back on error.
    Reads (GET, HEAD) run outside a transaction on PostgreSQL: each statement sees what is committed."""
    state = request.app.state
    sessionmaker: async_sessionmaker[AsyncSession] = (
        state.read_sessionmaker if request.method in ("GET", "HEAD") else state.sessionmaker
    )
    async with session_scope(sessionmaker) as session:
        yield session


DBSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


@dataclass(frozen=True)
class Authenticated:
    user: User
    key: PersonalAPIKey
    principal: Principal


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
    key_hash = hash_key(key_value)
    auth = await authenticate_key_hash(session, key_hash, source, request.app.state.principals)
    await _throttle(request, key_hash)
    return auth


async def authenticate_key_hash(
    session: AsyncSession, secure_value: str, source: str, principals: PrincipalCache | None = None
) -> Authenticated:
    """The key with this stored hash and its active user (the web page's session holds only the hash).
    With `principals`, what the key gives access to comes from that cache (app/services/principals.py)."""
    repo = TenancyRepository(session)
    if principals is not None:
        principal = await principals.get(repo, secure_value)
    else:
        principal = await load_principal(repo, secure_value)
    if principal is None or not principal.user.is_active:
        raise AuthenticationFailed(f"Personal API key found in request {source} is invalid.")
    used_at = await repo.touch_key(principal.key)
    if used_at is not None and principals is not None:
        principals.key_used(principal, used_at)
    # Cached objects are shared between requests: each request works on copies in its own session.
    user = await session.merge(principal.user, load=False)
    return Authenticated(user=user, key=principal.key, principal=principal)


async def _throttle(request: Request, key_hash: str) -> None:
    """Per key, right after authentication (PostHog checks permissions first, so there a refused request
    costs nothing; here it counts). See app/services/rate_limit.py."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    rates: list[Rate] = request.app.state.api_rates
    if limiter is None or not rates:
        return
    wait = await limiter.hit(key_hash.removeprefix("sha256$"), rates)
    if wait is not None:
        raise Throttled(wait)


def _parse_team_id(raw: str, user: User) -> int:
    if raw == "@current":
        if user.current_team_id is None:
            raise NotFound("Project not found.")
        return user.current_team_id
    if not raw.isdigit() or len(raw) > 10 or int(raw) > PG_INTEGER_MAX:
        raise NotFound("Project not found.")
    return int(raw)


TeamIdPath = Annotated[str, Path(description="Team (environment) id, or `@current`.")]


def team_with_scope(required_scope: str) -> Callable[..., Awaitable[AuthorizedTeam]]:
    """Resolve the URL's team for a caller that holds `required_scope`, in PostHog's check order."""

    async def dependency(
        session: DBSession,
        auth: Annotated[Authenticated, Depends(authenticate)],
        team_id: TeamIdPath,
    ) -> AuthorizedTeam:
        return await authorize_team(session, auth, team_id, required_scope)

    return dependency


async def authorize_team(
    session: AsyncSession, auth: Authenticated, raw_team_id: str, required_scope: str
) -> AuthorizedTeam:
    """The API's and the web page's one check of scope, team, organization and membership."""
    get_team = TenancyRepository(session).get_team
    team = await _allowed_team(auth.principal, auth.user, raw_team_id, required_scope, get_team)
    return AuthorizedTeam(team=await session.merge(team, load=False), user=auth.user, key=auth.key)


async def _allowed_team(
    principal: Principal,
    user: User,
    raw_team_id: str,
    required_scope: str,
    get_team: Callable[[int], Awaitable[Team | None]],
) -> Team:
    """The URL's team if the key may act on it with `required_scope`, in PostHog's check order (a team
    created after the principal was loaded is read with `get_team`)."""
    key = principal.key
    if key.scopes is not None and not scope_satisfied(key.scopes, required_scope):
        raise PermissionDenied(f"API key missing required scope '{required_scope}'")
    requested = _parse_team_id(raw_team_id, user)
    team = principal.teams.get(requested) or await get_team(requested)
    if team is None:
        raise NotFound("Project not found.")
    if key.scoped_teams is not None and team.id not in key.scoped_teams:
        raise PermissionDenied(f"API key does not have access to the requested project: ID {team.id}.")
    if key.scoped_organizations is not None and str(team.organization_id) not in key.scoped_organizations:
        raise PermissionDenied(
            f"API key does not have access to the requested organization: ID {team.organization_id}."
        )
    level = principal.levels.get(team.organization_id)
    if level is None:
        raise PermissionDenied("You don't have access to the project.")
    organization = principal.organizations.get(team.organization_id)
    if (
        organization is not None
        and not organization.members_can_use_personal_api_keys
        and level < OrganizationMembership.ADMIN
    ):
        raise PermissionDenied(
            f"Organization '{organization.name}' does not allow using personal API keys. "
            "Contact an admin to enable personal API keys for this organization."
        )
    return team


async def authorize_read(request: Request, raw_team_id: str, required_scope: str) -> int:
    """The id of the URL's team for a caller holding `required_scope`: `team_with_scope`'s checks, answers
    and throttling, without a session or ORM copies unless the cached principal misses or the key's hourly
    `last_used_at` write is due."""
    found = await _read_key(request)
    if found is None:
        raise NotAuthenticated()
    key_value, source = found
    key_hash = hash_key(key_value)
    state = request.app.state
    principals: PrincipalCache = state.principals
    principal = principals.cached(key_hash)
    if principal is None or key_touch_due(principal.key):
        async with session_scope(state.read_sessionmaker) as session:
            principal = (await authenticate_key_hash(session, key_hash, source, principals)).principal
    elif not principal.user.is_active:
        raise AuthenticationFailed(f"Personal API key found in request {source} is invalid.")
    await _throttle(request, key_hash)

    async def get_team(team_id: int) -> Team | None:
        async with session_scope(state.read_sessionmaker) as session:
            return await TenancyRepository(session).get_team(team_id)

    team = await _allowed_team(principal, principal.user, raw_team_id, required_scope, get_team)
    return team.id


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
