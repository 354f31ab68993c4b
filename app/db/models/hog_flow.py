"""A Hog Flow: a graph of actions joined by edges, with its trigger, masking and conversion goal."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, JSONType, UTCDateTime, utcnow, uuid7
from app.db.models.tenancy import User


class HogFlow(Base):
    __tablename__ = "hog_flows"
    __table_args__ = (
        Index("ix_hog_flows_team_id_updated_at", "team_id", "updated_at"),
        Index("ix_hog_flows_team_id_status", "team_id", "status"),
        # Serves the list filter `?trigger={...}` (JSONB containment) and the event router.
        Index("ix_hog_flows_trigger", "trigger", postgresql_using="gin"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # The product surface that owns the flow (`loops`, `broadcasts`); set on create, never changed.
    origin_product: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    trigger_masking: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    conversion: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    exit_condition: Mapped[str] = mapped_column(String(100), default="exit_on_conversion")
    edges: Mapped[Any] = mapped_column(JSONType, default=dict)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    abort_action: Mapped[str | None] = mapped_column(String(400), nullable=True)
    variables: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    billable_action_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Staged content of an active flow (every field of `CONTENT_FIELDS`); publish copies it live.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    draft_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    created_by: Mapped[User | None] = relationship(lazy="raise")


class HogFlowRevision(Base):
    """The content of one published version of a flow, append-only.

    Unlike PostHog (where workers never read revisions), the worker runs a run on the graph of the
    version it started on, loaded from here once the flow has moved past it.
    """

    __tablename__ = "hog_flow_revisions"
    __table_args__ = (UniqueConstraint("hog_flow_id", "version"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    hog_flow_id: Mapped[UUID] = mapped_column(ForeignKey("hog_flows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User | None] = relationship(lazy="raise")
