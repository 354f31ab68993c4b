"""Audiences of batch flows: persons selected by property filters, decided in SQL where possible."""

from app.audiences.definition import (
    BATCH_EVENT,
    Audience,
    TeamContext,
    audience_filters,
    batch_event,
    build_audience,
)
from app.audiences.pushdown import Pushdown, build_pushdown

__all__ = [
    "BATCH_EVENT",
    "Audience",
    "Pushdown",
    "TeamContext",
    "audience_filters",
    "batch_event",
    "build_audience",
    "build_pushdown",
]
