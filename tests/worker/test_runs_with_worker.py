"""Runs executed by real `hogflows worker` processes over Redis: delays, crashes, lost queues."""

from collections import Counter
from datetime import datetime
from typing import Any

import httpx
from redis.asyncio import Redis

from app.db.repositories.persons import PersonRepository
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.serving import Workers
from tests.worker.helpers import create_flow, start_run, trace, wait_for_status

TWO_SECONDS = "0.034m"


def delay_flow(duration: str = TWO_SECONDS) -> dict[str, Any]:
    return {
        "name": "delayed",
        "status": "active",
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": duration}},
            {
                "id": "split",
                "name": "split",
                "type": "random_cohort_branch",
                "config": {"cohorts": [{"percentage": 100}]},
                "output_variable": {"key": "cohort"},
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "wait", "type": "continue"},
            {"from": "wait", "to": "split", "type": "continue"},
            {"from": "split", "to": "done", "type": "branch", "index": 0},
        ],
    }


async def test_two_second_delay_resumes(queue_client: httpx.AsyncClient, tenant: Tenant, workers: Workers) -> None:
    workers.start()
    flow_id = await create_flow(queue_client, tenant, delay_flow())
    run_id = await start_run(queue_client, tenant, flow_id)
    waiting = await wait_for_status(queue_client, tenant, flow_id, run_id, "waiting")
    assert waiting["current_action_id"] == "wait"
    assert waiting["next_run_at"] is not None
    done = await wait_for_status(queue_client, tenant, flow_id, run_id, "completed")
    assert trace(done) == [("wait", "waiting"), ("wait", "succeeded"), ("split", "succeeded"), ("done", "finished")]
    assert done["variables"] == {"cohort": {"assigned_cohort": "done"}}
    assert done["finished_at"] is not None
    waited = (_parse(done["steps"][1]["started_at"]) - _parse(done["steps"][0]["started_at"])).total_seconds()
    assert waited >= 2.0


async def test_run_survives_a_killed_worker(queue_client: httpx.AsyncClient, tenant: Tenant, workers: Workers) -> None:
    first = workers.start()
    flow_id = await create_flow(queue_client, tenant, delay_flow("0.05m"))
    run_id = await start_run(queue_client, tenant, flow_id)
    await wait_for_status(queue_client, tenant, flow_id, run_id, "waiting")
    workers.kill(first)
    workers.start()
    done = await wait_for_status(queue_client, tenant, flow_id, run_id, "completed")
    assert [action for action, _ in trace(done)].count("done") == 1


async def test_run_survives_a_redis_flush(
    queue_client: httpx.AsyncClient, tenant: Tenant, workers: Workers, redis_url: str
) -> None:
    workers.start()
    flow_id = await create_flow(queue_client, tenant, delay_flow("0.05m"))
    run_id = await start_run(queue_client, tenant, flow_id)
    await wait_for_status(queue_client, tenant, flow_id, run_id, "waiting")
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
    done = await wait_for_status(queue_client, tenant, flow_id, run_id, "completed")
    assert trace(done)[-1] == ("done", "finished")


async def test_many_runs_on_two_workers_execute_each_step_once(
    queue_client: httpx.AsyncClient, tenant: Tenant, workers: Workers
) -> None:
    workers.start()
    workers.start()
    flow_id = await create_flow(queue_client, tenant, delay_flow("0m"))
    run_ids = [await start_run(queue_client, tenant, flow_id, f"user-{i}") for i in range(30)]
    for run_id in run_ids:
        run = await wait_for_status(queue_client, tenant, flow_id, run_id, "completed")
        assert trace(run) == [("wait", "succeeded"), ("split", "succeeded"), ("done", "finished")]
        assert [step["seq"] for step in run["steps"]] == [1, 2, 3]
    listed = (await queue_client.get(f"{flows_url(tenant)}{flow_id}/runs/?limit=100", headers=auth(tenant))).json()
    assert listed["count"] == 30
    assert Counter(run["status"] for run in listed["results"]) == {"completed": 30}


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


EVERY_ACTION_FLOW: dict[str, Any] = {
    "name": "every action",
    "status": "active",
    "actions": [
        {
            "id": "trigger",
            "name": "trigger",
            "type": "trigger",
            "config": {
                "type": "manual",
                "template_id": "template-source-webhook",
                "inputs": {"event": {"value": "go"}, "distinct_id": {"value": "{request.body.id}"}},
            },
        },
        {
            "id": "branch",
            "name": "branch",
            "type": "conditional_branch",
            "config": {
                "conditions": [
                    {
                        "filters": {
                            "properties": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]
                        }
                    }
                ]
            },
        },
        {
            "id": "window",
            "name": "window",
            "type": "wait_until_time_window",
            "config": {"timezone": "UTC", "day": "any", "time": "any"},
        },
        {
            "id": "wait",
            "name": "wait",
            "type": "wait_until_condition",
            "config": {
                "condition": {"filters": {"properties": [{"key": "email", "type": "person", "operator": "is_set"}]}},
                "max_wait_duration": "1h",
            },
        },
        {"id": "pause", "name": "pause", "type": "delay", "config": {"delay_duration": TWO_SECONDS}},
        {
            "id": "split",
            "name": "split",
            "type": "random_cohort_branch",
            "config": {"cohorts": [{"percentage": 50}, {"percentage": 50}]},
        },
        {"id": "done", "name": "done", "type": "exit", "config": {}},
        {"id": "free_exit", "name": "free", "type": "exit", "config": {}},
    ],
    "edges": [
        {"from": "trigger", "to": "branch", "type": "continue"},
        {"from": "branch", "to": "window", "type": "branch", "index": 0},
        {"from": "branch", "to": "free_exit", "type": "continue"},
        {"from": "window", "to": "wait", "type": "continue"},
        {"from": "wait", "to": "pause", "type": "branch", "index": 0},
        {"from": "wait", "to": "free_exit", "type": "continue"},
        {"from": "pause", "to": "split", "type": "continue"},
        {"from": "split", "to": "done", "type": "branch", "index": 0},
        {"from": "split", "to": "done", "type": "branch", "index": 1},
    ],
}


async def test_every_action_type_through_the_worker(
    queue_client: httpx.AsyncClient, tenant: Tenant, workers: Workers, sessionmaker: Any
) -> None:
    async with session_scope(sessionmaker) as session:
        await PersonRepository(session).create(tenant.team_id, "pro-user", {"plan": "pro", "email": "a@b.c"})
        await PersonRepository(session).create(tenant.team_id, "free-user", {"plan": "free"})
    workers.start()
    flow_id = await create_flow(queue_client, tenant, EVERY_ACTION_FLOW)
    pro_run = await start_run(queue_client, tenant, flow_id, "pro-user")
    free_run = await start_run(queue_client, tenant, flow_id, "free-user")
    free = await wait_for_status(queue_client, tenant, flow_id, free_run, "completed")
    assert trace(free) == [("branch", "succeeded"), ("free_exit", "finished")]
    pro = await wait_for_status(queue_client, tenant, flow_id, pro_run, "completed")
    assert trace(pro) == [
        ("branch", "succeeded"),
        ("window", "succeeded"),
        ("wait", "succeeded"),
        ("pause", "waiting"),
        ("pause", "succeeded"),
        ("split", "succeeded"),
        ("done", "finished"),
    ]
