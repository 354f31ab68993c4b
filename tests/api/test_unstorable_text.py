"""NUL and lone surrogates, probed on every route and parameter of the OpenAPI document: 400, never 500.

PostgreSQL cannot store either, so before the fix most of these probes reached the database and answered 500.
"""

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.batch_helpers import batch_flow, create_flow, schedules_url
from tests.api.helpers import SLACK, auth, integrations_url

NUL = "a\x00b"
SURROGATE = "a\ud800b"
PREFIX = "/api/environments/{team_id}"


@dataclass
class Ids:
    team_id: int
    flow_id: str
    schedule_id: str
    integration_id: str
    person_id: str = "00000000-0000-0000-0000-000000000001"
    run_id: str = "00000000-0000-0000-0000-000000000002"
    invocation_id: str = "00000000-0000-0000-0000-000000000004"
    job_id: str = "00000000-0000-0000-0000-000000000003"
    template_id: str = "template-webhook"
    version: int = 1

    def fill(self, path: str) -> str:
        return path.format(**self.__dict__)


@pytest.fixture
async def ids(client: httpx.AsyncClient, tenant: Tenant) -> Ids:
    flow_id = await create_flow(client, tenant, batch_flow())
    body = {"rrule": "FREQ=DAILY", "starts_at": "2024-01-01T00:00:00Z", "timezone": "UTC"}
    schedule = await client.post(schedules_url(tenant, flow_id), json=body, headers=auth(tenant))
    assert schedule.status_code == 201, schedule.text
    integration = await client.post(integrations_url(tenant), json=SLACK, headers=auth(tenant))
    assert integration.status_code == 201, integration.text
    return Ids(tenant.team_id, flow_id, str(schedule.json()["id"]), str(integration.json()["id"]))


async def operations(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(method, path, operation, components) of every API operation (one of the two equal prefixes)."""
    spec = (await client.get("/openapi.json")).json()
    found = []
    for path, item in spec["paths"].items():
        if not path.startswith(PREFIX):
            continue
        for method, operation in item.items():
            found.append((method.upper(), path, operation, spec.get("components", {}).get("schemas", {})))
    return found


def body_properties(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    """Top-level properties of the JSON body, `$ref`, `allOf` and `anyOf` followed."""
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    names: list[str] = []
    pending = [schema]
    while pending:
        current = pending.pop()
        if "$ref" in current:
            pending.append(components[current["$ref"].rsplit("/", 1)[1]])
        pending.extend(current.get("allOf", []) + current.get("anyOf", []) + current.get("oneOf", []))
        names.extend(name for name in current.get("properties", {}) if name not in names)
    return names


async def send_json(
    client: httpx.AsyncClient, method: str, url: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    """JSON with `\\u` escapes, as a browser sends it: httpx cannot encode a lone surrogate to UTF-8."""
    headers = {**(headers or {}), "Content-Type": "application/json"}
    return await client.request(method, url, content=json.dumps(body), headers=headers)


def assert_refused(response: httpx.Response, attr: str, code: str, probe: str) -> None:
    assert response.status_code == 400, f"{probe}: {response.status_code} {response.text}"
    body = response.json()
    assert body["type"] == "validation_error", probe
    assert body["code"] == code, f"{probe}: {body}"
    assert body["attr"] == attr, f"{probe}: {body}"


async def test_every_query_parameter_refuses_nul(client: httpx.AsyncClient, tenant: Tenant, ids: Ids) -> None:
    probes = 0
    for method, path, operation, _ in await operations(client):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            name = parameter["name"]
            probe = f"{method} {path}?{name}=<NUL>"
            response = await client.request(method, ids.fill(path), params={name: NUL}, headers=auth(tenant))
            assert_refused(response, name, "null_characters_not_allowed", probe)
            probes += 1
    assert probes >= 30  # the document lists them all; a route losing its parameters shows here


@pytest.mark.parametrize(
    ("value", "code", "attr_suffix"),
    [
        (NUL, "null_characters_not_allowed", ""),
        (SURROGATE, "surrogate_characters_not_allowed", ""),
        ({"nested": [1, NUL]}, "null_characters_not_allowed", "__nested__1"),
        ({NUL: "key"}, "null_characters_not_allowed", "__ab"),
    ],
)
async def test_every_body_field_refuses_unstorable_text(
    client: httpx.AsyncClient, tenant: Tenant, ids: Ids, value: Any, code: str, attr_suffix: str
) -> None:
    probes = 0
    for method, path, operation, components in await operations(client):
        names = body_properties(operation, components)
        if "requestBody" not in operation and "invocations" not in path:
            continue
        for name in names or ["configuration", "globals"]:
            probe = f"{method} {path} {{{name}: {value!r}}}"
            response = await send_json(client, method, ids.fill(path), {name: value}, auth(tenant))
            assert_refused(response, name + attr_suffix, code, probe)
            probes += 1
    assert probes >= 25


async def test_a_refusal_changes_nothing_and_deep_paths_are_named(
    client: httpx.AsyncClient, tenant: Tenant, ids: Ids
) -> None:
    url = f"/api/environments/{tenant.team_id}/hog_flows/{ids.flow_id}/"
    before = (await client.get(url, headers=auth(tenant))).json()
    patch = {"name": "renamed", "actions": [{"id": "x", "config": {"inputs": {"url": {"value": SURROGATE}}}}]}
    response = await send_json(client, "PATCH", url, patch, auth(tenant))
    assert response.json() == {
        "type": "validation_error",
        "code": "surrogate_characters_not_allowed",
        "detail": "Surrogate characters are not allowed: U+D800.",
        "attr": "actions__0__config__inputs__url__value",
    }
    assert (await client.get(url, headers=auth(tenant))).json() == before
    # Escaped text that is storable passes: a real NUL-free body still works.
    ok = await client.patch(url, json={"name": "caf\u00e9 \U0001f600"}, headers=auth(tenant))
    assert ok.status_code == 200 and ok.json()["name"] == "caf\u00e9 \U0001f600"


async def test_public_webhook_and_capture_never_answer_500(client: httpx.AsyncClient, tenant: Tenant, ids: Ids) -> None:
    # Senders of public webhooks and events are not our clients: their text is stored with U+FFFD instead.
    response = await send_json(client, "POST", f"/public/webhooks/{ids.flow_id}?q=%00", {"x": NUL, "y": SURROGATE})
    assert response.status_code < 500, response.text
    for path in ("/capture/", "/batch/", "/e/", "/i/v0/e/"):
        event = {"event": NUL, "distinct_id": SURROGATE, "properties": {NUL: SURROGATE, "$set": {"a": NUL}}}
        body = {"api_key": tenant.project_token, "batch": [event], **event}
        response = await send_json(client, "POST", path, body)
        assert response.status_code < 500, f"{path}: {response.status_code} {response.text}"


async def test_options_lists_the_methods_of_the_path(client: httpx.AsyncClient, tenant: Tenant, ids: Ids) -> None:
    spec = (await client.get("/openapi.json")).json()
    checked = 0
    for path, item in spec["paths"].items():
        if not path.startswith(PREFIX):
            continue
        response = await client.options(ids.fill(path), headers=auth(tenant))
        assert response.status_code == 200, f"OPTIONS {path}: {response.status_code} {response.text}"
        allowed = {method.strip() for method in response.headers["allow"].split(",")}
        expected = {method.upper() for method in item} | {"OPTIONS"}
        assert allowed - {"HEAD"} == expected, path
        checked += 1
    assert checked >= 15
    assert (await client.options("/api/environments/1/nothing_here/")).status_code == 404
    # Capture keeps its CORS preflight.
    preflight = await client.options("/capture/", headers={"Origin": "https://example.com"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://example.com"


async def test_a_405_names_every_method_of_the_path(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.put(f"/api/environments/{tenant.team_id}/hog_flows", headers=auth(tenant))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, HEAD, OPTIONS"


async def test_numbers_past_postgresqls_integers_never_reach_a_query(
    client: httpx.AsyncClient, tenant: Tenant, ids: Ids
) -> None:
    huge = "99999999999999999999"
    base = f"/api/environments/{tenant.team_id}"
    expectations = {
        "/api/environments/99999999999/hog_flows/": 404,
        f"{base}/integrations/99999999999/": 404,
        f"{base}/hog_flows/{ids.flow_id}/revisions/137438953473/": 404,
        f"{base}/hog_flows/?offset={huge}": 200,
        f"{base}/hog_flows/?limit={huge}": 200,
        f"{base}/persons/?offset={huge}": 200,
        f"{base}/hog_flows/{ids.flow_id}/runs/?offset={huge}": 200,
        f"{base}/hog_flows/{ids.flow_id}/logs/?offset={huge}": 200,
        f"{base}/hog_flows/?created_by=99999999999": 400,
    }
    for url, status in expectations.items():
        response = await client.get(url, headers=auth(tenant))
        assert response.status_code == status, f"{url}: {response.status_code} {response.text}"
