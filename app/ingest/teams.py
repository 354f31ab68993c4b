"""Project token → team, cached per API process (every capture request needs it; it almost never changes).

An entry is dropped at once when this process writes any tenancy row (app/db/invalidation.py, the same
stamps as the API's principal cache) and is trusted for at most `ttl_seconds` otherwise, which bounds
how long another process's change (a team deleted, a token rotated) goes unseen here. Unknown tokens
are never cached. The cached team is detached from the session that loaded it and only read.
"""

import time
from collections import OrderedDict
from collections.abc import Callable

from app.db.models import Team
from app.db.repositories.tenancy import TenancyRepository
from app.services.principals import TENANCY


class TeamTokenCache:
    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[Team, tuple[int, int], float]] = OrderedDict()

    def cached(self, token: str) -> Team | None:
        """The team while its entry is fresh, without touching the database (None: ask `get`)."""
        entry = self._entries.get(token)
        if entry is not None and entry[1] == TENANCY.stamp() and self.clock() - entry[2] < self.ttl_seconds:
            self._entries.move_to_end(token)
            return entry[0]
        return None

    async def get(self, repo: TenancyRepository, token: str) -> Team | None:
        team = self.cached(token)
        if team is not None:
            return team
        now = self.clock()
        stamp = TENANCY.stamp()
        team = await repo.get_team_by_token(token)
        if team is None:
            self._entries.pop(token, None)
            return None
        repo.session.expunge(team)
        if self.ttl_seconds > 0:
            self._entries[token] = (team, stamp, now)
            self._entries.move_to_end(token)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return team
