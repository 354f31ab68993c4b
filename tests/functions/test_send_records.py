"""At most one send per run: a pickup retried after a crash finds the send record instead of sending again."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.models import HogFlow, HogFlowRun
from app.db.repositories.hog_flow import HogFlowRepository
from app.db.repositories.runs import RunRepository
from app.db.repositories.sends import SendRepository
from app.db.session import session_scope
from app.engine.executor import ExecutorOptions, execute_pickup
from app.engine.invocation import Invocation
from app.services.bootstrap import Tenant
from app.worker.processor import RunProcessor, flow_snapshot
from app.worker.scheduling import WakeUpScheduler
from tests.engine.flows import action, chain
from tests.functions.db_helpers import hand_clock, store_flow, store_run
from tests.functions.helpers import function_action
from tests.functions.servers import LocalHttpServer, Reply

Sessionmaker = async_sessionmaker[AsyncSession]


def processor(sessionmaker: Sessionmaker, options: ExecutorOptions | None = None) -> RunProcessor:
    settings = Settings(HOGFLOWS_ALLOW_PRIVATE_FETCH=True, HOGFLOWS_FETCH_RETRY_BASE=0.01)
    return RunProcessor(
        sessionmaker, WakeUpScheduler(), options=options or ExecutorOptions(clock=hand_clock), settings=settings
    )


async def webhook_run(
    sessionmaker: Sessionmaker, tenant: Tenant, server: LocalHttpServer, now: datetime | None = None, **extra: Any
) -> tuple[HogFlow, UUID]:
    hook = function_action("hook", "template-webhook", {"url": server.url("/hook"), "body": {"n": 1}}, **extra)
    flow = await store_flow(
        sessionmaker, tenant.team_id, [hook, action("done", "exit")], chain("trigger", "hook", "done")
    )
    return flow, await store_run(sessionmaker, flow, now=now)


async def stored_run(sessionmaker: Sessionmaker, flow: HogFlow, run_id: UUID) -> HogFlowRun:
    async with session_scope(sessionmaker) as session:
        run = await RunRepository(session).get(flow.team_id, flow.id, run_id)
    assert run is not None
    return run


async def pickup_without_saving(sessionmaker: Sessionmaker, worker: RunProcessor, run_id: UUID) -> str:
    """Run a pickup of the stored state and drop what it produced, like a worker killed before saving."""
    async with session_scope(sessionmaker) as session:
        run = await RunRepository(session).claim(run_id, "doomed-worker", worker.options.clock(), worker.lease)
        assert run is not None
        flow = await HogFlowRepository(session).get(run.team_id, run.hog_flow_id)
        assert flow is not None
        state = dict(run.state)
    outcome = await execute_pickup(Invocation(id=str(run_id), flow=flow_snapshot(flow), state=state), worker.options)
    return outcome.status


async def take_over(sessionmaker: Sessionmaker, worker: RunProcessor, run_id: UUID) -> str | None:
    """The crashed worker's lease runs out and `worker` picks the run up at once (before the session app's
    in-process runner, which also serves this database, could take it)."""
    async with session_scope(sessionmaker) as session:
        await session.execute(
            update(HogFlowRun).where(HogFlowRun.id == run_id).values(lease_expires_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
    return await worker.process(run_id)


async def sends(sessionmaker: Sessionmaker, run_id: UUID) -> list[tuple[str, int, int, str, str]]:
    async with session_scope(sessionmaker) as session:
        rows = await SendRepository(session).list_for_run(run_id)
    return [(row.action_id, row.attempt, row.call_index, row.kind, row.status) for row in rows]


async def test_a_pickup_retried_after_a_crash_reuses_the_recorded_response(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    http_server.script("/hook", Reply(200, {"received": True}))
    flow, run_id = await webhook_run(sessionmaker, tenant, http_server, output_variable={"key": "answer"})
    worker = processor(sessionmaker)

    assert await pickup_without_saving(sessionmaker, worker, run_id) == "completed"
    assert len(http_server.requests) == 1
    assert await sends(sessionmaker, run_id) == [("hook", 0, 0, "fetch", "done")]

    assert await take_over(sessionmaker, worker, run_id) == "completed"
    assert len(http_server.requests) == 1  # the retried pickup did not send again
    run = await stored_run(sessionmaker, flow, run_id)
    # The step still got the response, from the record.
    assert run.state["variables"]["answer"] == {"status": 200, "body": {"received": True}}


async def test_an_interrupted_send_is_not_repeated_and_fails_the_step(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    flow, run_id = await webhook_run(sessionmaker, tenant, http_server)
    # The worker wrote the pending record, then died before the response was recorded.
    async with session_scope(sessionmaker) as session:
        claimed = await SendRepository(session).claim(
            run_id=run_id, action_id="hook", attempt=0, call_index=0, kind="fetch", now=datetime.now(UTC)
        )
    assert claimed is None

    assert await processor(sessionmaker).process(run_id) == "failed"
    assert http_server.requests == []
    assert await sends(sessionmaker, run_id) == [("hook", 0, 0, "fetch", "pending")]
    run = await stored_run(sessionmaker, flow, run_id)
    assert run.error is not None
    assert run.error.startswith("Webhook failed with status 500: InterruptedSendError: An earlier attempt")


async def test_an_interrupted_send_with_on_error_continue_moves_on(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    _, run_id = await webhook_run(sessionmaker, tenant, http_server, on_error="continue")
    async with session_scope(sessionmaker) as session:
        await SendRepository(session).claim(
            run_id=run_id, action_id="hook", attempt=0, call_index=0, kind="fetch", now=datetime.now(UTC)
        )
    assert await processor(sessionmaker).process(run_id) == "completed"
    assert http_server.requests == []


async def test_each_retry_of_a_request_gets_its_own_record(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    http_server.script("/hook", Reply(503, "busy"), Reply(200, {"ok": True}))
    # The run lives a day ahead of the wall clock, so no other runner on the session's database (the app's
    # in-process one) finds it due: each pickup is this worker's, at the instant the test sets.
    now = datetime.now(UTC) + timedelta(days=1)
    _, run_id = await webhook_run(sessionmaker, tenant, http_server, now=now)
    worker = processor(sessionmaker, ExecutorOptions(clock=lambda: now))
    assert await worker.process(run_id) == "waiting"
    assert await worker.process(run_id) is None  # the retry is not due yet
    now += timedelta(seconds=0.1)  # the backoff base is 10 ms here
    assert await worker.process(run_id) == "completed"
    assert len(http_server.requests) == 2
    assert await sends(sessionmaker, run_id) == [("hook", 0, 0, "fetch", "done"), ("hook", 0, 1, "fetch", "done")]


async def test_concurrent_claims_of_one_request_let_exactly_one_send(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    _, run_id = await webhook_run(sessionmaker, tenant, http_server)
    now = datetime.now(UTC)
    key: dict[str, Any] = {
        "run_id": run_id,
        "action_id": "hook",
        "attempt": 0,
        "call_index": 0,
        "kind": "fetch",
        "now": now,
    }
    async with session_scope(sessionmaker) as session:
        first = await SendRepository(session).claim(**key)
    async with session_scope(sessionmaker) as session:
        second = await SendRepository(session).claim(**key)
    assert first is None
    assert second is not None and second.status == "pending"
