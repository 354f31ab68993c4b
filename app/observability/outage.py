"""Periodic work while a database or Redis is down: one line when it stops, one when it resumes.

The loop asks `waiting()` before each pass and reports each failure; the pause doubles from one second
up to a minute, so a stopped PostgreSQL costs a retry a minute, not a traceback per pass.
"""

import time

import structlog

from app.observability.errors import operator_error

logger = structlog.get_logger("hogflows.outage")


class Outage:
    def __init__(self, what: str, *, base_seconds: float = 1.0, cap_seconds: float = 60.0) -> None:
        self.what = what
        self.base_seconds = base_seconds
        self.cap_seconds = cap_seconds
        self.failures = 0
        self._resume_at = 0.0

    def waiting(self) -> bool:
        return time.monotonic() < self._resume_at

    def failed(self, error: BaseException) -> float:
        """Call from the `except` block; returns how long to pause (0 for a bug: no outage, no pause)."""
        message = operator_error(error)
        if message is None:
            logger.exception(f"{self.what} failed")  # a bug or a race: keep its traceback, carry on
            return 0.0
        self.failures += 1
        delay = min(self.cap_seconds, self.base_seconds * 2 ** min(self.failures - 1, 16))
        self._resume_at = time.monotonic() + delay
        if self.failures == 1:
            logger.error(f"{self.what} paused: {message}", retry_in_seconds=delay)
        return delay

    def recovered(self) -> None:
        if self.failures:
            logger.info(f"{self.what} resumed", failed_passes=self.failures)
        self.failures = 0
        self._resume_at = 0.0
