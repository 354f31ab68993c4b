"""A batch flow's runs log and count under their job id; the flow's logs/ and metrics/ show them."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.batch_helpers import batch_flow, batch_jobs_url, create_flow, person_filter, upsert_persons
from tests.api.helpers import auth, flows_url
from tests.polling import wait_for


async def _run_job(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> str:
    job = (await client.post(batch_jobs_url(tenant, flow_id), json={}, headers=auth(tenant))).json()

    async def finished() -> bool:
        jobs = (await client.get(batch_jobs_url(tenant, flow_id), headers=auth(tenant))).json()
        return all(one["status"] == "completed" for one in jobs)

    async def runs_done() -> bool:
        runs = (await client.get(f"{flows_url(tenant)}{flow_id}/runs/", headers=auth(tenant))).json()
        return all(run["status"] == "completed" for run in runs["results"])

    await wait_for(finished, within=60)
    await wait_for(runs_done, within=60)
    return str(job["id"])


async def test_batch_runs_are_read_through_the_flow_and_narrowed_by_job(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await upsert_persons(client, tenant, [{"distinct_id": f"b-{i}", "properties": {"tier": "gold"}} for i in range(3)])
    flow_id = await create_flow(client, tenant, batch_flow([person_filter("tier", "gold")]))
    first = await _run_job(client, tenant, flow_id)
    second = await _run_job(client, tenant, flow_id)
    base = f"{flows_url(tenant)}{flow_id}"

    async def get(path: str, **params: Any) -> Any:
        response = await client.get(f"{base}/{path}", params=params, headers=auth(tenant))
        assert response.status_code == 200, response.text
        return response.json()

    totals = (await get("metrics/totals/", breakdown_by="name"))["totals"]
    per_job = [
        (await get("metrics/totals/", breakdown_by="name", batch_job_id=job))["totals"] for job in (first, second)
    ]
    assert per_job[0]["succeeded"] > 0 and per_job[0] == per_job[1]  # same audience, same flow
    assert totals["succeeded"] == per_job[0]["succeeded"] + per_job[1]["succeeded"]
    series = await get("metrics/", breakdown_by="name", name="succeeded")
    assert sum(series["series"][0]["values"]) == totals["succeeded"]

    logs = await get("logs/", limit=500)
    sources = {entry["log_source_id"] for entry in logs["results"]}
    assert {first, second} <= sources
    narrowed = await get("logs/", limit=500, batch_job_id=second)
    assert narrowed["count"] > 0 and {entry["log_source_id"] for entry in narrowed["results"]} == {second}
    assert any("Batch job completed" in entry["message"] for entry in narrowed["results"])

    other = await client.get(f"{base}/logs/", params={"batch_job_id": flow_id}, headers=auth(tenant))
    assert other.status_code == 400
    assert other.json()["attr"] == "batch_job_id"
