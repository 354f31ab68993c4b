"""PostHog's current batch job API: `batch_jobs/{id}/cancel`, merged variables, schedules in the flow detail,
and the confirm token `user_blast_radius` issues for large audiences."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowBatchJob, HogFlowRun
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.batch_helpers import (
    batch_flow,
    batch_jobs_url,
    create_flow,
    person_filter,
    schedules_url,
    upsert_persons,
)
from tests.api.helpers import auth, flows_url
from tests.polling import wait_for

PERSONS = [{"distinct_id": f"p{i}", "properties": {"plan": "pro"}} for i in range(3)]


def waiting_flow() -> dict[str, Any]:
    """A batch flow whose runs wait an hour, so they are unfinished when the job is cancelled."""
    flow = batch_flow([person_filter("plan", "pro")])
    flow["actions"] = [
        flow["actions"][0],
        {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": "1h"}},
        {"id": "done", "name": "done", "type": "exit", "config": {}},
    ]
    flow["edges"] = [
        {"from": "trigger", "to": "wait", "type": "continue"},
        {"from": "wait", "to": "done", "type": "continue"},
    ]
    flow["variables"] = [{"key": "greeting", "default": "hello"}, {"key": "tone", "default": "warm"}]
    return flow


async def runs_of(sessionmaker: async_sessionmaker[AsyncSession], job_id: str) -> list[HogFlowRun]:
    async with session_scope(sessionmaker) as session:
        statement = select(HogFlowRun).where(HogFlowRun.parent_run_id == job_id)
        return list((await session.execute(statement)).scalars().all())


class TestCancel:
    async def test_cancels_the_unfinished_runs_and_a_finished_job_keeps_its_status(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        await upsert_persons(client, tenant, PERSONS)
        flow_id = await create_flow(client, tenant, waiting_flow())
        job = (await client.post(batch_jobs_url(tenant, flow_id), json={}, headers=auth(tenant))).json()

        async def all_waiting() -> list[HogFlowRun] | None:
            async with session_scope(sessionmaker) as session:
                stored = await session.get(HogFlowBatchJob, uuid.UUID(job["id"]))
                if stored is None or stored.status != "completed":
                    return None
            runs = await runs_of(sessionmaker, job["id"])
            return runs if len(runs) == 3 and all(run.status == "waiting" for run in runs) else None

        await wait_for(all_waiting, within=60)
        url = f"{batch_jobs_url(tenant, flow_id)}{job['id']}/cancel/"
        response = await client.post(url, headers=auth(tenant))
        assert response.status_code == 200, response.text
        # The job had finished creating its runs: its completion wins, its runs are cancelled.
        assert response.json() == {"status": "completed", "marked": 3, "remaining": 0, "done": True}
        assert {run.status for run in await runs_of(sessionmaker, job["id"])} == {"cancelled"}
        again = await client.post(url, headers=auth(tenant))
        assert again.json() == {"status": "completed", "marked": 0, "remaining": 0, "done": True}

    async def test_a_job_not_yet_started_is_cancelled(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        flow_id = await create_flow(client, tenant, waiting_flow())
        body = {"status": "waiting"}
        job = (await client.post(batch_jobs_url(tenant, flow_id), json=body, headers=auth(tenant))).json()
        response = await client.post(f"{batch_jobs_url(tenant, flow_id)}{job['id']}/cancel", headers=auth(tenant))
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "cancelled", "marked": 0, "remaining": 0, "done": True}
        listed = (await client.get(batch_jobs_url(tenant, flow_id), headers=auth(tenant))).json()
        assert [item["status"] for item in listed] == ["cancelled"]

    async def test_unknown_job_or_flow_is_404_and_needs_write_access(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow_id = await create_flow(client, tenant, waiting_flow())
        for job_id in (str(uuid.uuid4()), "nope"):
            response = await client.post(f"{batch_jobs_url(tenant, flow_id)}{job_id}/cancel/", headers=auth(tenant))
            assert response.status_code == 404
            assert response.json()["detail"] == "Batch job not found."
        other_flow = str(uuid.uuid4())
        response = await client.post(
            f"{batch_jobs_url(tenant, other_flow)}{uuid.uuid4()}/cancel/", headers=auth(tenant)
        )
        assert response.json()["detail"] == f"Workflow {other_flow} not found"
        anonymous = await client.post(f"{batch_jobs_url(tenant, flow_id)}{uuid.uuid4()}/cancel/")
        assert anonymous.status_code == 401


class TestVariables:
    async def test_the_job_echoes_the_flow_defaults_with_the_overrides(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow_id = await create_flow(client, tenant, waiting_flow())
        for overrides in ({"tone": "dry"}, [{"key": "tone", "value": "dry"}]):
            body = {"status": "waiting", "variables": overrides}
            job = (await client.post(batch_jobs_url(tenant, flow_id), json=body, headers=auth(tenant))).json()
            assert job["variables"] == {"greeting": "hello", "tone": "dry"}
        job = (
            await client.post(batch_jobs_url(tenant, flow_id), json={"status": "waiting"}, headers=auth(tenant))
        ).json()
        assert job["variables"] == {"greeting": "hello", "tone": "warm"}


class TestSchedulesInDetail:
    async def test_the_flow_detail_nests_its_schedules_oldest_first(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow_id = await create_flow(client, tenant, batch_flow())
        created = []
        for hour in (9, 17):
            body = {"rrule": f"FREQ=DAILY;BYHOUR={hour}", "starts_at": "2030-01-01T00:00:00Z", "timezone": "UTC"}
            response = await client.post(schedules_url(tenant, flow_id), json=body, headers=auth(tenant))
            assert response.status_code == 201, response.text
            created.append(response.json())
        detail = (await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))).json()
        assert [schedule["id"] for schedule in detail["schedules"]] == [created[0]["id"], created[1]["id"]]
        assert detail["schedules"][0] == created[0]
        patched = await client.patch(f"{flows_url(tenant)}{flow_id}/", json={"name": "x"}, headers=auth(tenant))
        assert len(patched.json()["schedules"]) == 2
        # The list stays light: no schedules there.
        listed = (await client.get(flows_url(tenant), headers=auth(tenant))).json()["results"]
        assert all("schedules" not in row for row in listed)


@pytest.fixture
def confirm_threshold(app: Any) -> Iterator[int]:
    settings = app.state.settings
    before = settings.batch_confirm_threshold
    settings.batch_confirm_threshold = 2
    yield 2
    settings.batch_confirm_threshold = before


class TestConfirmToken:
    async def test_a_large_audience_needs_the_token_blast_radius_gave(
        self, client: httpx.AsyncClient, tenant: Tenant, confirm_threshold: int
    ) -> None:
        await upsert_persons(client, tenant, PERSONS)
        flow_id = await create_flow(client, tenant, waiting_flow())
        filters = {"properties": [person_filter("plan", "pro")]}
        blast = await client.post(
            f"{flows_url(tenant)}user_blast_radius/", json={"filters": filters}, headers=auth(tenant)
        )
        token = blast.json()["confirm_token"]
        assert blast.json()["affected"] == 3 and isinstance(token, str)
        url = batch_jobs_url(tenant, flow_id)
        missing = await client.post(url, json={"status": "waiting"}, headers=auth(tenant))
        assert missing.status_code == 400
        assert missing.json()["attr"] == "confirm_token"
        assert "3 persons" in missing.json()["detail"]
        wrong = await client.post(url, json={"status": "waiting", "confirm_token": token + "x"}, headers=auth(tenant))
        assert (wrong.status_code, wrong.json()["attr"]) == (400, "confirm_token")
        # A token for other filters does not start this audience.
        other = {"filters": {"properties": [person_filter("plan", "pro"), person_filter("plan", "pro", "is_set")]}}
        other_token = (
            await client.post(f"{flows_url(tenant)}user_blast_radius/", json=other, headers=auth(tenant))
        ).json()["confirm_token"]
        refused = await client.post(url, json={"status": "waiting", "confirm_token": other_token}, headers=auth(tenant))
        assert refused.status_code == 400
        assert len((await client.get(url, headers=auth(tenant))).json()) == 0
        accepted = await client.post(url, json={"status": "waiting", "confirm_token": token}, headers=auth(tenant))
        assert accepted.status_code == 200, accepted.text

    async def test_a_small_audience_needs_no_token(
        self, client: httpx.AsyncClient, tenant: Tenant, confirm_threshold: int
    ) -> None:
        await upsert_persons(client, tenant, PERSONS[:2])
        flow_id = await create_flow(client, tenant, waiting_flow())
        blast = await client.post(
            f"{flows_url(tenant)}user_blast_radius/",
            json={"filters": {"properties": [person_filter("plan", "pro")]}},
            headers=auth(tenant),
        )
        assert blast.json()["confirm_token"] is None
        response = await client.post(batch_jobs_url(tenant, flow_id), json={"status": "waiting"}, headers=auth(tenant))
        assert response.status_code == 200, response.text


async def test_batch_jobs_table_untouched_by_refusals(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, waiting_flow())
    response = await client.post(f"{batch_jobs_url(tenant, flow_id)}{uuid.uuid4()}/cancel/", headers=auth(tenant))
    assert response.status_code == 404
    async with session_scope(sessionmaker) as session:
        statement = select(HogFlowBatchJob).where(HogFlowBatchJob.hog_flow_id == uuid.UUID(flow_id))
        assert (await session.execute(statement)).scalars().all() == []
