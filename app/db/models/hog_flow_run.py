"""A run (PostHog: invocation) of a flow for one person, and the steps it took.

PostgreSQL is the source of truth: a queue job only carries the run id. The lease columns let
exactly one worker execute a pickup; a run whose lease expired is picked up again.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JSONType, UTCDateTime, utcnow, uuid7

BigId = BigInteger().with_variant(Integer, "sqlite")


class RunStatus:
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    PENDING = (QUEUED, WAITING)
    FINISHED = (COMPLETED, FAILED, CANCELLED)


class HogFlowRun(Base):
    __tablename__ = "hog_flow_runs"
    __table_args__ = (
        Index("ix_hog_flow_runs_status_next_run_at", "status", "next_run_at"),
        # Fair claiming reads each team's oldest due runs.
        Index("ix_hog_flow_runs_team_id_status_next_run_at", "team_id", "status", "next_run_at"),
        Index("ix_hog_flow_runs_hog_flow_id_created_at", "hog_flow_id", "created_at"),
        # A manual run started with an `Idempotency-Key` exists once per flow and key.
        Index("ux_hog_flow_runs_hog_flow_id_idempotency_key", "hog_flow_id", "idempotency_key", unique=True),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    hog_flow_id: Mapped[UUID] = mapped_column(ForeignKey("hog_flows.id", ondelete="CASCADE"))
    # The batch job a run belongs to; it replaces the flow id as the log/metric source (PostHog).
    parent_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED)
    # The flow version the run started on; the run keeps that version's graph to the end.
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # PostHog's HogFlowInvocationContext: event, actionStepCount, variables, personId, currentAction.
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    current_action_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    distinct_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    person_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pickups: Mapped[int] = mapped_column(Integer, default=0)
    is_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Set by a cancel request while a worker holds the run; the worker ends it at the next step boundary.
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # 1 + how many times the run was rerun; `rerun_job_id` is the last rerun that restarted it.
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    rerun_job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HogFlowRunStep(Base):
    """One action a run executed, in order. (run, seq) is unique, so a step is recorded once."""

    __tablename__ = "hog_flow_run_steps"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[UUID] = mapped_column(ForeignKey("hog_flow_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    pickup: Mapped[int] = mapped_column(Integer)
    action_id: Mapped[str] = mapped_column(String(400))
    action_type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(40))
    next_action_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HogFlowSend(Base):
    """A side effect (HTTP request, email, SMS) a function step performed, keyed so a retry never repeats it.

    The row is written before the request goes out and completed after; a retried pickup that finds
    a completed row reuses its response instead of sending again.
    """

    __tablename__ = "hog_flow_sends"
    __table_args__ = (UniqueConstraint("run_id", "action_id", "attempt", "call_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[UUID] = mapped_column(ForeignKey("hog_flow_runs.id", ondelete="CASCADE"))
    action_id: Mapped[str] = mapped_column(String(400))
    # Which entry into the action (a run may pass through the same action again in a loop).
    attempt: Mapped[int] = mapped_column(Integer)
    # Which async call of the function this is (a template may call fetch more than once).
    call_index: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))  # fetch | email
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done
    response: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HogFlowRunWait(Base):
    """What a parked run waits for (an event of its person, a change to its person, a conversion event).

    The capture pipeline finds rows by (team, person) in one query per batch, marks the ones an event
    matched and wakes their runs; see `app.engine.waits`.
    """

    __tablename__ = "hog_flow_run_waits"
    __table_args__ = (
        Index("ix_hog_flow_run_waits_team_id_person_id", "team_id", "person_id"),
        Index("ix_hog_flow_run_waits_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[UUID] = mapped_column(ForeignKey("hog_flow_runs.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))  # event | condition | conversion
    event_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    filters: Mapped[Any] = mapped_column(JSONType, nullable=True)
    correlation: Mapped[Any] = mapped_column(JSONType, nullable=True)
    correlation_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    matched_event: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
