"""Filters a step evaluates (action filters, conditions, exit conditions), off the event loop.

A filter may hold a client's `hogql` expression: it runs in a thread, within `STEP_FILTER_LIMITS`,
so a slow one delays its own run only (and counts as a non-match, as any filter error does).
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from app.filters import evaluate_filters
from app.filters.evaluate import FilterResult
from app.hog import Limits

STEP_FILTER_LIMITS = Limits(timeout_s=1.0)


async def evaluate_step_filters(filters: Mapping[str, Any] | None, globals: Mapping[str, Any]) -> FilterResult:
    return await asyncio.to_thread(evaluate_filters, filters, globals, limits=STEP_FILTER_LIMITS)
