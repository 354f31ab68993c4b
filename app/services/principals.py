"""Who a personal API key is: the key, its user, the user's organizations and teams, cached briefly.

Every API request authenticates, so without a cache each one read the key, the user, the team, the
membership and the organization (5 queries). A `Principal` holds all of it and is cached per key hash:

1. a hit is trusted for at most `ttl_seconds` (`HOGFLOWS_API_AUTH_CACHE_SECONDS`);
2. any write in this process to keys, users, memberships, organizations, projects or teams (a key
   rolled, deleted or re-scoped, a user deactivated...) drops every entry at once, and with Redis so
   does the same write in another API process (`app/db/invalidation.py`); other writes (straight in
   the database, a lost message) are seen once the TTL has passed;
3. unknown keys are never cached (a flood of made-up keys cannot fill the cache);
4. the cached ORM objects are never handed out: a request gets copies merged into its own session.

The loaded state is two queries: the key with its user, then the memberships with their organizations
and teams. A team created after the load is looked up on its own (one query).
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm.attributes import set_committed_value

from app.db.invalidation import ChangeStamps, watch
from app.db.models import Organization, OrganizationMembership, PersonalAPIKey, Project, Team, User
from app.db.repositories.tenancy import TenancyRepository

TENANCY = ChangeStamps("tenancy")
watch((PersonalAPIKey, User, OrganizationMembership, Organization, Project, Team), TENANCY)


@dataclass(frozen=True)
class Principal:
    key: PersonalAPIKey
    user: User
    levels: dict[UUID, int] = field(default_factory=dict)
    organizations: dict[UUID, Organization] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)


async def load_principal(repo: TenancyRepository, key_hash: str) -> Principal | None:
    found = await repo.get_key_with_user(key_hash)
    if found is None:
        return None
    key, user = found
    principal = Principal(key=key, user=user)
    for level, organization, team in await repo.memberships_with_teams(user.id):
        principal.levels[organization.id] = level
        principal.organizations[organization.id] = organization
        if team is not None:
            principal.teams[team.id] = team
    # Out of the request's session, so its rollback cannot expire what the cache keeps.
    for obj in {id(o): o for o in (key, user, *principal.organizations.values(), *principal.teams.values())}.values():
        repo.session.expunge(obj)
    return principal


@dataclass
class _Entry:
    principal: Principal
    stamp: tuple[int, int]
    loaded_at: float


class PrincipalCache:
    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def cached(self, key_hash: str) -> Principal | None:
        """The principal if a fresh one is cached, without reading anything."""
        entry = self._entries.get(key_hash)
        if entry is not None and entry.stamp == TENANCY.stamp() and self.clock() - entry.loaded_at < self.ttl_seconds:
            self._entries.move_to_end(key_hash)
            return entry.principal
        return None

    async def get(self, repo: TenancyRepository, key_hash: str) -> Principal | None:
        principal = self.cached(key_hash)
        if principal is not None:
            return principal
        now = self.clock()
        stamp = TENANCY.stamp()  # taken before reading, so a write racing the read invalidates it
        principal = await load_principal(repo, key_hash)
        if principal is None:
            self._entries.pop(key_hash, None)
            return None
        if self.ttl_seconds > 0:
            self._entries[key_hash] = _Entry(principal, stamp, now)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return principal

    def key_used(self, principal: Principal, last_used_at: datetime) -> None:
        """Keep the cached key's `last_used_at` current (without dirtying it), so it is written only hourly."""
        set_committed_value(principal.key, "last_used_at", last_used_at)
