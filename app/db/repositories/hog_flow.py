"""Hog flows: reads scoped to a team, writes, and the list filters."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    ColumnElement,
    Result,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import joinedload

from app.db.asyncpg_direct import DriverRead
from app.db.models import HogFlow, HogFlowRevision, HogFlowRun, HogFlowSchedule, RunStatus, User

# PostgreSQL `integer`, the type of every version column.
INTEGER_MAX = 2**31 - 1
# Action types that message a person: a flow with one is `messaging`, any other `automation` (PostHog).
MESSAGING_ACTION_TYPES = ("function_email", "function_sms", "function_push")
# List types that name the product surface owning a flow rather than what the flow does.
OWNED_FLOW_TYPES = {"loop": "loops", "broadcast": "broadcasts"}


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
    # A regex (name or description, case-insensitive) built by the service from the search term.
    search_pattern: str | None = None
    types: frozenset[str] | None = None
    origin_products: frozenset[str] | None = None


def filter_conditions(filters: HogFlowListFilters, is_postgresql: bool) -> list[ColumnElement[bool]]:
    """The list filters as WHERE conditions (the team condition is the caller's)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.id is not None:
        conditions.append(HogFlow.id == filters.id)
    if filters.created_by is not None:
        conditions.append(HogFlow.created_by_id == filters.created_by)
    if filters.created_at is not None:
        conditions.append(HogFlow.created_at == filters.created_at)
    if filters.updated_at is not None:
        conditions.append(HogFlow.updated_at == filters.updated_at)
    if filters.status is not None:
        conditions.append(HogFlow.status == filters.status)
    if filters.name_contains:
        conditions.append(HogFlow.name.icontains(filters.name_contains, autoescape=True))
    if filters.trigger:
        conditions.append(_trigger_contains(filters.trigger, is_postgresql))
    if filters.search_pattern:
        conditions.append(
            or_(
                _matches(HogFlow.name, filters.search_pattern, is_postgresql),
                _matches(HogFlow.description, filters.search_pattern, is_postgresql),
            )
        )
    if filters.types:
        conditions.append(_type_condition(filters.types, is_postgresql))
    if filters.origin_products:
        conditions.append(HogFlow.origin_product.in_(sorted(filters.origin_products)))
    return conditions


def _matches(column: Any, pattern: str, is_postgresql: bool) -> ColumnElement[bool]:
    """Case-insensitive regex match: `~*` on PostgreSQL, Python's `re` (REGEXP) on SQLite."""
    if is_postgresql:
        return column.regexp_match(pattern, flags="i")
    return column.regexp_match("(?i)" + pattern)


def _type_condition(types: frozenset[str], is_postgresql: bool) -> ColumnElement[bool]:
    """PostHog's `workflow_type_q`: owned types by origin product, the rest by their actions."""
    owned = [OWNED_FLOW_TYPES[t] for t in sorted(types) if t in OWNED_FLOW_TYPES]
    condition: ColumnElement[bool] = HogFlow.origin_product.in_(owned) if owned else literal(False)
    behavioural = types - set(OWNED_FLOW_TYPES)
    if not behavioural:
        return condition
    unowned = or_(HogFlow.origin_product.is_(None), HogFlow.origin_product.not_in(OWNED_FLOW_TYPES.values()))
    if behavioural == {"messaging", "automation"}:
        return or_(condition, unowned)
    messaging = or_(*(_actions_contain_type(action_type, is_postgresql) for action_type in MESSAGING_ACTION_TYPES))
    wanted = messaging if behavioural == {"messaging"} else not_(messaging)
    return or_(condition, and_(unowned, wanted))


def _actions_contain_type(action_type: str, is_postgresql: bool) -> ColumnElement[bool]:
    if is_postgresql:
        return type_coerce(HogFlow.actions, JSONB).contains([{"type": action_type}])
    return func.json_contains(HogFlow.actions, json.dumps([{"type": action_type}])) == 1


def _trigger_contains(wanted: dict[str, Any], is_postgresql: bool) -> ColumnElement[bool]:
    if is_postgresql:
        return type_coerce(HogFlow.trigger, JSONB).contains(wanted)
    # SQLite: `json_contains` is registered on every connection (app.db.session).
    return func.json_contains(HogFlow.trigger, json.dumps(wanted)) == 1


class HogFlowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _team_query(self, team_id: int) -> Select[HogFlow]:
        return select(HogFlow).where(HogFlow.team_id == team_id).options(joinedload(HogFlow.created_by))

    async def ids(self, team_id: int) -> set[str]:
        statement = select(HogFlow.id).where(HogFlow.team_id == team_id)
        return {str(flow_id) for flow_id in (await self.session.execute(statement)).scalars().all()}

    async def get(self, team_id: int, flow_id: UUID) -> HogFlow | None:
        statement = self._team_query(team_id).where(HogFlow.id == flow_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(
        self, team_id: int, filters: HogFlowListFilters, *, limit: int, offset: int
    ) -> tuple[int, Sequence[HogFlow]]:
        statement = self._team_query(team_id).where(*filter_conditions(filters, self._is_postgresql()))
        count = await self.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
        page = statement.order_by(HogFlow.updated_at.desc(), HogFlow.id.desc()).limit(limit).offset(offset)
        return count or 0, (await self.session.execute(page)).scalars().all()

    def _is_postgresql(self) -> bool:
        return self.session.bind is not None and self.session.bind.dialect.name == "postgresql"

    async def get_for_update(self, team_id: int, flow_id: UUID) -> HogFlow | None:
        """The flow, locked until the transaction ends, so a read-check-write cannot interleave."""
        statement = self._team_query(team_id).where(HogFlow.id == flow_id).with_for_update(of=HogFlow)
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()

    async def in_flight_runs_by_action(self, flow_id: UUID) -> dict[str, int]:
        """Unfinished runs of the flow by the action they are parked on (`""`: not started yet)."""
        statement = (
            select(HogFlowRun.current_action_id, func.count())
            .where(HogFlowRun.hog_flow_id == flow_id, HogFlowRun.status.not_in(RunStatus.FINISHED))
            .group_by(HogFlowRun.current_action_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {str(action_id or ""): int(count) for action_id, count in rows}

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


# Plain rows for the API's renderings (app/services/hog_flow_views.py): no ORM objects, one statement. JSON
# columns come as their text, which the renderings decode (or find already rendered).
USER_BASIC_COLUMNS = (
    "id", "uuid", "distinct_id", "first_name", "last_name", "email", "is_email_verified", "hedgehog_config",
    "role_at_organization",
)  # fmt: skip
SCHEDULE_COLUMNS = (
    "id", "rrule", "starts_at", "timezone", "variables", "status", "next_run_at", "created_at", "updated_at",
)  # fmt: skip
_FLOWS = HogFlow.__table__
_USERS = User.__table__
_SCHEDULES = HogFlowSchedule.__table__


def _as_text(column: Any, label: str) -> Any:
    return cast(column, Text).label(label) if isinstance(column.type, JSON) else column.label(label)


_FLOW_COLUMNS = [
    *(_as_text(column, column.name) for column in _FLOWS.c),
    *(_as_text(_USERS.c[name], f"created_by__{name}") for name in USER_BASIC_COLUMNS),
]
_WITH_CREATOR = _FLOWS.outerjoin(_USERS, _USERS.c.id == _FLOWS.c.created_by_id)
# The flow once per schedule (oldest first), or once with null schedule columns.
_DETAIL = DriverRead(
    select(*_FLOW_COLUMNS, *(_as_text(_SCHEDULES.c[name], f"schedule__{name}") for name in SCHEDULE_COLUMNS))
    .select_from(
        _WITH_CREATOR.outerjoin(
            _SCHEDULES, and_(_SCHEDULES.c.hog_flow_id == _FLOWS.c.id, _SCHEDULES.c.team_id == _FLOWS.c.team_id)
        )
    )
    .where(_FLOWS.c.team_id == bindparam("team_id"), _FLOWS.c.id == bindparam("flow_id"))
    .order_by(_SCHEDULES.c.created_at, _SCHEDULES.c.id)
)


def _page(conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """A page of the team's flows matching `conditions`, each row carrying `total_count`: the count of all
    matching flows, an uncorrelated subquery PostgreSQL runs once, so the page still stops after LIMIT rows
    of the (team_id, updated_at) index."""
    count = select(func.count()).select_from(_FLOWS).where(*conditions).correlate(None).scalar_subquery()
    return (
        select(*_FLOW_COLUMNS, count.label("total_count"))
        .select_from(_WITH_CREATOR)
        .where(*conditions)
        .order_by(_FLOWS.c.updated_at.desc(), _FLOWS.c.id.desc())
    )


_UNFILTERED_PAGE = DriverRead(
    _page([_FLOWS.c.team_id == bindparam("team_id")]).limit(bindparam("limit")).offset(bindparam("offset"))
)


def _dicts(result: Result[Any]) -> list[Mapping[str, Any]]:
    # Plain dicts: a renderer reads some 30 fields a row, several times cheaper than through RowMapping.
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


class HogFlowReads:
    """Flows as read-only rows (mappings) for rendering: the creator's and schedules' columns are prefixed
    `created_by__` and `schedule__`; JSON columns are text. Reads outside a transaction (`engine` is the API's
    read engine); the two hot statements run on the driver (app/db/asyncpg_direct.py)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def detail(self, team_id: int, flow_id: UUID) -> list[Mapping[str, Any]]:
        """The flow's rows, one per schedule; none when the team has no such flow."""
        return await _DETAIL.rows(self.engine, {"team_id": team_id, "flow_id": flow_id})

    async def page(
        self, team_id: int, filters: HogFlowListFilters, *, limit: int, offset: int
    ) -> tuple[int, list[Mapping[str, Any]]]:
        """The count of matching flows and one page of them, newest update first, in one statement."""
        conditions = filter_conditions(filters, self.engine.dialect.name == "postgresql")
        if conditions:
            statement = _page([_FLOWS.c.team_id == team_id, *conditions]).limit(limit).offset(offset)
            async with self.engine.connect() as connection:
                rows = _dicts(await connection.execute(statement))
        else:  # one statement, compiled once
            rows = await _UNFILTERED_PAGE.rows(self.engine, {"team_id": team_id, "limit": limit, "offset": offset})
        if rows:
            return int(rows[0]["total_count"]), rows
        if not offset:
            return 0, rows
        # A page past the end has no row to carry the count.
        conditions.append(_FLOWS.c.team_id == team_id)
        async with self.engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(_FLOWS).where(*conditions))
        return int(count or 0), rows


class HogFlowRevisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, revision: HogFlowRevision) -> None:
        self.session.add(revision)
        await self.session.flush()

    async def exists(self, flow_id: UUID, version: int) -> bool:
        statement = select(HogFlowRevision.id).where(
            HogFlowRevision.hog_flow_id == flow_id, HogFlowRevision.version == version
        )
        return (await self.session.execute(statement)).first() is not None

    async def get(self, team_id: int, flow_id: UUID, version: int) -> HogFlowRevision | None:
        if not 0 < version <= INTEGER_MAX:  # no stored version lies outside the column's range
            return None
        statement = (
            select(HogFlowRevision)
            .where(
                HogFlowRevision.team_id == team_id,
                HogFlowRevision.hog_flow_id == flow_id,
                HogFlowRevision.version == version,
            )
            .options(joinedload(HogFlowRevision.created_by))
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def count_for_flows(self, team_id: int, flow_ids: Sequence[UUID], status: str) -> int:
        statement = (
            select(func.count())
            .select_from(HogFlowRevision)
            .join(HogFlow, HogFlow.id == HogFlowRevision.hog_flow_id)
            .where(HogFlow.team_id == team_id, HogFlow.id.in_(flow_ids), HogFlow.status == status)
        )
        return int(await self.session.scalar(statement) or 0)

    async def content(self, flow_id: UUID, version: int) -> dict[str, Any] | None:
        """The content of one version, for the worker (no team scoping: the run names its flow)."""
        statement = select(HogFlowRevision.content).where(
            HogFlowRevision.hog_flow_id == flow_id, HogFlowRevision.version == version
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(
        self, team_id: int, flow_id: UUID, *, limit: int, offset: int
    ) -> tuple[int, Sequence[HogFlowRevision]]:
        statement = (
            select(HogFlowRevision)
            .where(HogFlowRevision.team_id == team_id, HogFlowRevision.hog_flow_id == flow_id)
            .options(joinedload(HogFlowRevision.created_by))
        )
        count = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        page = statement.order_by(HogFlowRevision.version.desc()).limit(limit).offset(offset)
        return count or 0, (await self.session.execute(page)).scalars().all()
