"""Activity log entries: appended on every change, read newest first with a keyset cursor."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ActivityLog, User


class ActivityLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, entry: ActivityLog) -> ActivityLog:
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def page(
        self,
        team_id: int,
        *,
        scope: str | None,
        item_id: str | None,
        user_id: int | None,
        before: tuple[datetime, UUID] | None,
        limit: int,
    ) -> Sequence[tuple[ActivityLog, User | None]]:
        """Up to `limit` entries, newest first, strictly after the cursor `(created_at, id)`."""
        statement = (
            select(ActivityLog, User)
            .outerjoin(User, User.id == ActivityLog.user_id)
            .where(ActivityLog.team_id == team_id)
        )
        if scope is not None:
            statement = statement.where(ActivityLog.scope == scope)
        if item_id is not None:
            statement = statement.where(ActivityLog.item_id == item_id)
        if user_id is not None:
            statement = statement.where(ActivityLog.user_id == user_id)
        if before is not None:
            at, entry_id = before
            statement = statement.where(
                or_(ActivityLog.created_at < at, and_(ActivityLog.created_at == at, ActivityLog.id < entry_id))
            )
        statement = statement.order_by(ActivityLog.created_at.desc(), ActivityLog.id.desc()).limit(limit)
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]
