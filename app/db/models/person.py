"""Persons and the distinct ids that point at them, per team."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JSONType, UTCDateTime, utcnow, uuid7


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (
        Index("ix_persons_team_id_created_at", "team_id", "created_at"),
        # Batch audiences push property filters down to JSONB operators (`@>`, `?`).
        Index("ix_persons_properties", "properties", postgresql_using="gin"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PersonDistinctId(Base):
    __tablename__ = "person_distinct_ids"
    __table_args__ = (UniqueConstraint("team_id", "distinct_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    distinct_id: Mapped[str] = mapped_column(String(400))
    person_id: Mapped[UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
