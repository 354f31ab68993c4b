"""Every Prometheus metric of the service, and the one-line functions call sites use to move them.

Names start with `hogflows_`. With `PROMETHEUS_MULTIPROC_DIR` set (it must be set before the process
starts, and be an empty directory shared by the processes of one host), values are written to files
there and `/metrics` adds up every process's; otherwise each process reports its own.
Gauges sampled by the sweeper keep the most recent sample of any process.
"""

import functools
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ParamSpec, Protocol, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client import generate_latest as _generate_latest

# `*_created` timestamps double the scrape for nothing Prometheus uses.
disable_created_metrics()

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "hogflows_http_requests_total", "HTTP requests answered, by route template", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "hogflows_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
EVENTS_RECEIVED = Counter("hogflows_events_received_total", "Events received by the capture endpoints")
EVENT_TRIGGERS = Counter(
    "hogflows_event_trigger_checks_total",
    "Event x active flow pairs by what became of them (filtered, filtering_failed, masked, rate_limited, triggered)",
    ["outcome"],
)
RUNS_CREATED = Counter("hogflows_runs_created_total", "Runs created, by how they started", ["source"])
PICKUPS = Counter("hogflows_pickups_total", "Pickups of runs by a worker, by the run's status after it", ["outcome"])
STEPS = Counter("hogflows_steps_total", "Actions executed, by action type and outcome", ["action_type", "outcome"])
FETCH_LATENCY = Histogram(
    "hogflows_fetch_duration_seconds",
    "Outbound HTTP requests of function steps, by status class (2xx..5xx, or error when none came back)",
    ["status_class"],
    buckets=_LATENCY_BUCKETS,
)
EMAILS = Counter("hogflows_emails_total", "Emails handed to the SMTP server, by outcome (sent, failed)", ["outcome"])
QUEUE_LAG = Gauge(
    "hogflows_queue_lag_seconds",
    "Age of the oldest run that is due and not yet picked up (0 when none), sampled by the sweeper",
    multiprocess_mode="mostrecent",
)
RUNS_BY_STATUS = Gauge(
    "hogflows_runs", "Runs by status, sampled by the sweeper", ["status"], multiprocess_mode="mostrecent"
)
RETENTION_DELETED = Counter("hogflows_retention_deleted_total", "Rows deleted by retention", ["table"])


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return _generate_latest(registry), CONTENT_TYPE_LATEST


# The labelled children per (route, method, status): `labels()` checks and locks on every call, which costs
# as much as a cached read's rendering. Routes are templates, so the keys are few.
_HTTP_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _HTTP_CHILDREN.get(key)
    if children is None:
        children = (HTTP_REQUESTS.labels(route, method, str(status)), HTTP_LATENCY.labels(route, method))
        if len(_HTTP_CHILDREN) < 10_000:  # clients choose methods; the cache must not grow without end
            _HTTP_CHILDREN[key] = children
    children[0].inc()
    children[1].observe(seconds)


def events_received(count: int) -> None:
    EVENTS_RECEIVED.inc(count)


def event_trigger_outcomes(counts: Mapping[tuple[str, str, str], int], filtered: int = 0) -> None:
    """From the pipeline's per-(flow, kind, name) app-metric counts, plus `filtered` ones counted apart;
    each `triggered` is a run created."""
    by_name: dict[str, int] = {"filtered": filtered} if filtered else {}
    for (_flow, _kind, name), count in counts.items():
        by_name[name] = by_name.get(name, 0) + count
    for name, count in by_name.items():  # one labelled child per name, not per flow
        EVENT_TRIGGERS.labels(name).inc(count)
        if name == "triggered":
            RUNS_CREATED.labels("event").inc(count)


def runs_created(source: str, count: int = 1) -> None:
    if count:
        RUNS_CREATED.labels(source).inc(count)


class _Step(Protocol):
    @property
    def action_type(self) -> str: ...
    @property
    def outcome(self) -> str: ...


def pickup(status: str, steps: Iterable[_Step]) -> None:
    PICKUPS.labels(status).inc()
    for step in steps:
        STEPS.labels(step.action_type, step.outcome).inc()


def email(failed: bool) -> None:
    EMAILS.labels("failed" if failed else "sent").inc()


def queue_sample(lag_seconds: float, by_status: Mapping[str, int]) -> None:
    QUEUE_LAG.set(max(lag_seconds, 0.0))
    for status, count in by_status.items():
        RUNS_BY_STATUS.labels(status).set(count)


def retention_deleted(table: str, count: int) -> None:
    if count:
        RETENTION_DELETED.labels(table).inc(count)


P = ParamSpec("P")
R = TypeVar("R")


def timed_fetch(send: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorates a fetch returning something with an HTTP `status` (None when nothing came back)."""

    @functools.wraps(send)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        result: Any = await send(*args, **kwargs)
        status = getattr(result, "status", None)
        FETCH_LATENCY.labels(f"{status // 100}xx" if status else "error").observe(time.perf_counter() - started)
        return result

    return wrapper
