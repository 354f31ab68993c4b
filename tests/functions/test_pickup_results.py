"""What a pickup stores when its run changed under it: lease fencing and cancels after the last step boundary."""

import asyncio
import threading

from sqlalchemy import func, select, update

from app.db.models import HogFlowRun, LogEntry
from app.db.repositories.runs import RunRepository
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.functions.servers import LocalHttpServer, Reply
from tests.functions.test_send_records import Sessionmaker, processor, sends, stored_run, webhook_run
from tests.polling import wait_for


async def _logs_of(sessionmaker: Sessionmaker, run_id: object) -> int:
    async with session_scope(sessionmaker) as session:
        count = await session.scalar(select(func.count()).where(LogEntry.instance_id == str(run_id)))
    return int(count or 0)


async def test_a_pickup_that_lost_its_lease_stores_only_its_send_completion(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    release = threading.Event()
    http_server.script("/hook", Reply(200, {"ok": True}, hold=release))
    flow, run_id = await webhook_run(sessionmaker, tenant, http_server)
    pickup = asyncio.create_task(processor(sessionmaker).process(run_id))
    try:
        await wait_for(lambda: len(http_server.requests) == 1, within=10, interval=0.02)
        # The lease ran out and another worker took the run (its own pickup) while the request was in flight.
        async with session_scope(sessionmaker) as session:
            await session.execute(
                update(HogFlowRun)
                .where(HogFlowRun.id == run_id)
                .values(lease_owner="another-worker", pickups=HogFlowRun.pickups + 1)
            )
    finally:
        release.set()
    await pickup

    run = await stored_run(sessionmaker, flow, run_id)
    assert (run.status, run.lease_owner, run.finished_at) == ("running", "another-worker", None)
    async with session_scope(sessionmaker) as session:
        assert await RunRepository(session).steps(run_id) == []
    assert await _logs_of(sessionmaker, run_id) == 0
    # The request went out: its record is done, so the new owner never sends it again.
    assert await sends(sessionmaker, run_id) == [("hook", 0, 0, "fetch", "done")]


async def test_a_cancel_after_the_last_step_boundary_ends_a_run_that_would_wait(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    release = threading.Event()
    # A 503 schedules a retry: the pickup ends waiting, with no step boundary after the request.
    http_server.script("/hook", Reply(503, "busy", hold=release))
    flow, run_id = await webhook_run(sessionmaker, tenant, http_server)
    pickup = asyncio.create_task(processor(sessionmaker).process(run_id))
    try:
        await wait_for(lambda: len(http_server.requests) == 1, within=10, interval=0.02)
        async with session_scope(sessionmaker) as session:
            await session.execute(update(HogFlowRun).where(HogFlowRun.id == run_id).values(cancel_requested=True))
    finally:
        release.set()
    await pickup

    run = await stored_run(sessionmaker, flow, run_id)
    assert run.status == "cancelled"
    assert run.finished_at is not None and run.next_run_at is None and run.lease_owner is None
    assert await _logs_of(sessionmaker, run_id) > 0
    assert await sends(sessionmaker, run_id) == [("hook", 0, 0, "fetch", "done")]
    assert len(http_server.requests) == 1


async def test_a_finished_pickup_is_stored_whole(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    http_server.script("/hook", Reply(200, {"ok": True}))
    flow, run_id = await webhook_run(sessionmaker, tenant, http_server)
    assert await processor(sessionmaker).process(run_id) == "completed"

    run = await stored_run(sessionmaker, flow, run_id)
    assert (run.status, run.lease_owner, run.lease_expires_at, run.current_action_id) == (
        "completed",
        None,
        None,
        "done",
    )
    assert run.finished_at is not None
    async with session_scope(sessionmaker) as session:
        steps = await RunRepository(session).steps(run_id)
    assert [(step.seq, step.action_id, step.outcome) for step in steps] == [
        (1, "hook", "succeeded"),
        (2, "done", "finished"),
    ]
    assert await _logs_of(sessionmaker, run_id) > 0
    assert await sends(sessionmaker, run_id) == [("hook", 0, 0, "fetch", "done")]
