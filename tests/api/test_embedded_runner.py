"""The embedded runner (no Redis): several runs at once, and no wake-up lost while it is busy.

Before, it executed one run at a time and cleared its wake-up after a pass, so three slow webhooks ahead
of a run delayed it by their whole duration, and a run created during a pass waited for the next poll.
"""

import time

import httpx

from app.services.bootstrap import Tenant
from tests.functions.servers import LocalHttpServer, Reply
from tests.polling import wait_for
from tests.worker.helpers import create_flow, get_run, start_run, webhook_flow

SLOW = 4.0


def exit_flow() -> dict[str, object]:
    return {
        "name": "quick",
        "status": "active",
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
    }


async def test_slow_webhooks_do_not_hold_back_a_run_created_behind_them(
    client: httpx.AsyncClient, tenant: Tenant, http_server: LocalHttpServer
) -> None:
    http_server.script("/slow", Reply(200, {"ok": True}, delay=SLOW))
    slow_flow = await create_flow(client, tenant, webhook_flow(http_server.url("/slow")))
    quick_flow = await create_flow(client, tenant, exit_flow())
    slow_runs = [await start_run(client, tenant, slow_flow, f"slow-{i}") for i in range(3)]

    async def all_sent() -> bool:
        return len(http_server.requests) >= 3

    # All three are in flight at once, and the quick run is created while the runner is busy with them.
    await wait_for(all_sent, within=SLOW, interval=0.02)
    created = time.monotonic()
    quick = await start_run(client, tenant, quick_flow, "quick")

    async def quick_done() -> bool:
        return (await get_run(client, tenant, quick_flow, quick))["status"] == "completed"

    await wait_for(quick_done, within=30, interval=0.02)
    took = time.monotonic() - created
    statuses = [(await get_run(client, tenant, slow_flow, run_id))["status"] for run_id in slow_runs]
    assert statuses == ["running"] * 3, "the quick run must finish while the slow requests are still out"
    assert took < SLOW / 2, f"the quick run took {took:.2f}s"

    async def slow_done() -> bool:
        runs = [await get_run(client, tenant, slow_flow, run_id) for run_id in slow_runs]
        return all(run["status"] == "completed" for run in runs)

    await wait_for(slow_done, within=60)
    assert len(http_server.requests) == 3
