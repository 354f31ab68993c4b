"""Function steps in real `hogflows worker` processes: a webhook step calls a local server."""

import uuid

import httpx
from sqlalchemy import text

from app.crypto import DEFAULT_SECRET_KEY
from app.db.session import create_engine
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.functions.servers import LocalHttpServer, Reply
from tests.serving import Workers
from tests.worker.conftest import module_owned
from tests.worker.helpers import create_flow, start_run, trace, wait_for_status, webhook_flow

# Workers that may call 127.0.0.1 and retry after ~0.2 s instead of ~1 s.
fn_client, fn_tenant, fetch_workers = module_owned({"HOGFLOWS_FETCH_RETRY_BASE": "0.2"})


async def run_logs(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, run_id: str) -> list[str]:
    response = await client.get(
        f"{flows_url(tenant)}{flow_id}/logs/", params={"instance_id": run_id, "limit": 500}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return [entry["message"] for entry in reversed(response.json()["results"])]


async def test_a_webhook_step_calls_the_server_from_a_worker(
    fn_client: httpx.AsyncClient, fn_tenant: Tenant, fetch_workers: Workers, http_server: LocalHttpServer
) -> None:
    client, tenant = fn_client, fn_tenant
    http_server.script("/hook", Reply(200, {"ok": True}))
    flow_id = await create_flow(client, tenant, webhook_flow(http_server.url("/hook")))
    fetch_workers.start()
    run_id = await start_run(client, tenant, flow_id, distinct_id="ada")

    run = await wait_for_status(client, tenant, flow_id, run_id, "completed")
    assert trace(run) == [("hook", "succeeded"), ("done", "finished")]
    assert run["variables"] == {"plan": "pro", "response_status": 200}
    [request] = http_server.requests
    assert request.json() == {"user": "ada", "plan": "pro"}
    assert request.headers["x-run"] == "$workflow_triggered"
    logs = await run_logs(client, tenant, flow_id, run_id)
    assert any(line.startswith("[Action:hook] Function completed in ") for line in logs)


async def test_a_failing_server_is_retried_with_backoff_by_the_worker(
    fn_client: httpx.AsyncClient, fn_tenant: Tenant, fetch_workers: Workers, http_server: LocalHttpServer
) -> None:
    client, tenant = fn_client, fn_tenant
    http_server.script("/hook", Reply(503, "busy"), Reply(200, {"ok": True}))
    flow_id = await create_flow(client, tenant, webhook_flow(http_server.url("/hook")))
    fetch_workers.start()
    run_id = await start_run(client, tenant, flow_id)

    run = await wait_for_status(client, tenant, flow_id, run_id, "completed")
    assert trace(run) == [("hook", "waiting"), ("hook", "succeeded"), ("done", "finished")]
    assert len(http_server.requests) == 2
    logs = await run_logs(client, tenant, flow_id, run_id)
    assert "[Action:hook] HTTP fetch failed on attempt 1 with status code 503. Retrying." in logs
    assert any(line.startswith("Workflow will pause until ") for line in logs)


SECRET_TOKEN = "Bearer w0rker-s3cret"


async def stored_texts(database_url: str, flow_id: str, run_id: str) -> str:
    """The flow's row and the run's row as PostgreSQL stores them."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            flow = await connection.execute(
                text("SELECT CAST(actions AS TEXT) || CAST(trigger AS TEXT) FROM hog_flows WHERE id = :id"),
                {"id": uuid.UUID(flow_id)},
            )
            run = await connection.execute(
                text("SELECT CAST(state AS TEXT) FROM hog_flow_runs WHERE id = :id"), {"id": uuid.UUID(run_id)}
            )
            return f"{flow.scalar_one()}\n{run.scalar_one()}"
    finally:
        await engine.dispose()


async def test_a_secret_input_is_decrypted_only_in_the_worker_that_sends_it(
    fn_client: httpx.AsyncClient,
    fn_tenant: Tenant,
    fetch_workers: Workers,
    module_database_url: str,
    http_server: LocalHttpServer,
) -> None:
    client, tenant = fn_client, fn_tenant
    # The first attempt fails, so the step parks with its VM state (headers included) in the run row.
    http_server.script("/hook", Reply(503, "busy"), Reply(200, {"ok": True}))
    flow = webhook_flow(http_server.url("/hook"))
    hook = flow["actions"][1]["config"]
    hook["inputs"]["headers"]["value"]["Authorization"] = SECRET_TOKEN
    hook["inputs_schema"] = [{"key": "headers", "type": "dictionary", "secret": True}]
    flow_id = await create_flow(client, tenant, flow)
    detail = await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))
    assert detail.json()["actions"][1]["config"]["inputs"]["headers"] == {"secret": True}
    assert "w0rker-s3cret" not in detail.text
    # The API sealed it with the default key; these workers have rotated to a new key, the old one second.
    fetch_workers.start(HOGFLOWS_SECRET_KEY=f"a-rotated-key,{DEFAULT_SECRET_KEY}")
    run_id = await start_run(client, tenant, flow_id, distinct_id="ada")
    run = await wait_for_status(client, tenant, flow_id, run_id, "completed")
    assert trace(run) == [("hook", "waiting"), ("hook", "succeeded"), ("done", "finished")]
    assert [request.headers["authorization"] for request in http_server.requests] == [SECRET_TOKEN, SECRET_TOKEN]
    stored = await stored_texts(module_database_url, flow_id, run_id)
    assert "w0rker-s3cret" not in stored and "$fernet" in stored
    assert "w0rker-s3cret" not in str(run)
    assert not any("w0rker-s3cret" in line for line in await run_logs(client, tenant, flow_id, run_id))
