"""Function steps in real `hogflows worker` processes: a webhook step calls a local server."""

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.config import Settings
from app.db.migrate import upgrade_to_head
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.main import create_app
from app.services.bootstrap import Tenant, bootstrap_tenant
from tests.api.helpers import auth, flows_url
from tests.functions.servers import LocalHttpServer, Reply
from tests.worker.conftest import Workers
from tests.worker.helpers import create_flow, start_run, trace, wait_for_status, webhook_flow


# These runs get a database and a queue of their own: the session's database may also be served by the
# in-process runner of the API tests' app, whose settings refuse the local server.
@pytest.fixture(scope="module")
async def own_database_url(database_url: str) -> AsyncIterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("worker processes share the database over PostgreSQL")
    async with scratch_database(database_url, "hogflows_fn") as url:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        yield url


@pytest.fixture(scope="module")
def own_queue() -> str:
    return f"hogflows-test-fn:{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def fn_client(own_database_url: str, redis_url: str, own_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(DATABASE_URL=own_database_url, REDIS_URL=redis_url, HOGFLOWS_QUEUE_NAME=own_queue)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def fn_tenant(own_database_url: str) -> AsyncIterator[Tenant]:
    engine = create_engine(own_database_url)
    async with session_scope(create_sessionmaker(engine)) as session:
        tenant = await bootstrap_tenant(session)
    await engine.dispose()
    yield tenant


@pytest.fixture
def fetch_workers(worker_env: dict[str, str], own_database_url: str, own_queue: str) -> Iterator[Workers]:
    """Workers that may call 127.0.0.1 and retry after ~0.2 s instead of ~1 s."""
    env = {
        **worker_env,
        "DATABASE_URL": own_database_url,
        "HOGFLOWS_QUEUE_NAME": own_queue,
        "HOGFLOWS_ALLOW_PRIVATE_FETCH": "true",
        "HOGFLOWS_FETCH_RETRY_BASE": "0.2",
    }
    pool = Workers(env)
    yield pool
    pool.stop_all()


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
