"""Errors raised while turning filters into Hog bytecode."""

from __future__ import annotations

COHORT_ERROR = (
    "Cohort membership can't be evaluated in real-time filters. "
    "Replace cohorts with equivalent inline person property filters."
)


class FiltersCompileError(Exception):
    """A filters object could not be compiled.

    `str(error)` is the raw reason; callers format it as
    `Invalid filter configuration: <message>` (api.md §4.8).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def cohort_error(settings_url: str | None = None) -> FiltersCompileError:
    message = COHORT_ERROR
    if settings_url:
        message += f" Update your filters at: {settings_url}"
    return FiltersCompileError(message)
