"""Issue 11's attacks against a real `hogflows serve` on PostgreSQL, while another tenant keeps working.

Each test sends one hostile request as tenant A while tenant B's client sends simple requests in a
loop, from before the attack until at least a second after it started and 120 requests. It asserts the hostile request
gets its bounded answer (400 in PostHog's shape, or the bounded outcome) quickly, B's p99 latency
(nearest rank) stays under 250 ms, and the server process is still alive. The timing bounds hold on one
of a few attempts: a stall the attack causes misses them every time, a machine busy with other work now and then.
"""

import json
import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.serving import Process, base_env, run, serving

VICTIM_P99_SECONDS = 0.25
VICTIM_MAX_SECONDS = 1.0
# B is measured over at least this long, so a stall that follows the answer counts too, and until it has
# enough requests for a p99 that is not just the slowest one (one outlier in 100 is what p99 allows).
VICTIM_WINDOW_SECONDS = 1.0
VICTIM_SAMPLES = 120
VICTIM_MAX_WINDOW_SECONDS = 8.0
ATTEMPTS = 4

pytestmark = pytest.mark.postgres_only


@dataclass
class Tenant:
    api_key: str
    project_id: int
    project_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def flows(self, base: str) -> str:
        return f"{base}/api/projects/{self.project_id}/hog_flows/"


@dataclass
class Server:
    base: str
    process: Process
    attacker: Tenant
    victim: Tenant

    def alive(self) -> bool:
        if not self.process.alive():
            return False
        return httpx.get(f"{self.base}/docs", timeout=5).status_code == 200


def _bootstrap(env: dict[str, str], email: str) -> Tenant:
    result = run(env, "bootstrap", "--email", email, "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return Tenant(api_key=data["api_key"], project_id=data["project_id"], project_token=data["project_token"])


@pytest.fixture(scope="module")
def server(database_url: str, engine: Any) -> Iterator[Server]:
    if not database_url.startswith("postgresql"):
        pytest.skip("runs `hogflows serve` on the PostgreSQL scratch database")
    # Tenant B's probes across the module go past the per-key burst limit, which has tests of its own.
    env = base_env(DATABASE_URL=database_url, HOGFLOWS_API_RATE_LIMIT_BURST="", HOGFLOWS_API_RATE_LIMIT_SUSTAINED="")
    attacker = _bootstrap(env, "mallory@example.com")
    victim = _bootstrap(env, "victor@example.com")
    with serving(env) as process:
        served = Server(process.base_url, process, attacker, victim)
        _warm_up(served)
        yield served


def _warm_up(server: Server) -> None:
    """One request per route the tests use: FastAPI builds a route's state on its first match, which
    holds the event loop for a few hundred milliseconds whatever the request (not what is measured)."""
    flows, headers = server.attacker.flows(server.base), server.attacker.headers
    with httpx.Client(timeout=60) as client:
        client.get(flows, headers=headers)
        client.post(flows, json={}, headers=headers)
        client.post(f"{flows}new/invocations/", json={}, headers=headers)
        client.post(f"{flows}user_blast_radius/", json={}, headers=headers)
        client.post(f"{server.base}/api/projects/{server.attacker.project_id}/persons/", json={}, headers=headers)
        client.post(f"{server.base}/public/webhooks/00000000-0000-0000-0000-000000000000", json={})


class Victim:
    """Tenant B's client: simple list requests in a loop, each latency recorded."""

    def __init__(self, server: Server) -> None:
        self.url = server.victim.flows(server.base)
        self.headers = server.victim.headers
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get(self.url, headers=self.headers)
                except httpx.HTTPError as error:
                    self.errors.append(repr(error))
                    continue
                self.latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                self._stop.wait(0.005)

    def __enter__(self) -> "Victim":
        self._thread.start()
        # Warm up: the victim's own first requests are not what is measured.
        deadline = time.monotonic() + 10
        while len(self.latencies) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.latencies.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def attack(
    server: Server, send: Callable[[httpx.Client], httpx.Response], answer_within: float | None = None
) -> httpx.Response:
    """Send the hostile request while B works; the answer of the first attempt that meets every bound (the answer
    within `answer_within` seconds, B's p99 and worst latency). A stall the request causes misses them on
    every attempt; a machine busy with other work misses them only now and then, so up to `ATTEMPTS`."""
    misses: list[str] = []
    for _ in range(ATTEMPTS):
        with Victim(server) as victim, httpx.Client(timeout=120) as client:
            started = time.perf_counter()
            response = send(client)
            elapsed = time.perf_counter() - started
            time.sleep(max(0.0, VICTIM_WINDOW_SECONDS - elapsed))
            while len(victim.latencies) < VICTIM_SAMPLES and time.perf_counter() - started < VICTIM_MAX_WINDOW_SECONDS:
                time.sleep(0.05)
        assert not victim.errors, victim.errors[:3]
        assert victim.latencies, "the victim's requests never completed"
        assert server.alive(), "the server process died"
        # p99 forgives one slow request in a hundred; a stall of a second forgives none.
        if (
            (answer_within is None or elapsed < answer_within)
            and victim.p99 < VICTIM_P99_SECONDS
            and max(victim.latencies) < VICTIM_MAX_SECONDS
        ):
            return response
        misses.append(
            f"answer in {elapsed * 1000:.0f} ms; tenant B's p99 {victim.p99 * 1000:.0f} ms, "
            f"worst {max(victim.latencies) * 1000:.0f} ms, median {statistics.median(victim.latencies) * 1000:.0f} ms "
            f"over {len(victim.latencies)} requests"
        )
    raise AssertionError(f"no attempt met the bounds during the attack: {misses}")


def webhook_step_flow(template: str, *, status: str = "draft") -> dict[str, Any]:
    return {
        "name": "hostile",
        "status": status,
        "actions": [
            {"id": "trigger", "name": "t", "type": "trigger", "config": {"type": "schedule"}},
            {
                "id": "hook",
                "name": "hook",
                "type": "function",
                "config": {
                    "template_id": "template-webhook",
                    "inputs": {"url": {"value": "https://example.com/"}, "body": {"value": {"x": template}}},
                },
            },
            {"id": "exit", "name": "exit", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "hook", "type": "continue"},
            {"from": "hook", "to": "exit", "type": "continue"},
        ],
    }


# Issue 11's crash and stall forms, at 10x the sizes it gives.
HOSTILE_TEMPLATES = {
    "lambdas": "{" + "x -> " * 100_000 + "1}",
    "f-strings": "{" + "f'{" * 64_000 + "1" + "}'" * 64_000 + "}",
    "ternaries": "{" + "true ? 1 : " * 49_000 + "1}",
    "index chain": "{event" + "[1]" * 95_000 + "}",
    "sum": "{" + "+".join(["1"] * 150_000) + "}",
    "member chain": "{event" + ".a" * 7_000 + "}",
    "not": "{" + "not " * 1_500 + "1}",
    # Under the size bound: the depth and chain bounds must catch these by themselves.
    "lambdas 1x": "{" + "x -> " * 10_000 + "1}",
    "index chain 1x": "{event" + "[1]" * 9_500 + "}",
    "sum 1x": "{" + "+".join(["1"] * 15_000) + "}",
}


@pytest.mark.parametrize("form", list(HOSTILE_TEMPLATES))
def test_hostile_template_in_a_draft_is_refused_quickly(server: Server, form: str) -> None:
    body = webhook_step_flow(HOSTILE_TEMPLATES[form])
    flows = server.attacker.flows(server.base)
    response = attack(server, lambda client: client.post(flows, json=body, headers=server.attacker.headers), 1.0)
    assert response.status_code == 400, response.text[:500]
    error = response.json()
    assert error["type"] == "validation_error" and error["attr"] == "actions__1__inputs__body"
    assert "Invalid template" in error["detail"]


def test_hostile_template_in_an_invocation_configuration_is_refused_quickly(server: Server) -> None:
    url = f"{server.attacker.flows(server.base)}new/invocations/"
    body = {
        "configuration": webhook_step_flow("{" + "not " * 1_500 + "1}"),
        "globals": {"event": {"event": "$pageview", "properties": {}}},
        "current_action_id": "hook",
    }
    response = attack(server, lambda client: client.post(url, json=body, headers=server.attacker.headers), 1.0)
    assert response.status_code == 400, response.text[:500]


def test_thirty_sleeping_inputs_share_one_bounded_budget(server: Server) -> None:
    url = f"{server.attacker.flows(server.base)}new/invocations/"
    flow = webhook_step_flow("x")
    flow["actions"][1]["config"]["inputs"]["body"] = {"value": {f"k{i}": "{sleep(0.9)}" for i in range(30)}}
    body = {
        "configuration": flow,
        "globals": {"event": {"event": "$pageview", "properties": {}}},
        "current_action_id": "hook",
    }
    response = attack(server, lambda client: client.post(url, json=body, headers=server.attacker.headers), 2.0)
    assert response.status_code == 200, response.text[:500]
    result = response.json()
    assert result["status"] == "error"
    assert any("sleep() is not available here" in str(log.get("message")) for log in result["logs"]), result["logs"]


def test_unauthenticated_webhook_whose_inputs_sleep_is_bounded(server: Server) -> None:
    flows = server.attacker.flows(server.base)
    flow = {
        "name": "sleepy source",
        "status": "active",
        "actions": [
            {
                "id": "trigger",
                "name": "trigger",
                "type": "trigger",
                "config": {
                    "type": "webhook",
                    "template_id": "template-source-webhook",
                    "inputs": {"event": {"value": "{sleep(4.9)}"}, "distinct_id": {"value": "{sleep(4.9)}"}},
                },
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
    }
    created = httpx.post(flows, json=flow, headers=server.attacker.headers, timeout=30)
    assert created.status_code == 201, created.text
    hook = f"{server.base}/public/webhooks/{created.json()['id']}"
    response = attack(server, lambda client: client.post(hook, json={"event": "x", "distinct_id": "y"}), 1.5)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Error triggering flow"


def test_catastrophic_regex_in_blast_radius_is_bounded(server: Server) -> None:
    persons = f"{server.base}/api/projects/{server.attacker.project_id}/persons/"
    batch = {
        "persons": [{"distinct_id": f"p{i}", "properties": {"plan": "x" * 30 if i % 2 else None}} for i in range(50)]
    }
    assert httpx.post(persons, json=batch, headers=server.attacker.headers, timeout=30).status_code in (200, 201)
    url = f"{server.attacker.flows(server.base)}user_blast_radius/"
    hostile = {"key": "plan", "value": "(.*){200}(.*){200}b", "operator": "regex", "type": "person"}
    body = {"filters": {"properties": [hostile]}}
    response = attack(server, lambda client: client.post(url, json=body, headers=server.attacker.headers), 2.0)
    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in ("affected", "total")} == {"affected": 0, "total": 50}


def test_a_big_ordinary_template_is_compiled_in_a_parse_process(server: Server) -> None:
    template = "<p>Hi {person.properties.first_name},</p>" + "<li>{event.properties.item}</li>" * 100
    body = webhook_step_flow(template, status="active")
    flows = server.attacker.flows(server.base)
    response = attack(server, lambda client: client.post(flows, json=body, headers=server.attacker.headers))
    assert response.status_code == 201, response.text[:500]
    compiled = response.json()["actions"][1]["config"]["inputs"]["body"]["bytecode"]["x"]
    assert compiled[:2] == ["_H", 1]


# A `hogql` property filter with a lambda over a range: the fast path cannot take it, and on the VM
# it runs into the trigger filter's 100 ms limit every time.
SLOW_FILTER = {"type": "hogql", "key": "arrayCount(x -> x % 7 = 3, range(20000)) > 0"}
SLOW_FLOWS = 10
HAMMER_CONNECTIONS = 4
HAMMER_SECONDS = 2.0


def slow_filter_flow(index: int) -> dict[str, Any]:
    return {
        "name": f"slow filter {index}",
        "status": "active",
        "actions": [
            {
                "id": "trigger",
                "name": "trigger",
                "type": "trigger",
                "config": {
                    "type": "event",
                    "filters": {"events": [{"id": "$pageview", "type": "events"}], "properties": [SLOW_FILTER]},
                },
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
    }


def test_capture_against_slow_trigger_filters_does_not_hold_the_loop(server: Server) -> None:
    flows = server.attacker.flows(server.base)
    for index in range(SLOW_FLOWS):
        created = httpx.post(flows, json=slow_filter_flow(index), headers=server.attacker.headers, timeout=30)
        assert created.status_code == 201, created.text
    batch = {
        "api_key": server.attacker.project_token,
        "batch": [{"event": "$pageview", "distinct_id": f"u{i}", "properties": {}} for i in range(5)],
    }
    answers: list[int] = []

    def hammer(client: httpx.Client) -> httpx.Response:
        """Several connections post batches that name every slow flow, for `HAMMER_SECONDS`."""
        deadline = time.monotonic() + HAMMER_SECONDS

        def connection() -> None:
            with httpx.Client(timeout=120) as own:
                while time.monotonic() < deadline:
                    answers.append(own.post(f"{server.base}/batch/", json=batch).status_code)

        threads = [threading.Thread(target=connection) for _ in range(HAMMER_CONNECTIONS - 1)]
        for thread in threads:
            thread.start()
        response = client.post(f"{server.base}/batch/", json=batch)
        while time.monotonic() < deadline:
            response = client.post(f"{server.base}/batch/", json=batch)
        for thread in threads:
            thread.join(timeout=120)
        return response

    response = attack(server, hammer)
    assert response.status_code == 200, response.text
    assert answers and set(answers) == {200}
