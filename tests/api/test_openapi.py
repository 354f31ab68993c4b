"""The OpenAPI document describes every route and the nested flow objects; Swagger UI is served."""

from typing import Any

import httpx


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
