"""The OpenAPI document and Swagger UI, served offline.

Swagger UI's files come from the `swagger-ui-bundle-v2` package and are served by this process, so `/docs`
works without internet. The document gets what FastAPI cannot infer: the personal API key as a Bearer
scheme (Swagger's Authorize button), PostHog's error shape on documented errors, flow examples a client
can send as they are, and none of FastAPI's 422 responses (validation errors here are 400s).
"""

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from app.schemas.hog_flow_examples import ACTION_CONFIG_EXAMPLES, CREATE_EXAMPLES, PATCH_EXAMPLES

ASSETS = "/static/swagger-ui"
SECURITY_SCHEME = "PersonalAPIKey"
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "PostHog's error shape.",
    "properties": {
        "type": {"type": "string", "examples": ["validation_error"]},
        "code": {"type": "string", "examples": ["invalid_input"]},
        "detail": {"type": "string", "examples": ["This field is required."]},
        "attr": {"type": ["string", "null"], "examples": ["name"]},
    },
    "required": ["type", "code", "detail", "attr"],
}


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` from local assets and build the document below (create the app with docs_url=None)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = document(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API key (`phx_...`) from `hogflows bootstrap`.",
    }
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _document_operation(path, method, operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _describe_action_config(schemas)
    return schema


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if path.startswith("/api/"):
        operation["security"] = [{SECURITY_SCHEME: []}]
        for code, response in responses.items():
            if code.startswith("4") and "content" not in response:
                response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    if (path.endswith("/hog_flows/") and method == "post") or (
        path.endswith("/hog_flows/{flow_id}/") and method == "put"
    ):
        _set_examples(operation, CREATE_EXAMPLES)
    elif path.endswith("/hog_flows/{flow_id}/") and method == "patch":
        _set_examples(operation, PATCH_EXAMPLES)


def _set_examples(operation: dict[str, Any], examples: dict[str, Any]) -> None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        content["examples"] = examples


def _describe_action_config(schemas: dict[str, Any]) -> None:
    """Each action type's config, in the action schema where a client looks for it."""
    lines = "\n".join(f"- `{kind}`: `{_compact(config)}`" for kind, config in ACTION_CONFIG_EXAMPLES.items())
    for component in schemas.values():
        config = component.get("properties", {}).get("config")
        if config is not None and "type" in component.get("properties", {}) and "on_error" in component["properties"]:
            config["description"] = f"Per-type configuration. One example per action type:\n\n{lines}"
            config["examples"] = list(ACTION_CONFIG_EXAMPLES.values())


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
