"""Runs of flows: creation, leased pickups, persisting what a pickup produced, and reads."""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import json_codec
from app.db.models import (
    HogFlow,
    HogFlowRun,
    HogFlowRunStep,
    HogFlowRunWait,
    Person,
    PersonDistinctId,
    RunStatus,
    Team,
)
from app.db.repositories.observability import log_row, metric_row
from app.db.repositories.sends import send_rows_sql
from app.engine.records import LOG_SOURCE, LogRecord, MetricRecord, StepRecord
from app.storable import storable_text


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending and due, or running under a lease that expired (its worker died or gave it back)."""
    return or_(
        and_(HogFlowRun.status.in_(RunStatus.PENDING), HogFlowRun.next_run_at <= now),
        and_(HogFlowRun.status == RunStatus.RUNNING, HogFlowRun.lease_expires_at < now),
    )


def _claimed(owner: str, now: datetime, lease: timedelta) -> dict[str, Any]:
    """The columns of a run taken for one pickup."""
    return {
        "status": RunStatus.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": now + lease,
        "pickups": HogFlowRun.pickups + 1,
        "updated_at": now,
    }


@dataclass
class ClaimedPickup:
    """Everything one pickup needs, read in the claim's transaction."""

    run: HogFlowRun
    flow: HogFlow | None
    person: Person | None
    last_seq: int


def _assemble(
    runs: Sequence[HogFlowRun],
    flows: Mapping[UUID, HogFlow],
    by_distinct: Mapping[tuple[int, str], Person],
    by_id: Mapping[UUID, Person],
    last_seqs: Mapping[UUID, int],
) -> list[ClaimedPickup]:
    pickups = []
    for run in runs:
        flow = flows.get(run.hog_flow_id)
        if flow is not None and flow.team_id != run.team_id:
            flow = None
        person: Person | None = by_distinct.get((run.team_id, run.distinct_id)) if run.distinct_id else None
        if person is None and run.person_id is not None:
            candidate = by_id.get(run.person_id)
            person = candidate if candidate is not None and candidate.team_id == run.team_id else None
        pickups.append(ClaimedPickup(run, flow, person, last_seqs.get(run.id) or 0))
    return pickups


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        team_id: int,
        hog_flow_id: UUID,
        state: dict[str, Any],
        now: datetime,
        distinct_id: str | None = None,
        person_id: UUID | None = None,
        parent_run_id: str | None = None,
        is_manual: bool = False,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> HogFlowRun:
        run = HogFlowRun(
            team_id=team_id,
            hog_flow_id=hog_flow_id,
            version=version,
            state=state,
            status=RunStatus.QUEUED,
            next_run_at=now,
            distinct_id=distinct_id,
            person_id=person_id,
            parent_run_id=parent_run_id,
            is_manual=is_manual,
            idempotency_key=idempotency_key,
            created_at=now,
            updated_at=now,
        )
        self.session.add(run)
        await self.session.flush()
        return run

    async def cancel_children(self, team_id: int, parent_run_id: str, now: datetime) -> int:
        """Cancel every unfinished run of a batch job. A worker holding one loses its lease, so the
        result of its pickup is discarded by `finish_pickup`'s fence."""
        statement = (
            update(HogFlowRun)
            .where(
                HogFlowRun.team_id == team_id,
                HogFlowRun.parent_run_id == parent_run_id,
                HogFlowRun.status.not_in(RunStatus.FINISHED),
            )
            .values(
                status=RunStatus.CANCELLED,
                cancel_requested=True,
                next_run_at=None,
                lease_owner=None,
                lease_expires_at=None,
                error="Cancelled with its batch job",
                finished_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def claim(self, run_id: UUID, owner: str, now: datetime, lease: timedelta) -> HogFlowRun | None:
        """Take the run for one pickup if it is due and nobody holds a live lease on it."""
        statement = (
            update(HogFlowRun)
            .where(HogFlowRun.id == run_id, _due(now))
            .values(_claimed(owner, now, lease))
            .returning(HogFlowRun)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def finish_pickup(
        self,
        run: HogFlowRun,
        owner: str,
        *,
        status: str,
        state: dict[str, Any],
        next_run_at: datetime | None,
        error: str | None,
        now: datetime,
    ) -> str | None:
        """Store the pickup's result, only if this worker still holds the lease (fencing).

        Returns the status stored (None when the lease was lost): `cancelled` instead of a non-final
        status when a cancel was requested while the pickup ran.
        """
        current_action = (state.get("currentAction") or {}).get("id")
        values: dict[str, Any] = {
            "status": status,
            "next_run_at": next_run_at,
            "finished_at": now if status in RunStatus.FINISHED else None,
        }
        if status not in RunStatus.FINISHED:
            cancelled = HogFlowRun.cancel_requested.is_(True)
            values = {
                "status": case((cancelled, RunStatus.CANCELLED), else_=status),
                "next_run_at": case((cancelled, None), else_=next_run_at),
                "finished_at": case((cancelled, now), else_=None),
            }
        statement = (
            update(HogFlowRun)
            .where(HogFlowRun.id == run.id, HogFlowRun.lease_owner == owner, HogFlowRun.pickups == run.pickups)
            .values(
                **values,
                state=state,
                error=storable_text(error) if error is not None else None,
                current_action_id=current_action,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(HogFlowRun.status)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def cancel_requested(self, run_id: UUID) -> bool:
        return bool(await self.session.scalar(select(HogFlowRun.cancel_requested).where(HogFlowRun.id == run_id)))

    async def cancels_requested(self, run_ids: Sequence[UUID]) -> dict[UUID, bool]:
        """`cancel_requested` of several runs in one query (False for a run that no longer exists, as above)."""
        statement = select(HogFlowRun.id, HogFlowRun.cancel_requested).where(HogFlowRun.id.in_(list(run_ids)))
        found = {row[0]: bool(row[1]) for row in (await self.session.execute(statement)).all()}
        return {run_id: found.get(run_id, False) for run_id in run_ids}

    async def cancel(
        self, team_id: int, hog_flow_id: UUID, run_ids: Sequence[UUID] | None, now: datetime, limit: int
    ) -> tuple[list[HogFlowRun], list[UUID]]:
        """End parked runs now and flag running ones; at most `limit` runs in all.

        Returns (runs ended now, ids of running runs newly flagged). A parked run has no live lease,
        so ending it cannot race a pickup: a claim that wins first makes it running, and it is flagged.
        """
        scope = [HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id]
        if run_ids is not None:
            scope.append(HogFlowRun.id.in_(list(run_ids)))
        parked = select(HogFlowRun.id).where(*scope, HogFlowRun.status.in_(RunStatus.PENDING)).limit(limit)
        ended = (
            (
                await self.session.execute(
                    update(HogFlowRun)
                    .where(HogFlowRun.id.in_(parked), HogFlowRun.status.in_(RunStatus.PENDING))
                    .values(
                        status=RunStatus.CANCELLED,
                        cancel_requested=True,
                        next_run_at=None,
                        finished_at=now,
                        updated_at=now,
                    )
                    .returning(HogFlowRun)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        if ended:
            # A run that has ended waits for nothing: no event may wake it again.
            await self.session.execute(
                delete(HogFlowRunWait).where(HogFlowRunWait.run_id.in_([run.id for run in ended]))
            )
        running = (
            select(HogFlowRun.id)
            .where(*scope, HogFlowRun.status == RunStatus.RUNNING, HogFlowRun.cancel_requested.is_(False))
            .limit(max(limit - len(ended), 0))
        )
        flagged = (
            await self.session.execute(
                update(HogFlowRun)
                .where(HogFlowRun.id.in_(running), HogFlowRun.status == RunStatus.RUNNING)
                .values(cancel_requested=True, updated_at=now)
                .returning(HogFlowRun.id)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
        return list(ended), list(flagged)

    async def in_flight_unflagged(self, team_id: int, hog_flow_id: UUID) -> int:
        statement = select(func.count()).where(
            HogFlowRun.team_id == team_id,
            HogFlowRun.hog_flow_id == hog_flow_id,
            HogFlowRun.status.in_((*RunStatus.PENDING, RunStatus.RUNNING)),
            HogFlowRun.cancel_requested.is_(False),
        )
        return int(await self.session.scalar(statement) or 0)

    async def statuses(self, team_id: int, hog_flow_id: UUID, run_ids: Sequence[UUID]) -> dict[UUID, str]:
        statement = select(HogFlowRun.id, HogFlowRun.status).where(
            HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id, HogFlowRun.id.in_(list(run_ids))
        )
        return {row[0]: str(row[1]) for row in (await self.session.execute(statement)).all()}

    async def by_idempotency_key(self, hog_flow_id: UUID, key: str) -> HogFlowRun | None:
        statement = select(HogFlowRun).where(HogFlowRun.hog_flow_id == hog_flow_id, HogFlowRun.idempotency_key == key)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def claim_due(
        self, owner: str, now: datetime, lease: timedelta, *, limit: int, per_team: int, allowances: dict[int, int]
    ) -> list[HogFlowRun]:
        """Take up to `limit` due runs, round-robin over teams: every team's oldest due run comes before any
        team's second, and no team gets more than `per_team` (or its entry in `allowances`, the slots it
        has left in this worker). Safe on many workers at once.

        PostgreSQL picks each team's oldest runs through its index (a lateral join over teams) and locks
        them with `SKIP LOCKED`, so concurrent claimers take disjoint runs without waiting. SQLite (the
        embedded mode, one process) ranks with a window function and relies on its single writer.
        """
        if limit <= 0 or per_team <= 0:
            return []
        skip = [team for team, allowance in allowances.items() if allowance <= 0]
        postgres = self.session.get_bind().dialect.name == "postgresql"
        if postgres:
            teams_query = select(Team.id)
            if skip:
                teams_query = teams_query.where(Team.id.not_in(skip))
            teams = teams_query.subquery()
            oldest = (
                select(HogFlowRun.id, HogFlowRun.team_id, HogFlowRun.next_run_at)
                .where(HogFlowRun.team_id == teams.c.id, _due(now))
                .order_by(HogFlowRun.next_run_at)
                .limit(per_team)
                .lateral()
            )
            ranked = select(
                oldest.c.id,
                oldest.c.team_id,
                oldest.c.next_run_at,
                func.row_number().over(partition_by=oldest.c.team_id, order_by=oldest.c.next_run_at).label("rank"),
            ).select_from(teams.join(oldest, literal_column("true")))
        else:
            ranked = select(
                HogFlowRun.id,
                HogFlowRun.team_id,
                HogFlowRun.next_run_at,
                func.row_number().over(partition_by=HogFlowRun.team_id, order_by=HogFlowRun.next_run_at).label("rank"),
            ).where(_due(now))
            if skip:
                ranked = ranked.where(HogFlowRun.team_id.not_in(skip))
        ranked_rows = ranked.subquery()
        partial = {team: allowance for team, allowance in allowances.items() if 0 < allowance < per_team}
        cap: ColumnElement[int] = (
            case(partial, value=ranked_rows.c.team_id, else_=per_team) if partial else literal(per_team)
        )
        picked = (
            select(ranked_rows.c.id)
            .where(ranked_rows.c.rank <= cap)
            .order_by(ranked_rows.c.rank, ranked_rows.c.next_run_at)
            .limit(limit)
        )
        ids = list((await self.session.execute(picked)).scalars())
        if not ids:
            return []
        lockable = select(HogFlowRun.id).where(HogFlowRun.id.in_(ids), _due(now))
        if postgres:
            lockable = lockable.with_for_update(skip_locked=True)
        statement = (
            update(HogFlowRun)
            .where(HogFlowRun.id.in_(lockable.scalar_subquery()))
            .values(_claimed(owner, now, lease))
            .returning(HogFlowRun)
            .execution_options(synchronize_session=False)
        )
        return list((await self.session.execute(statement)).scalars())

    async def flows(self, flow_ids: Sequence[UUID]) -> list[HogFlow]:
        return list((await self.session.execute(select(HogFlow).where(HogFlow.id.in_(list(flow_ids))))).scalars())

    async def load_pickups(self, runs: Sequence[HogFlowRun]) -> list[ClaimedPickup]:
        """Flows, persons and last step numbers of claimed runs: three multi-row reads, whatever the count."""
        if not runs:
            return []
        flow_ids = {run.hog_flow_id for run in runs}
        flow_rows = await self.session.execute(select(HogFlow).where(HogFlow.id.in_(flow_ids)))
        flows = {flow.id: flow for flow in flow_rows.scalars()}
        by_distinct: dict[tuple[int, str], Person] = {}
        by_id: dict[UUID, Person] = {}
        keys = {(run.team_id, run.distinct_id) for run in runs if run.distinct_id}
        person_ids = {run.person_id for run in runs if run.person_id is not None}
        if keys or person_ids:
            conditions: list[ColumnElement[bool]] = []
            if keys:
                conditions.append(tuple_(PersonDistinctId.team_id, PersonDistinctId.distinct_id).in_(list(keys)))
            if person_ids:
                conditions.append(Person.id.in_(person_ids))
            statement = (
                select(Person, PersonDistinctId.distinct_id)
                .outerjoin(PersonDistinctId, PersonDistinctId.person_id == Person.id)
                .where(or_(*conditions))
            )
            for found, distinct_id in (await self.session.execute(statement)).all():
                by_id[found.id] = found
                if distinct_id is not None:
                    by_distinct[(found.team_id, distinct_id)] = found
        # Steps are stored with a pickup's result, so a run on its first pickup (counted by the claim) has none.
        run_ids = [run.id for run in runs if run.pickups > 1]
        last_seqs = (
            dict(
                (
                    await self.session.execute(
                        select(HogFlowRunStep.run_id, func.max(HogFlowRunStep.seq))
                        .where(HogFlowRunStep.run_id.in_(run_ids))
                        .group_by(HogFlowRunStep.run_id)
                    )
                ).all()
            )
            if run_ids
            else {}
        )
        return _assemble(runs, flows, by_distinct, by_id, last_seqs)

    async def renew_leases(self, run_ids: Sequence[UUID], owner: str, until: datetime) -> None:
        """The heartbeat: push the lease of every run this worker is still working on."""
        if run_ids:
            await self.session.execute(
                update(HogFlowRun)
                .where(HogFlowRun.id.in_(run_ids), HogFlowRun.lease_owner == owner)
                .values(lease_expires_at=until)
                .execution_options(synchronize_session=False)
            )

    async def release_leases(self, run_ids: Sequence[UUID], owner: str, now: datetime) -> list[tuple[UUID, int]]:
        """Give back runs this worker will not finish: their lease ends now, so any worker takes them at once."""
        if not run_ids:
            return []
        statement = (
            update(HogFlowRun)
            .where(HogFlowRun.id.in_(run_ids), HogFlowRun.lease_owner == owner, HogFlowRun.status == RunStatus.RUNNING)
            .values(lease_expires_at=now - timedelta(microseconds=1))
            .returning(HogFlowRun.id, HogFlowRun.pickups)
            .execution_options(synchronize_session=False)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def fence(self, owned: Sequence[tuple[UUID, int]], owner: str) -> dict[UUID, bool]:
        """Lock the runs whose pickup (id, pickups) this worker still holds, for storing their results.

        Maps each run still held to whether a cancel was requested while its pickup ran."""
        if not owned:
            return {}
        wanted = dict(owned)
        statement = (
            select(HogFlowRun.id, HogFlowRun.pickups, HogFlowRun.cancel_requested)
            .where(HogFlowRun.id.in_(list(wanted)), HogFlowRun.lease_owner == owner)
            .with_for_update()
        )
        rows = (await self.session.execute(statement)).all()
        return {row[0]: bool(row[2]) for row in rows if wanted.get(row[0]) == row[1]}

    async def finish_pickups(self, results: Sequence[dict[str, Any]], now: datetime) -> None:
        """Store the results of fenced pickups (see `fence`) in one executemany.

        Each result: `id`, `status`, `state`, `next_run_at`, `error`.
        """
        if not results:
            return
        table = cast(Table, HogFlowRun.__table__)
        statement = (
            update(table)
            .where(table.c.id == bindparam("run_id"))
            .values(
                status=bindparam("new_status"),
                state=bindparam("new_state"),
                next_run_at=bindparam("new_next_run_at"),
                error=bindparam("new_error"),
                current_action_id=bindparam("new_current_action_id"),
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                finished_at=bindparam("new_finished_at"),
            )
        )
        rows = [
            {
                "run_id": result["id"],
                "new_status": result["status"],
                "new_state": result["state"],
                "new_next_run_at": result["next_run_at"],
                "new_error": result["error"],
                "new_current_action_id": (result["state"].get("currentAction") or {}).get("id"),
                "new_finished_at": now if result["status"] in RunStatus.FINISHED else None,
            }
            for result in results
        ]
        connection = await self.session.connection()
        await connection.execute(statement, rows)

    async def insert_steps(self, rows: Sequence[dict[str, Any]]) -> None:
        """Steps of several runs in one multi-row insert; each row names its run, seq and pickup."""
        if rows:
            connection = await self.session.connection()
            await connection.execute(insert(cast(Table, HogFlowRunStep.__table__)), list(rows))

    async def add_steps(
        self, run_id: UUID, pickup: int, steps: Sequence[StepRecord], after_seq: int | None = None
    ) -> None:
        """One multi-row insert; `after_seq` is the run's last step number when the caller read it at claim time."""
        if not steps:
            return
        if after_seq is None:
            after_seq = (
                await self.session.scalar(select(func.max(HogFlowRunStep.seq)).where(HogFlowRunStep.run_id == run_id))
            ) or 0
        rows = [
            {"run_id": run_id, "seq": after_seq + 1 + offset, "pickup": pickup, **step.__dict__}
            for offset, step in enumerate(steps)
        ]
        await self.session.execute(insert(HogFlowRunStep), rows)

    async def due(
        self, now: datetime, limit: int = 500, overdue_by: timedelta = timedelta(0)
    ) -> Sequence[tuple[UUID, int]]:
        """Runs to hand to a worker: pending and due for `overdue_by`, or running under an expired lease."""
        statement = (
            select(HogFlowRun.id, HogFlowRun.pickups)
            .where(
                or_(
                    and_(HogFlowRun.status.in_(RunStatus.PENDING), HogFlowRun.next_run_at <= now - overdue_by),
                    and_(HogFlowRun.status == RunStatus.RUNNING, HogFlowRun.lease_expires_at < now),
                )
            )
            .order_by(HogFlowRun.next_run_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def get(self, team_id: int, hog_flow_id: UUID, run_id: UUID) -> HogFlowRun | None:
        statement = select(HogFlowRun).where(
            HogFlowRun.id == run_id, HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_for_flow(
        self,
        team_id: int,
        hog_flow_id: UUID,
        *,
        status: str | None,
        limit: int,
        offset: int,
        distinct_id: str | None = None,
    ) -> tuple[int, Sequence[HogFlowRun]]:
        statement = select(HogFlowRun).where(HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id)
        if status:
            statement = statement.where(HogFlowRun.status == status)
        if distinct_id:
            statement = statement.where(HogFlowRun.distinct_id == distinct_id)
        count = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        page = statement.order_by(HogFlowRun.created_at.desc(), HogFlowRun.id.desc()).limit(limit).offset(offset)
        return count or 0, (await self.session.execute(page)).scalars().all()

    async def counts_since(
        self, team_id: int, hog_flow_ids: Sequence[UUID], since: datetime
    ) -> dict[UUID, tuple[int, int]]:
        """Runs created since `since` per flow, and how many of them failed."""
        if not hog_flow_ids:
            return {}
        failed = func.count().filter(HogFlowRun.status == RunStatus.FAILED)
        statement = (
            select(HogFlowRun.hog_flow_id, func.count(), failed)
            .where(
                HogFlowRun.team_id == team_id,
                HogFlowRun.hog_flow_id.in_(list(hog_flow_ids)),
                HogFlowRun.created_at >= since,
            )
            .group_by(HogFlowRun.hog_flow_id)
        )
        return {row[0]: (int(row[1]), int(row[2])) for row in (await self.session.execute(statement)).all()}

    async def entered_by_action(self, team_id: int, hog_flow_id: UUID, since: datetime) -> dict[str, int]:
        """Per action: how many runs reached it (a step recorded there) since `since`, waiting ones included."""
        statement = (
            select(HogFlowRunStep.action_id, func.count(func.distinct(HogFlowRunStep.run_id)))
            .join(HogFlowRun, HogFlowRun.id == HogFlowRunStep.run_id)
            .where(
                HogFlowRun.team_id == team_id,
                HogFlowRun.hog_flow_id == hog_flow_id,
                HogFlowRunStep.started_at >= since,
            )
            .group_by(HogFlowRunStep.action_id)
        )
        return {str(row[0]): int(row[1]) for row in (await self.session.execute(statement)).all()}

    async def progress_of_parents(self, team_id: int, parent_run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per batch job id: runs it created, and how many of them have finished."""
        if not parent_run_ids:
            return {}
        finished = func.count().filter(HogFlowRun.status.in_(RunStatus.FINISHED))
        statement = (
            select(HogFlowRun.parent_run_id, func.count(), finished)
            .where(HogFlowRun.team_id == team_id, HogFlowRun.parent_run_id.in_(list(parent_run_ids)))
            .group_by(HogFlowRun.parent_run_id)
        )
        return {str(row[0]): (int(row[1]), int(row[2])) for row in (await self.session.execute(statement)).all()}

    async def steps(self, run_id: UUID) -> Sequence[HogFlowRunStep]:
        statement = select(HogFlowRunStep).where(HogFlowRunStep.run_id == run_id).order_by(HogFlowRunStep.seq)
        return (await self.session.execute(statement)).scalars().all()


# --- The worker's hot statements on PostgreSQL, on the asyncpg connection (`app.db.session.driver_connection`
# or `session_driver_connection`): arrays in, so each is one prepared statement whatever the batch size, and
# none goes through SQLAlchemy's compile and ORM layers (most of a pickup's database CPU otherwise).

# The lookups by key below probe the key's index once per key (`LATERAL … LIMIT 1`) rather than `= ANY` or a join:
# a prepared statement keeps the generic plan made when the tables were small, and for a small table that plan
# scans the whole table, which it then does on every call as the table grows.
_CANCELS_PG = """
SELECT k.id, r.cancel_requested FROM unnest($1::uuid[]) AS k(id)
CROSS JOIN LATERAL (SELECT cancel_requested FROM hog_flow_runs WHERE id = k.id LIMIT 1) r
"""
_FENCE_PG = """
SELECT r.id, r.pickups, r.cancel_requested FROM unnest($1::uuid[]) AS k(id)
CROSS JOIN LATERAL (
  SELECT id, pickups, cancel_requested FROM hog_flow_runs WHERE id = k.id AND lease_owner = $2 LIMIT 1 FOR UPDATE
) r
"""
_FINISH_PG = """
UPDATE hog_flow_runs r SET status = c.status, state = c.state::jsonb, next_run_at = c.next_run_at, error = c.error,
  current_action_id = c.current_action_id, lease_owner = NULL, lease_expires_at = NULL, updated_at = $8,
  finished_at = c.finished_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::timestamptz[])
  AS c(id, status, state, next_run_at, error, current_action_id, finished_at)
WHERE r.id = c.id
"""
_STEPS_PG = """
INSERT INTO hog_flow_run_steps
  (run_id, seq, pickup, action_id, action_type, outcome, next_action_id, error, started_at, finished_at)
SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::timestamptz[], $10::timestamptz[])
"""
_STEP_COLUMNS = (
    "run_id",
    "seq",
    "pickup",
    "action_id",
    "action_type",
    "outcome",
    "next_action_id",
    "error",
    "started_at",
    "finished_at",
)


async def cancels_requested_pg(connection: Any, run_ids: Sequence[UUID]) -> dict[UUID, bool]:
    """`RunRepository.cancels_requested` on an asyncpg connection."""
    found = {row[0]: bool(row[1]) for row in await connection.fetch(_CANCELS_PG, list(run_ids))}
    return {run_id: found.get(run_id, False) for run_id in run_ids}


async def fence_pg(connection: Any, owned: Sequence[tuple[UUID, int]], owner: str) -> dict[UUID, bool]:
    """`RunRepository.fence` on an asyncpg connection, in the caller's transaction."""
    if not owned:
        return {}
    wanted = dict(owned)
    rows = await connection.fetch(_FENCE_PG, list(wanted), owner)
    return {row[0]: bool(row[2]) for row in rows if wanted.get(row[0]) == row[1]}


async def finish_pickups_pg(connection: Any, results: Sequence[dict[str, Any]], now: datetime) -> None:
    """`RunRepository.finish_pickups` on an asyncpg connection, in the caller's transaction."""
    if not results:
        return
    await connection.execute(
        _FINISH_PG,
        [result["id"] for result in results],
        [result["status"] for result in results],
        [json_codec.dumps(result["state"]).decode() for result in results],
        [result["next_run_at"] for result in results],
        [result["error"] for result in results],
        [(result["state"].get("currentAction") or {}).get("id") for result in results],
        [now if result["status"] in RunStatus.FINISHED else None for result in results],
        now,
    )


async def insert_steps_pg(connection: Any, rows: Sequence[dict[str, Any]]) -> None:
    """`RunRepository.insert_steps` on an asyncpg connection, in the caller's transaction."""
    if rows:
        await connection.execute(_STEPS_PG, *([row[column] for row in rows] for column in _STEP_COLUMNS))


_RUN_COLUMNS = (
    "id",
    "team_id",
    "hog_flow_id",
    "parent_run_id",
    "status",
    "version",
    "state",
    "current_action_id",
    "distinct_id",
    "person_id",
    "next_run_at",
    "lease_owner",
    "lease_expires_at",
    "pickups",
    "is_manual",
    "error",
    "cancel_requested",
    "idempotency_key",
    "attempts",
    "rerun_job_id",
    "created_at",
    "updated_at",
    "finished_at",
)
_DUE_PG = "((r.status = ANY($1::text[]) AND r.next_run_at <= $2) OR (r.status = $9 AND r.lease_expires_at < $2))"
# `RunRepository.claim_due` (PostgreSQL) in one statement: each team's oldest due runs through its index, ranked
# across teams, capped per team, locked with SKIP LOCKED and leased; with each run's flow's `updated_at`, which
# keys the worker's cache of flows, its person (by distinct id, else by person id) and, past its first pickup, its
# last step number. Autocommit: the lease is taken when it returns.
_CLAIM_DUE_PG = f"""
WITH ranked AS (
  SELECT o.id, o.team_id, o.next_run_at,
         row_number() OVER (PARTITION BY o.team_id ORDER BY o.next_run_at) AS rank
  FROM teams t
  CROSS JOIN LATERAL (
    SELECT r.id, r.team_id, r.next_run_at FROM hog_flow_runs r
    WHERE r.team_id = t.id AND {_DUE_PG}
    ORDER BY r.next_run_at LIMIT $3
  ) o
  WHERE t.id <> ALL($4::int[])
), picked AS (
  SELECT ranked.id FROM ranked
  LEFT JOIN unnest($5::int[], $6::int[]) AS a(team_id, cap) ON a.team_id = ranked.team_id
  WHERE ranked.rank <= COALESCE(a.cap, $3)
  ORDER BY ranked.rank, ranked.next_run_at
  LIMIT $7
), locked AS (
  SELECT r.id FROM hog_flow_runs r WHERE r.id IN (SELECT id FROM picked) AND {_DUE_PG}
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE hog_flow_runs r
  SET status = $9, lease_owner = $8, lease_expires_at = $10, pickups = r.pickups + 1, updated_at = $2
  FROM locked WHERE r.id = locked.id
  RETURNING {", ".join(f"r.{column}" for column in _RUN_COLUMNS)},
    (SELECT f.updated_at FROM hog_flows f WHERE f.id = r.hog_flow_id) AS flow_updated_at
)
SELECT c.*, p.id, p.team_id, p.properties, p.created_at, p.updated_at,
  CASE WHEN c.pickups > 1 THEN (SELECT max(s.seq) FROM hog_flow_run_steps s WHERE s.run_id = c.id) END
FROM claimed c
LEFT JOIN LATERAL (
  SELECT person_id FROM person_distinct_ids WHERE team_id = c.team_id AND distinct_id = c.distinct_id LIMIT 1
) d ON true
LEFT JOIN LATERAL (
  SELECT * FROM persons WHERE id = COALESCE(d.person_id, c.person_id) AND team_id = c.team_id LIMIT 1
) p ON true
"""


FlowKey = tuple[UUID, datetime | None]


async def claim_pickups_pg(
    connection: Any,
    owner: str,
    now: datetime,
    lease: timedelta,
    *,
    limit: int,
    per_team: int,
    allowances: dict[int, int],
    flows: Callable[[Sequence[FlowKey]], Awaitable[Mapping[UUID, HogFlow]]],
) -> list[ClaimedPickup]:
    """`RunRepository.claim_due` then `load_pickups`, on an asyncpg connection in autocommit, in one statement
    (the runs' persons and last step numbers with them). `flows` answers the claimed runs' (flow id,
    updated_at) pairs, from the caller's cache or the database."""
    if limit <= 0 or per_team <= 0:
        return []
    skip = [team for team, allowance in allowances.items() if allowance <= 0]
    partial = {team: allowance for team, allowance in allowances.items() if 0 < allowance < per_team}
    rows = await connection.fetch(
        _CLAIM_DUE_PG,
        list(RunStatus.PENDING),
        now,
        per_team,
        skip,
        list(partial),
        list(partial.values()),
        limit,
        owner,
        RunStatus.RUNNING,
        now + lease,
    )
    if not rows:
        return []
    width = len(_RUN_COLUMNS)
    runs = [HogFlowRun(**{column: row[index] for index, column in enumerate(_RUN_COLUMNS)}) for row in rows]
    found = await flows(list({(row[2], row[width]) for row in rows}))
    persons: dict[UUID, Person] = {}
    pickups = []
    for run, row in zip(runs, rows, strict=True):
        flow = found.get(run.hog_flow_id)
        if flow is not None and flow.team_id != run.team_id:
            flow = None
        person = persons.get(row[width + 1]) if row[width + 1] is not None else None
        if person is None and row[width + 1] is not None:
            properties = row[width + 3] if row[width + 3] is not None else {}
            person = Person(
                id=row[width + 1],
                team_id=row[width + 2],
                properties=properties,
                created_at=row[width + 4],
                updated_at=row[width + 5],
            )
            persons[person.id] = person
        pickups.append(ClaimedPickup(run, flow, person, row[width + 6] or 0))
    return pickups


# A pickup's result in one statement, in autocommit (no BEGIN/COMMIT): the fence (`FOR UPDATE` on the runs still
# leased to us at the pickup's number), the runs' new state, their steps, logs and metrics, and the completion of
# the pickups' send records (those whatever the fence says: a send that went out is done). A run whose cancel
# arrived after its last step boundary and that did not finish is fenced but not written: the caller ends it in a
# transaction of its own (`cancelled_late`). Its data-modifying parts run on one snapshot, all or nothing.
_PERSIST_PG = """
WITH c AS (
  SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
    AS c(id, pickups, status, state, next_run_at, error, current_action_id)
), fenced AS (
  SELECT r.id, r.cancel_requested FROM c CROSS JOIN LATERAL (
    SELECT id, cancel_requested FROM hog_flow_runs WHERE id = c.id AND lease_owner = $8 AND pickups = c.pickups
    LIMIT 1 FOR UPDATE
  ) r
), kept AS (
  SELECT c.* FROM c JOIN fenced f ON f.id = c.id WHERE NOT f.cancel_requested OR c.status = ANY($10::text[])
), finished AS (
  UPDATE hog_flow_runs r SET status = k.status, state = k.state::jsonb, next_run_at = k.next_run_at, error = k.error,
    current_action_id = k.current_action_id, lease_owner = NULL, lease_expires_at = NULL, updated_at = $9,
    finished_at = CASE WHEN k.status = ANY($10::text[]) THEN $9::timestamptz END
  FROM kept k WHERE r.id = k.id
), sends AS (
  UPDATE hog_flow_sends s SET status = 'done', response = d.response::jsonb, completed_at = $9
  FROM ({SENDS}) AS d
  WHERE s.ctid = d.tid
), steps AS (
  INSERT INTO hog_flow_run_steps
    (run_id, seq, pickup, action_id, action_type, outcome, next_action_id, error, started_at, finished_at)
  SELECT * FROM unnest($16::uuid[], $17::int[], $18::int[], $19::text[], $20::text[], $21::text[], $22::text[],
    $23::text[], $24::timestamptz[], $25::timestamptz[])
    AS s(run_id, seq, pickup, action_id, action_type, outcome, next_action_id, error, started_at, finished_at)
  WHERE s.run_id IN (SELECT id FROM kept)
), logs AS (
  INSERT INTO log_entries (team_id, log_source, log_source_id, instance_id, timestamp, level, message)
  SELECT l.team_id, $26, l.log_source_id, l.instance_id, l.timestamp, l.level, l.message
  FROM json_to_recordset($27::json) AS l (run uuid, team_id integer, log_source_id varchar, instance_id varchar,
    timestamp timestamptz, level varchar, message text)
  WHERE l.run IN (SELECT id FROM kept)
), metrics AS (
  INSERT INTO app_metrics (team_id, app_source, app_source_id, instance_id, metric_kind, metric_name, count, timestamp)
  SELECT m.team_id, $26, m.app_source_id, m.instance_id, m.metric_kind, m.metric_name, m.count, m.timestamp
  FROM json_to_recordset($28::json) AS m (run uuid, team_id integer, app_source_id varchar, instance_id varchar,
    metric_kind varchar, metric_name varchar, count integer, timestamp timestamptz)
  WHERE m.run IN (SELECT id FROM kept)
)
SELECT id, cancel_requested FROM fenced
""".replace("{SENDS}", send_rows_sql(11))


@dataclass
class PickupResult:
    """What `persist_pickups_pg` stores of one pickup (`finish_pickups`' result with its records)."""

    run_id: UUID
    pickups: int
    status: str
    state: dict[str, Any]
    next_run_at: datetime | None
    error: str | None
    steps: Sequence[dict[str, Any]]  # `insert_steps` rows
    logs: Sequence[LogRecord]  # already nudged (`nudge_log_timestamps`)
    metrics: Sequence[MetricRecord]


async def persist_pickups_pg(
    connection: Any,
    owner: str,
    now: datetime,
    results: Sequence[PickupResult],
    completions: Sequence[dict[str, Any]],
) -> dict[UUID, bool]:
    """Store pickups' results in one statement (`_PERSIST_PG`), in autocommit; maps each run still held to
    whether a cancel was requested (held, cancelled and not finished: nothing of it was stored)."""
    steps = [row for result in results for row in result.steps]
    logs = [
        {"run": str(result.run_id), "team_id": log.team_id, **log_row(log)} for result in results for log in result.logs
    ]
    metrics = [
        {"run": str(result.run_id), "team_id": metric.team_id, **metric_row(metric, metric.timestamp.isoformat())}
        for result in results
        for metric in result.metrics
    ]
    rows = await connection.fetch(
        _PERSIST_PG,
        [result.run_id for result in results],
        [result.pickups for result in results],
        [result.status for result in results],
        [json_codec.dumps(result.state).decode() for result in results],
        [result.next_run_at for result in results],
        [result.error for result in results],
        [(result.state.get("currentAction") or {}).get("id") for result in results],
        owner,
        now,
        list(RunStatus.FINISHED),
        *([item[key] for item in completions] for key in ("run_id", "action_id", "attempt", "call_index")),
        [json_codec.dumps(item["response"]).decode() for item in completions],
        *([row[column] for row in steps] for column in _STEP_COLUMNS),
        LOG_SOURCE,
        json_codec.dumps(logs).decode(),
        json_codec.dumps(metrics).decode(),
    )
    return {row[0]: bool(row[1]) for row in rows}
