"""Log entries and app metrics, with the columns of PostHog's `log_entries` and `app_metrics2`."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class LogEntry(Base):
    __tablename__ = "log_entries"
    __table_args__ = (Index("ix_log_entries_source_timestamp", "team_id", "log_source", "log_source_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(Integer)
    log_source: Mapped[str] = mapped_column(String(40))
    log_source_id: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)


class AppMetric(Base):
    __tablename__ = "app_metrics"
    __table_args__ = (Index("ix_app_metrics_source_timestamp", "team_id", "app_source", "app_source_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(Integer)
    app_source: Mapped[str] = mapped_column(String(40))
    app_source_id: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    metric_kind: Mapped[str] = mapped_column(String(40))
    metric_name: Mapped[str] = mapped_column(String(60))
    count: Mapped[int] = mapped_column(Integer, default=1)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
