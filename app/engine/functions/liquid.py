"""Inputs stored with `templating: "liquid"` (PostHog's email and SMS editors), rendered by python-liquid.

As PostHog's renderer (`nodejs/src/cdp/utils/liquid.ts`, LiquidJS) does: the context is the function's
globals (`event`, `person`, `groups`, `project`, `source`, `variables`, `inputs` so far) plus `now`;
output is HTML-escaped (`outputEscape: 'escape'`); HTML entities inside `{{ }}`/`{% %}` are decoded
first; unknown filters pass the value through; the expression filters PostHog refuses are refused;
partials (`render`, `include`) find no templates. Limits per step, as PostHog's: 100 KB of source in
all, 1,000,000 characters of output in all, 500 ms of rendering in all (and never past the step's time
budget). Within a render, python-liquid's own limits bound nested loops, context depth, block nesting
and the size of assigned variables; the render context adds a clock and a total count of loop
iterations, a cap on ranges and numbers given to filters (Python's integers would otherwise grow
without bound: `times` squared 25 times took 100 s) and an estimate of `replace`/`join` results.

Known difference: python-liquid treats string literals written in the template as safe, so
`{{ "<b>" }}` is not escaped (LiquidJS escapes it); values from the context always are.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from liquid import BoundTemplate, Environment, RenderContext
from liquid import exceptions as liquid_errors
from liquid.undefined import UNDEFINED
from markupsafe import Markup, escape

from app.engine.functions.liquid_guard import LiquidSourceError, check_source, decode_markup_entities
from app.hog.budget import remaining

MAX_SOURCE_BYTES = 100 * 1024
MAX_OUTPUT_CHARS = 1_000_000
MAX_RENDER_SECONDS = 0.5
MAX_LOOP_ITERATIONS = 50_000
MAX_RANGE = 100_000
# LiquidJS computes with doubles; past 2**53 our integers become floats too, so they cannot grow.
_EXACT_INT = 2**53
_MAX_DATE_TEXT = 256
_WHITESPACE = re.compile(r"\s+")  # a fixed pattern, linear on any text
_UNBOUNDED_FILTERS = ("where_exp", "find_exp", "find_index_exp", "reject_exp", "group_by_exp")

SOURCE_MESSAGE = "Liquid template inputs are larger than the 100 KB total limit. Shorten them and try again."
RENDER_MESSAGE = "Liquid template took too long to render. Reduce its loops and try again."
MEMORY_MESSAGE = "Liquid template used too much memory. Reduce its loops or output and try again."
OUTPUT_MESSAGE = "Liquid template produced too much output. Reduce its output and try again."


class LiquidError(Exception):
    pass


class LiquidBudget:
    """What one step's Liquid inputs may use together (PostHog budgets per invocation, not per string)."""

    def __init__(self) -> None:
        self.source_bytes = 0
        self.output_chars = 0
        self.render_seconds = 0.0


class _Render:
    """The running render's clock and iteration count (in a context variable: python-liquid's
    context is copied for `capture` and blocks, and all copies share one render)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.ticks = 0
        self.iterations = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks & 63 == 0 and time.monotonic() > self.deadline:
            raise LiquidError(RENDER_MESSAGE)


_render: contextvars.ContextVar[_Render] = contextvars.ContextVar("liquid_render")


class _Context(RenderContext):
    def get(self, path: list[object], *, token: Any, default: object = UNDEFINED) -> object:
        _render.get().tick()
        return super().get(path, token=token, default=default)

    @contextmanager
    def loop(self, namespace: Mapping[str, object], forloop: Any) -> Iterator[RenderContext]:
        forloop.it = _counted(forloop.it)
        with super().loop(namespace, forloop) as context:
            yield context

    def filter(self, name: str, token: Any) -> Callable[..., object]:
        func = super().filter(name, token)

        def guarded(left: object, *args: object, **kwargs: object) -> object:
            _render.get().tick()
            if name == "date" and isinstance(left, str) and len(left) > _MAX_DATE_TEXT:
                # Not a date (its text is returned as it is); parsing 1 MB would take a second.
                return left
            _check_operands(name, left, args)
            return _as_js_number(func(left, *args, **kwargs))

        return guarded


def _counted(items: Iterator[Any]) -> Iterator[Any]:
    render = _render.get()
    for item in items:
        render.iterations += 1
        if render.iterations > MAX_LOOP_ITERATIONS:
            raise LiquidError(RENDER_MESSAGE)
        render.tick()
        yield item


def _check_operands(name: str, left: object, args: tuple[object, ...]) -> None:
    for value in (left, *args):
        if isinstance(value, range) and len(value) > MAX_RANGE:
            raise LiquidError(f"Liquid range of {len(value)} items is over the {MAX_RANGE} limit")
    if name == "replace" and len(args) >= 2 and isinstance(left, str):
        old, new = str(args[0]), str(args[1])
        count = left.count(old) if old else len(left) + 1
        if len(left) + count * (len(new) - len(old)) > MAX_OUTPUT_CHARS:
            raise LiquidError(OUTPUT_MESSAGE)
    joined = name == "join" and args and isinstance(left, list | range | tuple)
    if joined and len(left) * len(str(args[0])) > MAX_OUTPUT_CHARS:  # type: ignore[arg-type]
        raise LiquidError(OUTPUT_MESSAGE)


def _as_js_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _EXACT_INT:
        try:
            return float(value)
        except OverflowError:
            return float("inf") if value > 0 else float("-inf")
    return value


class _Template(BoundTemplate):
    context_class = _Context


def _refuse(name: str) -> Callable[..., object]:
    def refused(*_args: object, **_kwargs: object) -> object:
        raise LiquidError(f"liquid filter {name} is not supported")

    return refused


def _json(value: object, space: object = 0) -> str:
    indent = space if type(space) is int and space > 0 else None
    separators = None if indent else (",", ":")
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, default=_json_default)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):  # JavaScript's Date.toJSON()
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


# LiquidJS filters python-liquid lacks (with strict filters off they would silently do nothing).
_LIQUIDJS_FILTERS: dict[str, Callable[..., object]] = {
    "json": _json,
    "jsonify": _json,
    "inspect": _json,
    "raw": lambda value: Markup("" if value is None else str(value)),
    "xml_escape": lambda value: escape("" if value is None else str(value)),
    "cgi_escape": lambda value: quote("" if value is None else str(value), safe="!'()*").replace("%20", "+"),
    "uri_escape": lambda value: quote("" if value is None else str(value), safe="!#$&'()*+,-./:;=?@[]_~"),
    "push": lambda value, item=None: [*_items(value), item],
    "unshift": lambda value, item=None: [item, *_items(value)],
    "pop": lambda value: _items(value)[:-1],
    "shift": lambda value: _items(value)[1:],
    "number_of_words": lambda value: len(str(value or "").split()),
    "normalize_whitespace": lambda value: _WHITESPACE.sub(" ", str(value or "")),
}


class _Environment(Environment):
    template_class = _Template
    loop_iteration_limit = MAX_LOOP_ITERATIONS
    context_depth_limit = 30
    local_namespace_limit = 1_000_000
    output_stream_limit = MAX_OUTPUT_CHARS

    def __init__(self) -> None:
        super().__init__(autoescape=True, strict_filters=False)
        for name, func in _LIQUIDJS_FILTERS.items():
            self.add_filter(name, func)
        for name in _UNBOUNDED_FILTERS:
            self.add_filter(name, _refuse(name))


_ENVIRONMENT = _Environment()


@lru_cache(maxsize=128)
def _parse(template: str) -> BoundTemplate:
    """Guarded and parsed once per template text: parsing is most of the cost (7 KB of email: 12 ms
    to parse, 2 ms to render), and a flow sends the same template to every person."""
    source = decode_markup_entities(template)
    check_source(source)
    return _ENVIRONMENT.from_string(source)


def render_liquid(value: Any, context: dict[str, Any], budget: LiquidBudget | None = None) -> Any:
    """Render every string inside `value` (dicts and lists recursively); CPU-bound, run it off the loop."""
    budget = budget or LiquidBudget()
    if isinstance(value, str):
        return render_string(value, context, budget)
    if isinstance(value, dict):
        return {key: render_liquid(item, context, budget) for key, item in value.items()}
    if isinstance(value, list):
        return [render_liquid(item, context, budget) for item in value]
    return value


def render_string(template: str, context: dict[str, Any], budget: LiquidBudget) -> str:
    budget.source_bytes += len(template.encode("utf-8", "surrogatepass"))
    if budget.source_bytes > MAX_SOURCE_BYTES:
        raise LiquidError(SOURCE_MESSAGE)
    left = MAX_RENDER_SECONDS - budget.render_seconds
    step_left = remaining()
    if step_left is not None:
        left = min(left, step_left)
    if left <= 0:
        raise LiquidError(RENDER_MESSAGE)
    started = time.monotonic()
    token = _render.set(_Render(started + left))
    try:
        result = _parse(template).render(**context, now=datetime.now(UTC))
    except LiquidSourceError as error:
        raise LiquidError(str(error)) from None
    except liquid_errors.LiquidError as error:
        if isinstance(error.__cause__, RecursionError):
            raise LiquidError("Liquid template is nested too deeply") from None
        raise LiquidError(_message(error)) from None
    except RecursionError:
        raise LiquidError("Liquid template is nested too deeply") from None
    finally:
        _render.reset(token)
        budget.render_seconds += time.monotonic() - started
    budget.output_chars += len(result)
    if budget.output_chars > MAX_OUTPUT_CHARS:
        raise LiquidError(OUTPUT_MESSAGE)
    return result


def _message(error: liquid_errors.LiquidError) -> str:
    if isinstance(error, liquid_errors.OutputStreamLimitError):
        return OUTPUT_MESSAGE
    if isinstance(error, liquid_errors.LocalNamespaceLimitError):
        return MEMORY_MESSAGE
    if isinstance(error, liquid_errors.LoopIterationLimitError):
        return RENDER_MESSAGE
    message = str(error.args[0]) if error.args else type(error).__name__
    token = error.token
    if token is not None and token.start_index >= 0:
        line = token.source.count("\n", 0, token.start_index) + 1
        return f"Liquid error: {message} (line {line})"
    return f"Liquid error: {message}"
