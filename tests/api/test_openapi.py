"""The OpenAPI document describes every route and the nested flow objects; Swagger UI is served."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


async def test_swagger_ui(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text


async def test_every_route_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for prefix in ("/api/environments/{team_id}", "/api/projects/{team_id}"):
        collection = spec["paths"][f"{prefix}/hog_flows/"]
        detail = spec["paths"][f"{prefix}/hog_flows/{{flow_id}}/"]
        assert set(collection) == {"get", "post"}
        assert set(detail) == {"get", "put", "patch", "delete"}
        assert "requestBody" in collection["post"]
        assert "201" in collection["post"]["responses"]
        assert "204" in detail["delete"]["responses"]
        for operation in (collection["get"], collection["post"], detail["get"], detail["patch"]):
            assert {"400", "401", "403"} <= set(operation["responses"])


async def test_nested_flow_objects_are_described(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    create = spec["paths"]["/api/environments/{team_id}/hog_flows/"]["post"]
    body = _resolve(spec, create["requestBody"]["content"]["application/json"]["schema"])
    action = _resolve(spec, body["properties"]["actions"]["items"])
    assert {"id", "name", "type", "config", "filters", "on_error", "output_variable"} <= set(action["properties"])
    filters_ref = next(option for option in action["properties"]["filters"]["anyOf"] if "$ref" in option)
    filters = _resolve(spec, filters_ref)
    assert {"events", "actions", "properties", "filter_test_accounts", "bytecode"} <= set(filters["properties"])
    masking_ref = next(o for o in body["properties"]["trigger_masking"]["anyOf"] if "$ref" in o)
    assert {"hash", "ttl", "threshold"} <= set(_resolve(spec, masking_ref)["properties"])
    variables = next(o for o in body["properties"]["variables"]["anyOf"] if o.get("type") == "array")
    assert variables["items"]["additionalProperties"] == {"type": "string"}
    response = _resolve(spec, create["responses"]["201"]["content"]["application/json"]["schema"])
    assert {"id", "created_by", "trigger", "billable_action_types"} <= set(response["properties"])


async def test_every_api_operation_has_request_and_response_schemas(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    api_paths = {path: ops for path, ops in spec["paths"].items() if path.startswith("/api/")}
    assert len(api_paths) >= 20
    for path, operations in api_paths.items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch"):
                assert "requestBody" in operation, (method, path)
            success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            assert success, (method, path)
            for code, response in success.items():
                if code != "204":
                    assert response["content"]["application/json"]["schema"], (method, path, code)


async def test_swagger_ui_assets_are_served_locally(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/swagger-ui/{asset}" in page
        response = await client.get(f"/static/swagger-ui/{asset}")
        assert response.status_code == 200 and len(response.content) > 10_000


async def test_bearer_scheme_errors_in_posthog_shape_and_no_422(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["PersonalAPIKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["PersonalAPIKey"]["description"],
    }
    assert set(spec["components"]["schemas"]["Error"]["required"]) == {"type", "code", "detail", "attr"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
            if path.startswith("/api/"):
                assert operation["security"] == [{"PersonalAPIKey": []}], (method, path)
            else:
                assert "security" not in operation, (method, path)
    detail = spec["paths"]["/api/projects/{team_id}/hog_flows/{flow_id}/"]["get"]["responses"]
    assert detail["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


async def test_flow_examples_are_accepted_as_they_are(client: httpx.AsyncClient, tenant: Tenant) -> None:
    spec = (await client.get("/openapi.json")).json()
    collection = spec["paths"]["/api/environments/{team_id}/hog_flows/"]["post"]
    detail = spec["paths"]["/api/environments/{team_id}/hog_flows/{flow_id}/"]
    create_examples = collection["requestBody"]["content"]["application/json"]["examples"]
    assert {"welcome", "every_action"} <= set(create_examples)
    url = f"/api/environments/{tenant.team_id}/hog_flows/"
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    created = {}
    for name, example in create_examples.items():
        response = await client.post(url, json=example["value"], headers=headers)
        assert response.status_code == 201, (name, response.text)
        created[name] = response.json()["id"]
        put = await client.put(f"{url}{created[name]}/", json=example["value"], headers=headers)
        assert put.status_code == 200, (name, put.text)
    types = {action["type"] for action in create_examples["every_action"]["value"]["actions"]}
    action_config = _resolve(
        spec,
        _resolve(spec, collection["requestBody"]["content"]["application/json"]["schema"])["properties"]["actions"][
            "items"
        ],
    )["properties"]["config"]
    assert len(action_config["examples"]) == len(types) == 11
    for name, example in detail["patch"]["requestBody"]["content"]["application/json"]["examples"].items():
        response = await client.patch(f"{url}{created['welcome']}/", json=example["value"], headers=headers)
        assert response.status_code == 200, (name, response.text)
    assert (await client.get(f"{url}{created['welcome']}/", headers=headers)).json()["status"] == "active"
