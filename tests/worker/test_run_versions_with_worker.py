"""A run keeps the graph of the version it started on while a real worker runs it and the flow is republished."""

import httpx

from app.services.bootstrap import Tenant
from tests.api.draft_helpers import versioned_flow
from tests.api.helpers import auth, flows_url
from tests.serving import Workers
from tests.worker.helpers import create_flow, start_run, trace, wait_for_status


async def test_waiting_run_finishes_on_its_version(
    queue_client: httpx.AsyncClient, tenant: Tenant, workers: Workers
) -> None:
    workers.start()
    flow_id = await create_flow(queue_client, tenant, versioned_flow("old_end"))
    run_id = await start_run(queue_client, tenant, flow_id)
    await wait_for_status(queue_client, tenant, flow_id, run_id, "waiting")
    new = versioned_flow("new_end")
    edited = await queue_client.patch(
        f"{flows_url(tenant)}{flow_id}/", json={"actions": new["actions"], "edges": new["edges"]}, headers=auth(tenant)
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    later_id = await start_run(queue_client, tenant, flow_id, distinct_id="user-2")
    done = await wait_for_status(queue_client, tenant, flow_id, run_id, "completed", within=60)
    assert trace(done)[-1] == ("old_end", "finished")
    assert done["version"] == 1
    later = await wait_for_status(queue_client, tenant, flow_id, later_id, "completed", within=60)
    assert trace(later)[-1] == ("new_end", "finished")
    assert later["version"] == 2
