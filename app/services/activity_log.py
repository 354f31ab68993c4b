"""Activity log of hog flows, in the shape of PostHog's `ActivityLog` (`posthog/models/activity_logging`).

1. Creating, updating and deleting a flow appends one entry each: `activity` is `created`,
   `updated` or `deleted`, `scope` `HogFlow`, `item_id` the flow id.
2. `detail` is PostHog's `Detail`: `{id, changes, merge, trigger, name, short_id, type, context}`.
   An update lists one change per field that differs, `{type: "HogFlow", action: "changed",
   field, before, after}`; an update that changes nothing tracked appends nothing. Created and
   deleted entries have `changes: null`, as PostHog logs them.
3. Secret inputs appear masked (`{"secret": true}`) in `before`/`after`, never in clear.
4. Read newest first, filtered by `scope`, `item_id` and `user`, with an opaque keyset cursor
   (PostHog's `CursorPagination`: `{next, previous, results}`). Difference: `previous` is always
   null here; page on with `next`.
"""

import base64
import binascii
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import ActivityLog, HogFlow, User
from app.db.repositories.activity import ActivityLogRepository
from app.errors import ValidationError
from app.services.secret_inputs import mask_secret_inputs

SCOPE = "HogFlow"
# The fields a person edits; bookkeeping (`updated_at`, compiled `billable_action_types`) is left out.
TRACKED_FIELDS = (
    "name",
    "description",
    "status",
    "version",
    "trigger",
    "trigger_masking",
    "conversion",
    "exit_condition",
    "edges",
    "actions",
    "abort_action",
    "variables",
)
INVALID_CURSOR = "Invalid cursor"


def snapshot(flow: HogFlow) -> dict[str, Any]:
    """The tracked fields of a flow as JSON values, secrets masked."""
    values = {name: copy.deepcopy(getattr(flow, name, None)) for name in TRACKED_FIELDS}
    return mask_secret_inputs(values)


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": SCOPE, "action": "changed", "field": name, "before": before.get(name), "after": after.get(name)}
        for name in TRACKED_FIELDS
        if before.get(name) != after.get(name)
    ]


def _detail(flow: HogFlow, changes: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {
        "id": str(flow.id),
        "changes": changes,
        "merge": None,
        "trigger": None,
        "name": flow.name,
        "short_id": None,
        "type": None,
        "context": None,
    }


async def _append(
    session: AsyncSession, flow: HogFlow, user: User | None, activity: str, changes: list[dict[str, Any]] | None
) -> None:
    entry = ActivityLog(
        team_id=flow.team_id,
        user_id=user.id if user is not None else None,
        activity=activity,
        scope=SCOPE,
        item_id=str(flow.id),
        detail=json.loads(json.dumps(_detail(flow, changes), default=str)),
        created_at=utcnow(),
    )
    await ActivityLogRepository(session).add(entry)


async def log_created(session: AsyncSession, flow: HogFlow, user: User | None) -> None:
    await _append(session, flow, user, "created", None)


async def log_updated(session: AsyncSession, flow: HogFlow, user: User | None, before: Mapping[str, Any]) -> None:
    changes = changes_between(before, snapshot(flow))
    if changes:
        await _append(session, flow, user, "updated", json.loads(json.dumps(changes, default=str)))


async def log_deleted(session: AsyncSession, flow: HogFlow, user: User | None) -> None:
    await _append(session, flow, user, "deleted", None)


@dataclass(frozen=True)
class ActivityPage:
    entries: list[tuple[ActivityLog, User | None]]
    next_cursor: str | None


def _encode(entry: ActivityLog) -> str:
    raw = json.dumps([entry.created_at.isoformat(), str(entry.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, entry_id = json.loads(raw)
        return datetime.fromisoformat(at), UUID(entry_id)
    except (ValueError, TypeError, binascii.Error):
        raise ValidationError(INVALID_CURSOR, attr="cursor") from None


async def read_page(
    session: AsyncSession,
    team_id: int,
    *,
    scope: str | None,
    item_id: str | None,
    user_id: int | None,
    cursor: str | None,
    page_size: int,
) -> ActivityPage:
    before = _decode(cursor) if cursor else None
    rows = await ActivityLogRepository(session).page(
        team_id, scope=scope, item_id=item_id, user_id=user_id, before=before, limit=page_size + 1
    )
    entries = list(rows[:page_size])
    next_cursor = _encode(entries[-1][0]) if len(rows) > page_size else None
    return ActivityPage(entries, next_cursor)
