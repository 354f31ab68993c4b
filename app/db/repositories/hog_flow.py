"""Hog flows: reads scoped to a team, writes, and the list filters."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, delete, func, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.db.models import HogFlow


@dataclass(frozen=True)
class HogFlowListFilters:
    id: UUID | None = None
    created_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    trigger: dict[str, Any] | None = None
    status: str | None = None
    # Case-insensitive substring of the name (the web page's search box).
    name_contains: str | None = None


class HogFlowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _team_query(self, team_id: int) -> Select[HogFlow]:
        return select(HogFlow).where(HogFlow.team_id == team_id).options(joinedload(HogFlow.created_by))

    async def get(self, team_id: int, flow_id: UUID) -> HogFlow | None:
        statement = self._team_query(team_id).where(HogFlow.id == flow_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(
        self, team_id: int, filters: HogFlowListFilters, *, limit: int, offset: int
    ) -> tuple[int, Sequence[HogFlow]]:
        statement = self._team_query(team_id)
        if filters.id is not None:
            statement = statement.where(HogFlow.id == filters.id)
        if filters.created_by is not None:
            statement = statement.where(HogFlow.created_by_id == filters.created_by)
        if filters.created_at is not None:
            statement = statement.where(HogFlow.created_at == filters.created_at)
        if filters.updated_at is not None:
            statement = statement.where(HogFlow.updated_at == filters.updated_at)
        if filters.status is not None:
            statement = statement.where(HogFlow.status == filters.status)
        if filters.name_contains:
            statement = statement.where(HogFlow.name.icontains(filters.name_contains, autoescape=True))
        if filters.trigger:
            statement = statement.where(self._trigger_contains(filters.trigger))
        count = await self.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
        page = statement.order_by(HogFlow.updated_at.desc(), HogFlow.id.desc()).limit(limit).offset(offset)
        return count or 0, (await self.session.execute(page)).scalars().all()

    def _trigger_contains(self, wanted: dict[str, Any]) -> Any:
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            return type_coerce(HogFlow.trigger, JSONB).contains(wanted)
        # SQLite: `json_contains` is registered on every connection (app.db.session).
        return func.json_contains(HogFlow.trigger, json.dumps(wanted)) == 1

    async def add(self, flow: HogFlow) -> HogFlow:
        self.session.add(flow)
        await self.session.flush()
        await self.session.refresh(flow, attribute_names=["created_by"])
        return flow

    async def save(self, flow: HogFlow) -> HogFlow:
        await self.session.flush()
        await self.session.refresh(flow, attribute_names=["created_by"])
        return flow

    async def delete(self, flow: HogFlow) -> None:
        await self.session.delete(flow)
        await self.session.flush()

    async def delete_archived(self, team_id: int, flow_ids: Sequence[UUID]) -> int:
        statement = delete(HogFlow).where(
            HogFlow.team_id == team_id, HogFlow.id.in_(flow_ids), HogFlow.status == "archived"
        )
        result = await self.session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
