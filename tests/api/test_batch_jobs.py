"""`GET/POST {p}/hog_flows/{id}/batch_jobs/` (api.md §5.1-§5.2) and a job run by the embedded runner."""

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowRun, LogEntry
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.batch_helpers import (
    batch_flow,
    batch_jobs_url,
    create_flow,
    person_filter,
    schedule_flow,
    upsert_persons,
)
from tests.api.helpers import auth
from tests.conftest import TenantFactory
from tests.polling import wait_for


async def post_job(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, body: Any = None) -> httpx.Response:
    return await client.post(
        batch_jobs_url(tenant, flow_id), json=body if body is not None else {}, headers=auth(tenant)
    )


class TestCreate:
    async def test_answers_200_with_the_queued_job(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_flow(client, tenant, batch_flow())
        variables = [{"key": "first_name", "value": "Test"}]
        response = await post_job(client, tenant, flow_id, {"variables": variables})
        assert response.status_code == 200, response.text
        job = response.json()
        assert set(job) == {
            "id",
            "status",
            "hog_flow",
            "filters",
            "variables",
            "created_at",
            "created_by",
            "updated_at",
            "persons_matched",
            "runs_created",
        }
        assert job["status"] == "queued"
        assert job["hog_flow"] == flow_id
        # The job echoes the merged variables: the flow's defaults (none here) with the overrides.
        assert job["variables"] == {"first_name": "Test"}
        assert job["filters"] == {}
        assert job["created_by"]["id"] == tenant.user_id
        assert job["created_at"].endswith("Z")
        assert (job["persons_matched"], job["runs_created"]) == (0, 0)

    async def test_status_and_filters_are_writable(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_flow(client, tenant, batch_flow())
        body = {"status": "waiting", "filters": {"filter_test_accounts": True}, "variables": {"a": 1}}
        response = await post_job(client, tenant, flow_id, body)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "waiting"
        assert response.json()["filters"] == {"filter_test_accounts": True}
        assert response.json()["variables"] == {"a": 1}

    async def test_unknown_flow_is_404_workflow_not_found(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        unknown = str(uuid.uuid4())
        for flow_id in ("99999", unknown):
            for method in ("GET", "POST"):
                response = await client.request(method, batch_jobs_url(tenant, flow_id), json={}, headers=auth(tenant))
                assert response.status_code == 404
                assert response.json() == {
                    "type": "invalid_request",
                    "code": "not_found",
                    "detail": f"Workflow {flow_id} not found",
                    "attr": None,
                }

    async def test_flow_of_another_team_is_not_found(
        self, client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
    ) -> None:
        other = await make_tenant(email=tenant.email)
        flow_id = await create_flow(client, other, batch_flow())
        response = await post_job(client, tenant, flow_id)
        assert response.status_code == 404

    async def test_inactive_flow_is_refused(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_flow(client, tenant, batch_flow(status="draft"))
        response = await post_job(client, tenant, flow_id, {"status": "nope"})
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "code": "invalid_input",
            "detail": "Workflow must be active to run a batch. Enable it first.",
            "attr": None,
        }

    async def test_only_batch_flows_run_batches(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_flow(client, tenant, schedule_flow())
        response = await post_job(client, tenant, flow_id)
        assert response.status_code == 400
        assert response.json()["detail"] == "Only batch Workflows are supported for batch jobs"

    async def test_body_errors_are_raw_drf_dicts(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_flow(client, tenant, batch_flow())
        cases: list[tuple[Any, dict[str, list[str]]]] = [
            ({"status": "nope"}, {"status": ['"nope" is not a valid choice.']}),
            ({"status": None}, {"status": ["This field may not be null."]}),
            ({"status": 5}, {"status": ['"5" is not a valid choice.']}),
            ({"filters": None}, {"filters": ["This field may not be null."]}),
            ({"filters": [1]}, {"filters": ['Expected a dictionary of items but got type "list".']}),
            ({"variables": None}, {"variables": ["This field may not be null."]}),
            (
                {"status": "x", "variables": None},
                {"status": ['"x" is not a valid choice.'], "variables": ["This field may not be null."]},
            ),
            ([1, 2], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ]
        for body, expected in cases:
            response = await post_job(client, tenant, flow_id, body)
            assert response.status_code == 400, body
            assert response.json() == expected, body
        listed = await client.get(batch_jobs_url(tenant, flow_id), headers=auth(tenant))
        assert listed.json() == []

    async def test_malformed_json_is_a_parse_error(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_flow(client, tenant, batch_flow())
        response = await client.post(
            batch_jobs_url(tenant, flow_id),
            content=b"{nope",
            headers={**auth(tenant), "Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"


class TestList:
    async def test_bare_list_newest_first(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_flow(client, tenant, batch_flow())
        other_flow = await create_flow(client, tenant, batch_flow())
        ids = [(await post_job(client, tenant, flow_id, {"status": "waiting"})).json()["id"] for _ in range(3)]
        await post_job(client, tenant, other_flow, {"status": "waiting"})
        response = await client.get(batch_jobs_url(tenant, flow_id), headers=auth(tenant))
        assert response.status_code == 200
        assert isinstance(response.json(), list)
        assert [job["id"] for job in response.json()] == list(reversed(ids))


class TestScopes:
    async def test_read_scope_lists_write_scope_creates(
        self, client: httpx.AsyncClient, make_tenant: TenantFactory
    ) -> None:
        owner = await make_tenant()
        flow_id = await create_flow(client, owner, batch_flow())
        reader = await make_tenant(email=owner.email, scopes=["hog_flow:read"])
        # The reader's key is scoped to its own new team; use the owner's team through its membership.
        url = batch_jobs_url(owner, flow_id)
        headers = {"Authorization": f"Bearer {reader.api_key}"}
        assert (await client.get(url, headers=headers)).status_code == 200
        response = await client.post(url, json={}, headers=headers)
        assert response.status_code == 403
        assert response.json()["detail"] == "API key missing required scope 'hog_flow:write'"


class TestExecution:
    """Jobs run in the embedded runner here (the worker pool is tested in tests/worker)."""

    async def test_job_creates_one_run_per_matching_person(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        persons = [
            {"distinct_id": f"user-{i}", "properties": {"plan": "pro" if i % 3 == 0 else "free", "age": i}}
            for i in range(60)
        ]
        await upsert_persons(client, tenant, persons)
        flow_id = await create_flow(
            client, tenant, batch_flow([person_filter("plan", "pro"), person_filter("age", 10, "gt")])
        )
        job = (await post_job(client, tenant, flow_id, {"variables": [{"key": "greeting", "value": "hi"}]})).json()

        async def finished() -> dict[str, Any] | None:
            jobs = (await client.get(batch_jobs_url(tenant, flow_id), headers=auth(tenant))).json()
            return jobs[0] if jobs[0]["status"] == "completed" else None

        done = await wait_for(finished, within=60)
        expected = {f"user-{i}" for i in range(60) if i % 3 == 0 and i > 10}
        assert done["persons_matched"] == done["runs_created"] == len(expected)
        async with session_scope(sessionmaker) as session:
            runs = list(
                (await session.execute(select(HogFlowRun).where(HogFlowRun.parent_run_id == job["id"]))).scalars()
            )
            logs = (await session.execute(select(LogEntry).where(LogEntry.log_source_id == job["id"]))).scalars()
            messages = [entry.message for entry in logs]
        assert {run.distinct_id for run in runs} == expected
        for run in runs:
            assert run.state["variables"] == {"greeting": "hi"}
            assert run.state["personId"] == str(run.person_id)
            assert run.state["event"]["event"] == "$batch_hog_flow_invocation"
        assert f"Batch job completed: {len(expected)} persons matched, {len(expected)} runs created" in messages

    async def test_job_filters_override_the_trigger(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        await upsert_persons(
            client, tenant, [{"distinct_id": f"u{i}", "properties": {"plan": "pro", "n": i}} for i in range(5)]
        )
        flow_id = await create_flow(client, tenant, batch_flow())
        body = {"filters": {"properties": [person_filter("n", 2, "gte")]}}
        job = (await post_job(client, tenant, flow_id, body)).json()

        async def finished() -> dict[str, Any] | None:
            jobs = (await client.get(batch_jobs_url(tenant, flow_id), headers=auth(tenant))).json()
            return jobs[0] if jobs[0]["status"] == "completed" else None

        done = await wait_for(finished, within=60)
        assert done["id"] == job["id"]
        assert done["runs_created"] == 3
