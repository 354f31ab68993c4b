"""Webhook, manual and tracking-pixel triggers (executor.md §3.5): an HTTP request becomes a trigger event.

The trigger's compiled inputs (`config.inputs.<key>.bytecode`, in `order`) run in the VM with the
request globals `{request: {method, headers, body, query, ip, stringBody}, source: {url}, project,
event, inputs}`. Then the checks of PostHog's source templates, done here in Python:

* `template-source-webhook` (webhook, manual, schedule): wrong method → 405 `Method not allowed`;
  `auth_header` set and different from the `Authorization` header → 401 `Unauthorized`; empty
  `event` or `distinct_id` → 400 `{"error": ...}`; otherwise the event is captured.
* `template-source-webhook-pixel` (tracking_pixel): captures when both are set; always a 1x1 GIF.

Inputs missing from the flow fall back to the template's defaults (e.g. `method` → `POST`,
`event` → `{request.body.event}`). The run keeps the request: `state.request` holds
`{method, headers, body, query, ip}` (without `authorization` and `cookie`), and the parsed body is
also in the trigger event as `properties.$request_body` (unless the `properties` input sets that key),
so later steps can template `{event.properties.$request_body.x}`. `$variables` in a JSON body
override the flow's variable defaults.
"""

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

import structlog

from app.db.base import uuid7
from app.engine.templates import TEMPLATES, get_template
from app.engine.templates.base import template_bytecode
from app.hog import Limits, execute, from_hog_value, parse_pool
from app.hog.budget import bounded
from app.hog.parser import HogSyntaxError
from app.hog.templates import compile_template
from app.ingest.events import MAX_DISTINCT_ID, iso_timestamp
from app.ingest.sanitize import UnstorableValue, storable

logger = structlog.get_logger(__name__)

WEBHOOK_TRIGGER_TYPES = frozenset({"webhook", "manual", "tracking_pixel", "schedule"})
PIXEL_TEMPLATE = "template-source-webhook-pixel"
WEBHOOK_TEMPLATE = "template-source-webhook"
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
# An unauthenticated request runs these inputs: all of them together get `SOURCE_BUDGET_SECONDS`
# (the caller runs `run_source` in a thread under that budget), and none may pause or sleep.
SOURCE_LIMITS = Limits(timeout_s=1.0, max_async_steps=0)
SOURCE_BUDGET_SECONDS = 1.0
# Not kept in a run's state: credentials and forwarding details.
_PRIVATE_HEADERS = frozenset({"authorization", "cookie", "x-forwarded-for", "x-real-ip", "forwarded"})


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    headers: dict[str, str]  # lower-case names
    body: Any
    string_body: str
    query: dict[str, str]
    ip: str | None
    url: str

    def globals(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "headers": self.headers,
            "body": self.body,
            "stringBody": self.string_body,
            "query": self.query,
            "ip": self.ip,
        }

    def stored(self) -> dict[str, Any]:
        headers = {name: value for name, value in self.headers.items() if name not in _PRIVATE_HEADERS}
        return {"method": self.method, "headers": headers, "body": self.body, "query": self.query, "ip": self.ip}


@dataclass(frozen=True)
class SourceOutcome:
    """What the request answers, and the trigger event when one was captured."""

    status: int
    body: Any = None
    content_type: str = "application/json"
    event: dict[str, Any] | None = None
    variables: dict[str, Any] = field(default_factory=dict)


class InvalidBody(ValueError):
    pass


def parse_body(raw: bytes, content_type: str) -> Any:
    """JSON or form bodies become objects; anything else is only available as `stringBody`."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return storable({key: values[0] if len(values) == 1 else values for key, values in form.items()})
    if not raw.strip():
        return {}
    is_json = kind == "application/json" or kind.endswith("+json")
    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        if is_json:
            raise InvalidBody(str(error)) from error
        return {}
    try:
        return storable(parsed)
    except UnstorableValue as error:
        raise InvalidBody(str(error)) from error


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def source_template_id(trigger: Mapping[str, Any]) -> str:
    return PIXEL_TEMPLATE if trigger.get("type") == "tracking_pixel" else WEBHOOK_TEMPLATE


@lru_cache(maxsize=64)
def _compiled_default(default_json: str) -> Any:
    return compile_template(json.loads(default_json))


def warm_up() -> None:
    """Compile every template's code and every source template's defaults now, not on a first request.

    A first parse of a kind of expression warms the C++ parser's caches and holds the GIL for up to a
    few hundred milliseconds, and the parse processes take seconds to start: a server does both once at
    startup, before it takes traffic.
    """
    try:
        parse_pool.start()
        for template in TEMPLATES.values():
            if template.hog:
                template_bytecode(template)
        for template_id in (WEBHOOK_TEMPLATE, PIXEL_TEMPLATE):
            _inputs_in_order({}, template_id)
    except (parse_pool.ParseProcessError, HogSyntaxError) as exc:
        # Only a machine too loaded to start or time the parse processes gets here: nothing is cached
        # from a failure, so what was not warmed compiles on first use instead of the server not starting.
        logger.warning("template_warm_up_incomplete", error=str(exc))


def _inputs_in_order(trigger: Mapping[str, Any], template_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The flow's inputs by `order`, then template defaults for keys the flow does not set."""
    configured = trigger.get("inputs")
    inputs = {key: value for key, value in (configured or {}).items() if isinstance(value, dict)}
    ordered = sorted(inputs.items(), key=lambda item: item[1].get("order", 1_000_000))
    template = get_template(template_id)
    for item in template.inputs_schema if template else []:
        if item["key"] not in inputs and "default" in item:
            ordered.append((item["key"], {"bytecode": _compiled_default(json.dumps(item["default"]))}))
    return ordered


def _is_bytecode(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and value[0] in ("_H", "_h")


def _render(compiled: Any, globals: dict[str, Any]) -> Any:
    if _is_bytecode(compiled):
        outcome = execute(compiled, globals, async_functions=(), limits=bounded(SOURCE_LIMITS))
        if not outcome.finished:
            raise RuntimeError("Inputs may not call async functions")
        return from_hog_value(outcome.result)
    if isinstance(compiled, dict):
        return {key: _render(value, globals) for key, value in compiled.items()}
    if isinstance(compiled, list):
        return [_render(value, globals) for value in compiled]
    return compiled


def resolve_inputs(trigger: Mapping[str, Any], globals: dict[str, Any]) -> dict[str, Any]:
    """Each input sees the ones before it as `inputs.<key>`. Raises when an input fails to render."""
    resolved: dict[str, Any] = {}
    for key, entry in _inputs_in_order(trigger, source_template_id(trigger)):
        compiled = entry["bytecode"] if "bytecode" in entry else entry.get("value")
        resolved[key] = _render(compiled, {**globals, "inputs": dict(resolved)})
    return resolved


def _text(value: Any) -> str:
    if value is None or value is False:
        return ""
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def run_source(
    trigger: Mapping[str, Any], request: IncomingRequest, project: dict[str, Any], now: datetime
) -> SourceOutcome:
    """Render the inputs and apply the source template's checks. Raises when the inputs cannot render."""
    incoming = {
        "uuid": str(uuid7()),
        "event": "$incoming_webhook",
        "distinct_id": _text(request.body.get("distinct_id")) if isinstance(request.body, dict) else "",
        "properties": {},
        "elements_chain": "",
        "timestamp": iso_timestamp(now),
        "url": "",
    }
    globals = {"request": request.globals(), "source": {"url": request.url}, "project": project, "event": incoming}
    inputs = resolve_inputs(trigger, globals)
    is_pixel = source_template_id(trigger) == PIXEL_TEMPLATE
    if not is_pixel:
        expected_method = _text(inputs.get("method")).upper() or "POST"
        if request.method.upper() != expected_method:
            return SourceOutcome(405, "Method not allowed", "text/plain")
        auth_header = _text(inputs.get("auth_header"))
        if auth_header and auth_header != request.headers.get("authorization"):
            return SourceOutcome(401, "Unauthorized", "text/plain")
    event_name, distinct_id = _text(inputs.get("event")), _text(inputs.get("distinct_id"))
    if is_pixel and not (event_name and distinct_id):
        return SourceOutcome(200, PIXEL_GIF, "image/gif")
    if not event_name:
        return SourceOutcome(400, {"error": '"event" could not be parsed correctly'})
    if not distinct_id:
        return SourceOutcome(400, {"error": '"distinct_id" could not be parsed correctly'})
    if len(distinct_id) > MAX_DISTINCT_ID:
        return SourceOutcome(400, {"error": f'"distinct_id" must be at most {MAX_DISTINCT_ID} characters'})
    properties = inputs.get("properties")
    properties = dict(properties) if isinstance(properties, dict) else {}
    properties.setdefault("$request_body", request.body)
    # Inputs may compute anything; what reaches the run's state must be storable (raises otherwise).
    event = storable(
        {
            **incoming,
            "uuid": str(uuid7()),
            "event": event_name[:200],
            "distinct_id": distinct_id,
            "properties": properties,
        }
    )
    variables = request.body.get("$variables") if isinstance(request.body, dict) else None
    if is_pixel:
        return SourceOutcome(200, PIXEL_GIF, "image/gif", event=event)
    return SourceOutcome(
        200, {"status": "ok"}, event=event, variables=dict(variables) if isinstance(variables, dict) else {}
    )
