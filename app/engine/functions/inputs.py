"""The globals a function template runs with, and its inputs resolved in order (executor.md §6.2)."""

import asyncio
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

from app.engine.functions.calls import IntegrationResolver
from app.engine.functions.liquid import LiquidBudget, LiquidError, render_liquid
from app.engine.invocation import Invocation
from app.engine.messages import person_display_name
from app.engine.templates import FunctionTemplate, get_template
from app.hog import HogTimeoutError, HogVMError, Limits, execute, from_hog_value
from app.hog.budget import bounded, time_budget
from app.hog.fastpath import FastPathUnavailable, fast_program
from app.hog.templates import compile_template

# Inputs are small expressions: all of a step's inputs together get this much time (not each of
# them: thirty slow leaves must not add up to thirty seconds), run off the event loop unless brief.
INPUT_LIMITS = Limits(timeout_s=1.0, max_async_steps=0)
INPUT_BUDGET_SECONDS = 1.0
# Hog work first runs on the event loop for at most this long (see `briefly_inline`).
INLINE_SECONDS = 0.003

T = TypeVar("T")


async def briefly_inline(work: Callable[[], T], undo: Callable[[], None] | None = None) -> T:
    """Run Hog work on the event loop under a budget of `INLINE_SECONDS`; if it needs longer, undo what the
    attempt did and run it again in a thread, off the loop, under its full limits.

    Most inputs and templates take a fraction of a millisecond: a hop to a thread and back costs more
    than that. A program never changes its globals (the VM copies what it reads), so running it again
    gives the outcome it would have had; `undo` takes back what the caller's own callbacks recorded.
    `work` must cut its time limit with `app.hog.budget.bounded`, which reads the budget set here.
    """
    try:
        with time_budget(INLINE_SECONDS):
            return work()
    except Exception as error:
        # Out of time, as such or as the cause of the error the work reports it with (an input's).
        if not isinstance(error, HogTimeoutError) and not isinstance(error.__cause__, HogTimeoutError):
            raise
        if undo is not None:
            undo()
    return await asyncio.to_thread(work)


_BYTECODE_MARKERS = ("_H", "_h")
_EXTEND_OBJECT = "$$_extend_object"


class InputResolutionError(Exception):
    """An input could not be built; the step fails with `Error building inputs: <message>`."""


@dataclass
class FunctionGlobals:
    values: dict[str, Any]
    # Strings that must never appear in logs: secret inputs and integrations' sensitive config.
    secrets: list[str]


def event_url(invocation: Invocation, site_url: str) -> str:
    """The event's page in PostHog's UI (the event's own `url` when it has one)."""
    event = invocation.event
    if event.get("url"):
        return str(event["url"])
    uuid = _quote(str(event.get("uuid") or ""))
    timestamp = _quote(str(event.get("timestamp") or ""))
    return f"{site_url.rstrip('/')}/project/{invocation.team_id}/events/{uuid}/{timestamp}"


_UNRESERVED = string.ascii_letters + string.digits + "_.-~"
_ASCII_QUOTED = {code: f"%{code:02X}" for code in range(128) if chr(code) not in _UNRESERVED}


def _quote(text: str) -> str:
    """`quote(text, safe="")`, a tenth of its cost for ASCII text (uuids, timestamps, most distinct ids)."""
    return text.translate(_ASCII_QUOTED) if text.isascii() else quote(text, safe="")


def base_globals(invocation: Invocation, template: FunctionTemplate, site_url: str) -> dict[str, Any]:
    """`event`, `person`, `groups`, `project`, `source`, `variables` (inputs come next)."""
    team, flow = invocation.team_id, invocation.flow
    project_url = f"{site_url.rstrip('/')}/project/{team}"
    event = {**invocation.event, "url": event_url(invocation, site_url)}
    person = None
    if invocation.person:
        raw = invocation.person
        key = raw.get("distinct_id") or raw.get("id")
        person = {
            "id": raw.get("id"),
            "name": person_display_name(raw),
            "url": f"{project_url}/person/{_quote(str(key))}",
            "properties": dict(raw.get("properties") or {}),
        }
    return {
        "event": event,
        "person": person,
        "groups": dict(invocation.groups or {}),
        "project": {"id": team, "name": "", "url": ""},
        # PostHog builds `node` from the synthetic function's id, which is the flow id.
        "source": {
            "name": f"{flow.name or ''} - {template.name}",
            "url": f"{project_url}/workflows/{flow.id}/workflow?node={flow.id}",
        },
        "variables": dict(invocation.variables),
        "inputs": {},
    }


async def build_globals(
    invocation: Invocation,
    action: dict[str, Any],
    template: FunctionTemplate,
    *,
    site_url: str,
    integrations: IntegrationResolver | None,
) -> FunctionGlobals:
    """Globals with every input resolved in `order`, each visible to the later ones as `inputs.<key>`."""
    values = base_globals(invocation, template, site_url)
    config = action.get("config") or {}
    raw_inputs = config.get("inputs")
    if not isinstance(raw_inputs, dict):
        raw_inputs = {}
    secrets: list[str] = []
    entries = [(key, entry) for key, entry in raw_inputs.items() if isinstance(entry, dict)]
    if len(entries) > 1:
        entries.sort(key=_order)
    entries.extend(_omitted_defaults(template, raw_inputs))
    known = _template_inputs(template)
    # The action may mark more inputs secret in its own `inputs_schema` (as `secret_inputs` does for storage).
    own_schema = config.get("inputs_schema")
    secret_keys = known.secret_keys
    if isinstance(own_schema, list):
        secret_keys = secret_keys | {
            item.get("key") for item in own_schema if isinstance(item, dict) and item.get("secret") is True
        }
    with time_budget(INPUT_BUDGET_SECONDS):
        await _resolve_all(entries, known.schemas, values, invocation.team_id, integrations, secrets, secret_keys)
    return FunctionGlobals(values=values, secrets=[s for s in dict.fromkeys(secrets) if len(s) >= 4])


async def _resolve_all(
    entries: list[tuple[str, dict[str, Any]]],
    schemas: dict[str, dict[str, Any]],
    values: dict[str, Any],
    team_id: int,
    integrations: IntegrationResolver | None,
    secrets: list[str],
    secret_keys: "frozenset[Any] | set[Any]",
) -> None:
    liquid = LiquidBudget()

    def store(key: str, value: Any) -> None:
        if key in secret_keys:
            secrets.extend(_strings(value))
        values["inputs"][key] = value

    index = 0
    while index < len(entries):
        key, entry = entries[index]
        schema = schemas.get(key) or {}
        if not _plain_bytecode(entry, schema):
            store(key, await _resolve(key, entry, schema, values, team_id, integrations, secrets, liquid))
            index += 1
            continue
        # Consecutive inputs that are only Hog run in one go (each sees the earlier), inline when brief.
        end = index + 1
        while end < len(entries) and _plain_bytecode(entries[end][1], schemas.get(entries[end][0]) or {}):
            end += 1

        def evaluate_run(run: list[tuple[str, dict[str, Any]]] = entries[index:end]) -> None:
            for key, entry in run:
                store(key, _evaluate(key, entry["bytecode"], values))

        stored, secrets_before = dict(values["inputs"]), len(secrets)

        def undo(stored: dict[str, Any] = stored, secrets_before: int = secrets_before) -> None:
            values["inputs"] = stored
            del secrets[secrets_before:]

        await briefly_inline(evaluate_run, undo)
        index = end


def _plain_bytecode(entry: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An input `_resolve` would only evaluate as Hog (no integration to look up, no Liquid)."""
    return (
        schema.get("type") not in ("integration", "integration_multi")
        and entry.get("templating") != "liquid"
        and "bytecode" in entry
    )


def _order(item: tuple[str, dict[str, Any]]) -> Any:
    order = item[1].get("order")
    return order if isinstance(order, int) else -1


@dataclass(frozen=True)
class _TemplateInputs:
    schemas: dict[str, dict[str, Any]]  # by key: the first schema item with that key (`schema_for`)
    secret_keys: frozenset[Any]


def _template_inputs(template: FunctionTemplate) -> _TemplateInputs:
    """What `build_globals` reads of a template's inputs schema; worked out once per catalog template (templates
    are constants, by id, as in `_omitted_defaults`)."""
    if get_template(template.id) is not template:  # not from the catalog: nothing to cache it by
        return _inputs_of(template)
    return _catalog_inputs(template.id)


@lru_cache(maxsize=256)
def _catalog_inputs(template_id: str) -> _TemplateInputs:
    template = get_template(template_id)
    assert template is not None
    return _inputs_of(template)


def _inputs_of(template: FunctionTemplate) -> _TemplateInputs:
    schemas: dict[str, dict[str, Any]] = {}
    for item in template.inputs_schema:
        schemas.setdefault(item["key"], item)
    secret_keys = frozenset(
        item.get("key") for item in template.inputs_schema if isinstance(item, dict) and item.get("secret") is True
    )
    return _TemplateInputs(schemas, secret_keys)


def _omitted_defaults(template: FunctionTemplate, given: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Inputs left out of the step take the template's default (e.g. the webhook's JSON headers), as in
    PostHog; compiled once per template and set of omitted keys (templates are constants, by id)."""
    omitted = tuple(
        str(item["key"])
        for item in template.inputs_schema
        if item.get("key") not in given and item.get("default") is not None
    )
    if not omitted:
        return []
    if get_template(template.id) is not template:  # not from the catalog: nothing to cache it by
        return [(key, {"bytecode": compile_template((template.schema_for(key) or {})["default"])}) for key in omitted]
    return list(_catalog_defaults(template.id, omitted))


@lru_cache(maxsize=256)
def _catalog_defaults(template_id: str, keys: tuple[str, ...]) -> tuple[tuple[str, dict[str, Any]], ...]:
    template = get_template(template_id)
    assert template is not None
    return tuple((key, {"bytecode": compile_template((template.schema_for(key) or {})["default"])}) for key in keys)


async def _resolve(
    key: str,
    entry: dict[str, Any],
    schema: dict[str, Any],
    values: dict[str, Any],
    team_id: int,
    integrations: IntegrationResolver | None,
    secrets: list[str],
    liquid: LiquidBudget,
) -> Any:
    raw = entry.get("value")
    kind = schema.get("type")
    if kind == "integration":
        return await _integration(raw, team_id, integrations, secrets)
    if kind == "integration_multi" and isinstance(raw, list):
        return [await _integration(item, team_id, integrations, secrets) for item in raw]
    if entry.get("templating") == "liquid":
        try:
            return await asyncio.to_thread(render_liquid, raw, values, liquid)
        except LiquidError as error:
            raise InputResolutionError(f"{key}: {error}") from error
    if "bytecode" in entry:
        return await asyncio.to_thread(_evaluate, key, entry["bytecode"], values)
    return raw


async def _integration(
    raw: Any, team_id: int, integrations: IntegrationResolver | None, secrets: list[str]
) -> dict[str, Any] | None:
    """PostHog replaces an integration id by the integration's config plus its sensitive config."""
    if integrations is None or isinstance(raw, bool) or not isinstance(raw, int):
        return None
    integration = await integrations.resolve(team_id, raw)
    if integration is None:
        return None
    secrets.extend(_strings(integration.sensitive_config))
    return {**integration.config, **integration.sensitive_config}


def _evaluate(key: str, node: Any, values: dict[str, Any]) -> Any:
    """Run every bytecode program inside a compiled input (strings compile to programs, dicts recurse)."""
    if isinstance(node, list) and node and node[0] in _BYTECODE_MARKERS:
        limits = bounded(INPUT_LIMITS)
        try:
            # Most inputs are a constant or a field (`{event.properties.key}`): straight-line code, whose
            # compiled fast path gives the VM's own result without the VM's setup.
            program = fast_program(node)
            if program is not None:
                try:
                    return from_hog_value(program.run(values, limits))
                except FastPathUnavailable:
                    pass
            result = execute(node, values, async_functions=(), limits=limits)
        except HogVMError as error:
            raise InputResolutionError(f"Could not execute bytecode for input field: {key}: {error}") from error
        if not result.finished:
            raise InputResolutionError(f"Could not execute bytecode for input field: {key}")
        return from_hog_value(result.result)
    if isinstance(node, list):
        return [_evaluate(key, item, values) for item in node]
    if isinstance(node, dict):
        resolved: dict[str, Any] = {}
        for name, item in node.items():
            if name == _EXTEND_OBJECT:
                extension = _evaluate(key, item, values)
                if isinstance(extension, dict):
                    resolved.update(extension)
            else:
                resolved[name] = _evaluate(key, item, values)
        return resolved
    return node


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
