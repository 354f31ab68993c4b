"""Batch jobs (a flow run for a whole audience) and schedules that start them."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JSONType, UTCDateTime, utcnow, uuid7


class HogFlowBatchJob(Base):
    __tablename__ = "hog_flow_batch_jobs"
    __table_args__ = (
        Index("ix_hog_flow_batch_jobs_hog_flow_id_created_at", "hog_flow_id", "created_at"),
        Index("ix_hog_flow_batch_jobs_status", "status"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    hog_flow_id: Mapped[UUID] = mapped_column(ForeignKey("hog_flows.id", ondelete="CASCADE"))
    # PostHog: waiting | queued | active | completed | cancelled | failed
    status: Mapped[str] = mapped_column(String(20), default="queued")
    filters: Mapped[Any] = mapped_column(JSONType, default=dict)
    variables: Mapped[Any] = mapped_column(JSONType, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # Progress, visible while the job runs; `cursor` is the last person id handled, so a job resumes there.
    persons_matched: Mapped[int] = mapped_column(Integer, default=0)
    runs_created: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HogFlowSchedule(Base):
    __tablename__ = "hog_flow_schedules"
    __table_args__ = (Index("ix_hog_flow_schedules_status_next_run_at", "status", "next_run_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    hog_flow_id: Mapped[UUID] = mapped_column(ForeignKey("hog_flows.id", ondelete="CASCADE"), index=True)
    rrule: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    variables: Mapped[Any] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | paused | completed
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
