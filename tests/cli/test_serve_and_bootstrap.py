"""The `hogflows` command end to end: bootstrap, then serve on the embedded default, then the API."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import base_env, run, serving


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    return base_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")


@pytest.fixture
def server(embedded_env: dict[str, str]) -> Iterator[str]:
    with serving(embedded_env) as served:
        yield served.base_url


def test_bootstrap_json(embedded_env: dict[str, str]) -> None:
    result = run(embedded_env, "bootstrap", "--email", "ada@example.com", "--json")
    assert result.returncode == 0, result.stderr
    tenant = json.loads(result.stdout)
    assert tenant["api_key"].startswith("phx_")
    assert tenant["project_token"].startswith("phc_")
    assert isinstance(tenant["team_id"], int) and isinstance(tenant["project_id"], int)
    assert tenant["organization_id"]
    assert tenant["email"] == "ada@example.com"


def test_walkthrough_against_a_served_embedded_instance(embedded_env: dict[str, str], server: str) -> None:
    tenant = json.loads(run(embedded_env, "bootstrap", "--json").stdout)
    headers = {"Authorization": f"Bearer {tenant['api_key']}"}
    flows = f"{server}/api/projects/{tenant['project_id']}/hog_flows/"
    flow = {
        "name": "Welcome",
        "actions": [
            {"id": "trigger", "name": "Scheduled", "type": "trigger", "config": {"type": "schedule"}},
            {"id": "wait", "name": "Wait", "type": "delay", "config": {"delay_duration": "1h"}},
            {"id": "exit", "name": "Exit", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "wait", "type": "continue"},
            {"from": "wait", "to": "exit", "type": "continue"},
        ],
    }
    created = httpx.post(flows, json=flow, headers=headers)
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    assert httpx.get(flows, headers=headers).json()["count"] == 1
    activated = httpx.patch(f"{flows}{flow_id}/", json={"status": "active"}, headers=headers)
    assert activated.json()["status"] == "active"
    assert httpx.delete(f"{flows}{flow_id}/", headers=headers).status_code == 204
    assert httpx.get(f"{server}/openapi.json").status_code == 200


def test_migrate_is_idempotent(embedded_env: dict[str, str]) -> None:
    for _ in range(2):
        result = run(embedded_env, "migrate")
        assert result.returncode == 0, result.stderr
