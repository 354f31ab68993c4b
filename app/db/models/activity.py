"""PostHog's activity log: who created, changed or deleted what, with the fields that changed."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JSONType, UTCDateTime, utcnow, uuid7


class ActivityLog(Base):
    __tablename__ = "activity_logs"
    __table_args__ = (Index("ix_activity_logs_team_scope_item_created", "team_id", "scope", "item_id", "created_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # No foreign key to the item: entries outlive what they describe (a deleted flow keeps its history).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    activity: Mapped[str] = mapped_column(String(79))
    scope: Mapped[str] = mapped_column(String(79))
    item_id: Mapped[str] = mapped_column(String(72))
    detail: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
