"""Retention deletes exactly what is past its setting, in batches, and leaves everything else."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.migrate import upgrade_to_head
from app.db.models import AppMetric, HogFlow, HogFlowRun, HogFlowRunStep, HogFlowSend, LogEntry
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.services.bootstrap import bootstrap_tenant
from app.services.retention import purge_step
from tests.conftest import NO_RETENTION
from tests.serving import base_env, run

NOW = datetime.now(UTC)
DAYS = {
    "HOGFLOWS_LOG_RETENTION_DAYS": "14",
    "HOGFLOWS_METRIC_RETENTION_DAYS": "90",
    "HOGFLOWS_RUN_RETENTION_DAYS": "30",
}


@pytest.fixture
async def fresh(database_url: str) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    """A database of this test's own: the purge must not see other tests' back-dated rows."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    async with scratch_database(database_url, "hogflows_retention") as url:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        try:
            yield url, create_sessionmaker(engine)
        finally:
            await engine.dispose()


async def _seed(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, set[object]]:
    """Rows on both sides of each cutoff; returns the ids that must survive."""
    async with session_scope(sessionmaker) as session:
        tenant = await bootstrap_tenant(session)
        flow = HogFlow(team_id=tenant.team_id, name="kept", status="active")
        session.add(flow)
        await session.flush()

        def log(age: timedelta) -> LogEntry:
            return LogEntry(
                team_id=tenant.team_id, log_source="hog_flow", log_source_id=str(flow.id), instance_id="r",
                timestamp=NOW - age, level="info", message=str(age),
            )  # fmt: skip

        def metric(age: timedelta) -> AppMetric:
            return AppMetric(
                team_id=tenant.team_id, app_source="hog_flow", app_source_id=str(flow.id), metric_kind="success",
                metric_name="succeeded", count=1, timestamp=NOW - age,
            )  # fmt: skip

        def a_run(status: str, finished_age: timedelta | None) -> HogFlowRun:
            finished = NOW - finished_age if finished_age is not None else None
            return HogFlowRun(
                team_id=tenant.team_id, hog_flow_id=flow.id, status=status, state={},
                created_at=NOW - timedelta(days=60), updated_at=NOW, finished_at=finished,
            )  # fmt: skip

        old_logs = [log(timedelta(days=14, minutes=1)) for _ in range(5)]
        new_logs = [log(timedelta(days=13, hours=23)), log(timedelta(0))]
        old_metrics = [metric(timedelta(days=91)) for _ in range(3)]
        new_metrics = [metric(timedelta(days=89))]
        old_runs = [a_run("completed", timedelta(days=31)), a_run("failed", timedelta(days=45)),
                    a_run("cancelled", timedelta(days=30, minutes=1))]  # fmt: skip
        new_runs = [a_run("completed", timedelta(days=29)), a_run("waiting", None), a_run("queued", None)]
        session.add_all([*old_logs, *new_logs, *old_metrics, *new_metrics, *old_runs, *new_runs])
        await session.flush()
        for index, one in enumerate([*old_runs, *new_runs]):
            session.add(HogFlowRunStep(run_id=one.id, seq=1, pickup=1, action_id="a", action_type="exit",
                                       outcome="finished", started_at=NOW, finished_at=NOW))  # fmt: skip
            session.add(HogFlowSend(run_id=one.id, action_id="a", attempt=1, call_index=index, kind="fetch"))
    return {
        "logs": {row.id for row in new_logs},
        "metrics": {row.id for row in new_metrics},
        "runs": {row.id for row in new_runs},
    }


async def _left(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, set[object]]:
    async with session_scope(sessionmaker) as session:
        runs: set[object] = set((await session.execute(select(HogFlowRun.id))).scalars())
        step_runs = set((await session.execute(select(HogFlowRunStep.run_id))).scalars())
        send_runs = set((await session.execute(select(HogFlowSend.run_id))).scalars())
        assert step_runs == runs and send_runs == runs  # steps and sends went with their runs, and only they
        return {
            "logs": set((await session.execute(select(LogEntry.id))).scalars()),
            "metrics": set((await session.execute(select(AppMetric.id))).scalars()),
            "runs": runs,
        }


async def test_purge_deletes_exactly_what_is_old(fresh: tuple[str, async_sessionmaker[AsyncSession]]) -> None:
    _url, sessionmaker = fresh
    kept = await _seed(sessionmaker)
    settings = Settings(
        HOGFLOWS_LOG_RETENTION_DAYS=14,
        HOGFLOWS_METRIC_RETENTION_DAYS=90,
        HOGFLOWS_RUN_RETENTION_DAYS=30,
        HOGFLOWS_RETENTION_BATCH=2,
    )
    first = await purge_step(sessionmaker, settings, NOW, max_batches=1)  # the sweeper's small steps
    assert first == {"log_entries": 2, "app_metrics": 2, "hog_flow_runs": 2}
    rest = await purge_step(sessionmaker, settings, NOW, max_batches=None)
    assert rest == {"log_entries": 3, "app_metrics": 1, "hog_flow_runs": 1}
    assert await _left(sessionmaker) == kept
    assert await purge_step(sessionmaker, settings, NOW, max_batches=None) == {
        "log_entries": 0, "app_metrics": 0, "hog_flow_runs": 0,
    }  # fmt: skip


async def test_zero_days_keeps_everything(fresh: tuple[str, async_sessionmaker[AsyncSession]]) -> None:
    _url, sessionmaker = fresh
    await _seed(sessionmaker)
    before = await _left(sessionmaker)
    settings = Settings(**NO_RETENTION)
    assert set((await purge_step(sessionmaker, settings, NOW, max_batches=None)).values()) == {0}
    assert await _left(sessionmaker) == before


async def test_purge_command(fresh: tuple[str, async_sessionmaker[AsyncSession]]) -> None:
    url, sessionmaker = fresh
    kept = await _seed(sessionmaker)
    result = run(base_env(DATABASE_URL=url, **DAYS), "purge")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"log_entries": 5, "app_metrics": 3, "hog_flow_runs": 3}
    assert await _left(sessionmaker) == kept
    async with session_scope(sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(HogFlowRun)) == 3
