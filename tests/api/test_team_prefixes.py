"""`/api/projects/{team_id}/…` and `/api/environments/{team_id}/…`: the same answers for the same routing work."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flow_payload, flows_url

PREFIXES = ("environments", "projects")


@pytest.fixture
def route_tries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The path of every route FastAPI tries a request on."""
    tried: list[str] = []
    matches = APIRoute.matches

    def counted(route: APIRoute, scope: Any) -> Any:
        tried.append(route.path)
        return matches(route, scope)

    monkeypatch.setattr(APIRoute, "matches", counted)
    yield tried


def _requests(tenant: Tenant, flow_id: str, prefix: str) -> list[str]:
    flows = flows_url(tenant, prefix)
    return [f"{flows}{flow_id}/", f"{flows}?limit=1", f"{flows}?status=bogus", f"{flows}not-a-flow/"]


async def test_a_project_path_is_tried_on_no_more_routes(
    client: httpx.AsyncClient, tenant: Tenant, route_tries: list[str]
) -> None:
    flow_id = (await client.post(flows_url(tenant), json=flow_payload(), headers=auth(tenant))).json()["id"]
    tries: dict[str, list[int]] = {}
    for prefix in PREFIXES:
        for url in _requests(tenant, flow_id, prefix):
            route_tries.clear()
            await client.get(url, headers=auth(tenant))
            tries.setdefault(prefix, []).append(len(route_tries))
    assert tries["projects"] == tries["environments"], tries


async def test_both_prefixes_answer_alike(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for _ in range(2):
        created = await client.post(flows_url(tenant, "projects"), json=flow_payload(), headers=auth(tenant))
        assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    answers: dict[str, list[tuple[int, Any]]] = {}
    for prefix in PREFIXES:
        for url in _requests(tenant, flow_id, prefix):
            response = await client.get(url, headers=auth(tenant))
            # A list's `next` link is the request's own URL.
            body = response.text.replace(f"/api/{prefix}/", "/api/{prefix}/")
            answers.setdefault(prefix, []).append((response.status_code, body))
    assert answers["projects"] == answers["environments"]
    assert [status for status, _ in answers["projects"]] == [200, 200, 400, 404]
