"""Audience sizes (`user_blast_radius`, api.md §8.1) with the same filter semantics as batch jobs."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audiences import Audience, TeamContext, build_audience
from app.db.models import Team
from app.db.repositories.audiences import AudienceRepository
from app.errors import ValidationError
from app.filters import FiltersCompileError
from app.hog import HogTimeoutError
from app.hog.budget import time_budget

MISSING_FILTERS = "Missing filters for which to get blast radius"
# Everything the VM judges for one request (SQL decides most persons; the rest share this).
BLAST_RADIUS_BUDGET_SECONDS = 10.0
_PAGE = 2000


def team_context(team: Team) -> TeamContext:
    return TeamContext(team.timezone or "UTC", tuple(team.test_account_filters or ()))


@dataclass(frozen=True)
class BlastRadius:
    affected: int
    total: int


def blast_radius_audience(body: Any, team: Team) -> Audience:
    if not isinstance(body, Mapping) or "filters" not in body:
        raise ValidationError(MISSING_FILTERS)
    filters = body["filters"]
    if filters is None:
        filters = {}
    if not isinstance(filters, Mapping):
        raise ValidationError("Filters must be an object.", attr="filters")
    try:
        return build_audience(filters, team_context(team))
    except FiltersCompileError as error:
        raise ValidationError(str(error), attr="filters") from error


async def count_audience(session: AsyncSession, team_id: int, audience: Audience) -> int:
    """Persons matching: counted in SQL where it decides, judged by the VM where it cannot."""
    repo = AudienceRepository(session)
    pushdown = repo.pushdown(audience)
    affected = await repo.count_decided(team_id, pushdown) if pushdown is not None else 0
    if pushdown is not None and pushdown.exact:
        return affected
    after = None
    while True:
        page = await repo.candidates(
            team_id,
            pushdown,
            after=after,
            limit=_PAGE,
            undecided_only=True,
            with_distinct_id=audience.uses_distinct_id,
        )
        # In a thread: judging thousands of persons must not hold the event loop.
        affected += await asyncio.to_thread(audience.count_matches, page)
        if len(page) < _PAGE:
            return affected
        after = page[-1].id


async def blast_radius(session: AsyncSession, team: Team, body: Any) -> BlastRadius:
    audience = blast_radius_audience(body, team)
    total = await AudienceRepository(session).count_persons(team.id)
    try:
        with time_budget(BLAST_RADIUS_BUDGET_SECONDS):
            affected = await count_audience(session, team.id, audience)
    except HogTimeoutError as error:
        raise ValidationError(
            f"These filters take too long to evaluate for this project's persons (over "
            f"{BLAST_RADIUS_BUDGET_SECONDS:g} s); simplify them",
            attr="filters",
        ) from error
    return BlastRadius(affected=min(affected, total), total=total)
