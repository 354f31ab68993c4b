"""Audience sizes (`user_blast_radius`, api.md §8.1) with the same filter semantics as batch jobs.

1. `filters` is required (`Missing filters for which to get blast radius`, attr `filters`).
2. A feature-flag condition anywhere in `filters.properties` is a 400 on `filters`: a batch audience
   is a snapshot of who matches, and a flag has no fixed membership (PostHog's wording).
3. `dedupe_key` (optional, one of `SUPPORTED_DEDUPE_KEYS`): with `email`, `affected` counts sends,
   i.e. distinct emails (trimmed, case-insensitive) plus persons without one, and `without_email`
   counts the latter; the key applied is echoed.
4. `limit` is the most runs one batch job creates (`HOGFLOWS_BATCH_MAX_AUDIENCE`); null when uncapped
   (PostHog always has a number).
5. Above `HOGFLOWS_BATCH_CONFIRM_THRESHOLD` persons the answer carries a `confirm_token` (signed,
   valid for an hour, bound to the team and the audience filters); starting a batch job for an
   audience that large needs it back in the body (`confirm_token`), else 400 on `confirm_token`.
"""

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from app.audiences import Audience, TeamContext, build_audience
from app.config import Settings
from app.db.models import Team
from app.db.repositories.audiences import AudienceRepository, Candidate
from app.errors import ValidationError
from app.filters import FiltersCompileError
from app.hog import HogTimeoutError
from app.hog.budget import time_budget

MISSING_FILTERS = "Missing filters for which to get blast radius"
# Everything the VM judges for one request (SQL decides most persons; the rest share this).
BLAST_RADIUS_BUDGET_SECONDS = 10.0
FLAG_CONDITION = "Feature flags can't be used as a batch audience condition. Use person properties or cohorts instead."
CONFIRM_REQUIRED = (
    "This audience has {affected} persons, above the confirmation threshold of {threshold}. "
    "Send the confirm_token from user_blast_radius for these filters to start it."
)
CONFIRM_INVALID = (
    "The confirm_token is invalid or expired, or was issued for other filters. Ask user_blast_radius again."
)
SUPPORTED_DEDUPE_KEYS = ("email",)
CONFIRM_TOKEN_MAX_AGE = 3600
TOO_SLOW = (
    f"These filters take too long to evaluate for this project's persons (over {BLAST_RADIUS_BUDGET_SECONDS:g} s); "
    "simplify them"
)
_PAGE = 2000


def team_context(team: Team) -> TeamContext:
    return TeamContext(team.timezone or "UTC", tuple(team.test_account_filters or ()))


@dataclass(frozen=True)
class BlastRadius:
    affected: int
    total: int
    limit: int | None = None
    dedupe_key: str | None = None
    without_email: int | None = None
    confirm_token: str | None = None


def has_flag_condition(node: Any) -> bool:
    """Whether a property tree (lists, `{type: AND|OR, values}` groups) holds a `flag` condition."""
    if isinstance(node, list):
        return any(has_flag_condition(item) for item in node)
    if isinstance(node, Mapping):
        if node.get("type") == "flag":
            return True
        return has_flag_condition(node.get("values"))
    return False


def check_audience_filters(filters: Mapping[str, Any]) -> None:
    if has_flag_condition(filters.get("properties")):
        raise ValidationError(FLAG_CONDITION, attr="filters")


def _filters_of(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping) or "filters" not in body:
        raise ValidationError(MISSING_FILTERS, attr="filters")
    filters = body["filters"]
    if filters is None:
        filters = {}
    if not isinstance(filters, Mapping):
        raise ValidationError("Filters must be an object.", attr="filters")
    return filters


def _dedupe_key_of(body: Mapping[str, Any]) -> str | None:
    key = body.get("dedupe_key")
    if key is None:
        return None
    if not isinstance(key, str) or key not in SUPPORTED_DEDUPE_KEYS:
        raise ValidationError(f'"{key}" is not a valid choice.', code="invalid_choice", attr="dedupe_key")
    return key


def build_checked_audience(filters: Mapping[str, Any], team: Team) -> Audience:
    check_audience_filters(filters)
    try:
        return build_audience(filters, team_context(team))
    except FiltersCompileError as error:
        raise ValidationError(str(error), attr="filters") from error


def blast_radius_audience(body: Any, team: Team) -> Audience:
    filters = _filters_of(body)
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


def _emails_of_matches(audience: Audience, page: list[Candidate]) -> tuple[set[str], int]:
    emails: set[str] = set()
    without = 0
    for candidate in page:
        if not audience.matches(candidate.id, candidate.properties, candidate.distinct_id):
            continue
        email = (candidate.properties or {}).get("email")
        if isinstance(email, str) and email.strip():
            emails.add(email.strip().lower())
        else:
            without += 1
    return emails, without


async def count_by_email(session: AsyncSession, team_id: int, audience: Audience) -> tuple[int, int]:
    """(sends, persons without an email) of the audience: one send per distinct email."""
    repo = AudienceRepository(session)
    emails: set[str] = set()
    without = 0
    after = None
    while True:
        page = await repo.candidates(
            team_id, None, after=after, limit=_PAGE, with_distinct_id=audience.uses_distinct_id
        )
        # In a thread: judging thousands of persons must not hold the event loop.
        found, missing = await asyncio.to_thread(_emails_of_matches, audience, page)
        emails |= found
        without += missing
        if len(page) < _PAGE:
            return len(emails) + without, without
        after = page[-1].id


@dataclass(frozen=True)
class ConfirmPolicy:
    """Where confirm tokens start and how they are signed (from the settings)."""

    secret_key: str
    threshold: int  # 0: never asked
    limit: int | None = None

    def _serializer(self) -> URLSafeTimedSerializer:
        secret = self.secret_key.split(",")[0].strip() or self.secret_key
        return URLSafeTimedSerializer(secret, salt="hogflows.blast-radius.confirm")

    def issue(self, team_id: int, filters: Mapping[str, Any]) -> str:
        return self._serializer().dumps({"team": team_id, "filters": _fingerprint(filters)})

    def accepts(self, token: Any, team_id: int, filters: Mapping[str, Any]) -> bool:
        if not isinstance(token, str) or not token:
            return False
        try:
            claims = self._serializer().loads(token, max_age=CONFIRM_TOKEN_MAX_AGE)
        except BadSignature:  # SignatureExpired is one too
            return False
        return bool(claims == {"team": team_id, "filters": _fingerprint(filters)})

    def needs_confirmation(self, affected: int) -> bool:
        return self.threshold > 0 and affected > self.threshold


def confirm_policy(settings: Settings) -> ConfirmPolicy:
    return ConfirmPolicy(
        secret_key=settings.secret_key,
        threshold=settings.batch_confirm_threshold,
        limit=settings.batch_max_audience_size or None,
    )


def _fingerprint(filters: Mapping[str, Any]) -> str:
    audience = {key: filters[key] for key in ("properties", "filter_test_accounts") if key in filters}
    canonical = json.dumps(audience, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def blast_radius(session: AsyncSession, team: Team, body: Any, policy: ConfirmPolicy) -> BlastRadius:
    filters = _filters_of(body)
    assert isinstance(body, Mapping)
    dedupe_key = _dedupe_key_of(body)
    audience = build_checked_audience(filters, team)
    total = await AudienceRepository(session).count_persons(team.id)
    try:
        with time_budget(BLAST_RADIUS_BUDGET_SECONDS):
            affected = min(await count_audience(session, team.id, audience), total)
            emails = await count_by_email(session, team.id, audience) if dedupe_key is not None else None
    except HogTimeoutError as error:
        raise ValidationError(TOO_SLOW, attr="filters") from error
    token = policy.issue(team.id, filters) if policy.needs_confirmation(affected) else None
    if emails is None:
        return BlastRadius(affected=affected, total=total, limit=policy.limit, confirm_token=token)
    sends, without_email = emails
    return BlastRadius(
        affected=sends,
        total=total,
        limit=policy.limit,
        dedupe_key=dedupe_key,
        without_email=without_email,
        confirm_token=token,
    )


async def check_confirmation(
    session: AsyncSession, team: Team, filters: Mapping[str, Any], token: Any, policy: ConfirmPolicy
) -> None:
    """A batch job for more persons than the threshold needs the token `blast_radius` issued."""
    if policy.threshold <= 0:
        return
    audience = build_checked_audience(filters, team)
    try:
        with time_budget(BLAST_RADIUS_BUDGET_SECONDS):
            affected = await count_audience(session, team.id, audience)
    except HogTimeoutError as error:
        raise ValidationError(TOO_SLOW, attr="filters") from error
    if not policy.needs_confirmation(affected):
        return
    if token is None:
        raise ValidationError(
            CONFIRM_REQUIRED.format(affected=affected, threshold=policy.threshold), attr="confirm_token"
        )
    if not policy.accepts(token, team.id, filters):
        raise ValidationError(CONFIRM_INVALID, attr="confirm_token")
