"""What a worker stores from a function step: destination responses made storable, secrets sealed in run state."""

import json
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.crypto import ENCRYPTED_MARKER
from app.db.repositories.runs import RunRepository
from app.db.session import session_scope
from app.engine.executor import ExecutorOptions
from app.services.bootstrap import Tenant
from app.storable import storable
from app.worker.processor import RunProcessor
from app.worker.scheduling import WakeUpScheduler
from tests.engine.flows import action, chain
from tests.functions.db_helpers import hand_clock, store_flow, store_integration, store_run
from tests.functions.helpers import function_action
from tests.functions.servers import LocalHttpServer, Reply
from tests.polling import wait_for

Sessionmaker = async_sessionmaker[AsyncSession]
MARKER = "response-marker-7f3a"
TOKEN = "xoxb-sealed-token-123"


def processor(sessionmaker: Sessionmaker, server: LocalHttpServer) -> RunProcessor:
    settings = Settings(
        HOGFLOWS_ALLOW_PRIVATE_FETCH=True,
        HOGFLOWS_FETCH_RETRY_BASE=0.01,
        HOGFLOWS_FETCH_URL_OVERRIDES={"slack.com": server.base_url},
    )
    return RunProcessor(sessionmaker, WakeUpScheduler(), settings=settings, options=ExecutorOptions(clock=hand_clock))


async def stored_state(
    sessionmaker: Sessionmaker, team_id: int, flow_id: UUID, run_id: UUID
) -> tuple[str, dict[str, Any]]:
    async with session_scope(sessionmaker) as session:
        run = await RunRepository(session).get(team_id, flow_id, run_id)
    assert run is not None
    return run.status, dict(run.state)


def test_storable_replaces_what_postgresql_refuses() -> None:
    value = {"a\x00": ["x\ud800y", float("inf"), float("nan"), 1.5, {"k": "\x00"}], "ok": "caf\u00e9"}
    assert storable(value) == {"a\ufffd": ["x\ufffdy", None, None, 1.5, {"k": "\ufffd"}], "ok": "caf\u00e9"}


@pytest.mark.parametrize(
    ("raw", "expected_body"),
    [
        (b'{"x": "a\\u0000b", "m": "' + MARKER.encode() + b'"}', {"x": "a\ufffdb", "m": MARKER}),
        (b"1e400", None),
        (b'{"x": "\\ud800", "m": "' + MARKER.encode() + b'"}', {"x": "\ufffd", "m": MARKER}),
        (b"plain a\x00b " + MARKER.encode(), f"plain a\ufffdb {MARKER}"),
        (b"[" * 2_000 + b"]" * 2_000, "[" * 2_000 + "]" * 2_000),  # deeper than the JSON parser goes
    ],
)
async def test_a_delivered_send_never_fails_because_of_its_response_body(
    sessionmaker: Sessionmaker,
    tenant: Tenant,
    http_server: LocalHttpServer,
    capfd: pytest.CaptureFixture[str],
    raw: bytes,
    expected_body: object,
) -> None:
    http_server.script("/hook", Reply(200, raw))
    hook = function_action(
        "hook", "template-webhook", {"url": http_server.url("/hook")}, output_variable={"key": "answer"}
    )
    flow = await store_flow(
        sessionmaker, tenant.team_id, [hook, action("done", "exit")], chain("trigger", "hook", "done")
    )
    run_id = await store_run(sessionmaker, flow)
    await processor(sessionmaker, http_server).process(run_id)
    async with session_scope(sessionmaker) as session:
        run = await RunRepository(session).get(tenant.team_id, flow.id, run_id)
    assert run is not None and run.status == "completed", run.error if run else None
    state = dict(run.state)
    assert state["variables"]["answer"] == {"status": 200, "body": expected_body}
    output = capfd.readouterr()
    assert MARKER not in output.out + output.err  # no response body in the worker's log


async def test_a_parked_step_keeps_its_secrets_sealed_in_the_run_state(
    sessionmaker: Sessionmaker, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    http_server.script("/api/chat.postMessage", Reply(503, "busy"), Reply(200, {"ok": True}))
    workspace = await store_integration(sessionmaker, tenant.team_id, "slack", {}, {"access_token": TOKEN})
    slack = function_action("slack", "template-slack", {"slack_workspace": workspace, "channel": "C1", "text": "hi"})
    flow = await store_flow(
        sessionmaker, tenant.team_id, [slack, action("done", "exit")], chain("trigger", "slack", "done")
    )
    run_id = await store_run(sessionmaker, flow)
    worker = processor(sessionmaker, http_server)
    # The first attempt gets 503: the step parks for a retry with its paused VM and pending request.
    assert await worker.process(run_id) == "waiting"
    _, state = await stored_state(sessionmaker, tenant.team_id, flow.id, run_id)
    assert TOKEN not in json.dumps(state)
    assert set(state["currentAction"]["hogFunctionState"]) == {ENCRYPTED_MARKER}
    # A later pickup (once the backoff is over) opens the state and finishes the step with the token.
    assert await wait_for(lambda: _completed(worker, run_id), within=20, interval=0.05)
    assert [request.headers["authorization"] for request in http_server.requests] == [f"Bearer {TOKEN}"] * 2


async def _completed(worker: RunProcessor, run_id: UUID) -> bool:
    return await worker.process(run_id) == "completed"
