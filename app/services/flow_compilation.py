"""What saving a flow compiles: filters and input templates, with the team's context.

A thin seam over `app.filters` and `app.hog.templates` so validation code deals in one error type.
"""

from dataclasses import dataclass, field
from typing import Any

from app.filters import FiltersCompileError, compile_filters
from app.hog.parser import HogCompileError
from app.hog.templates import compile_template


class CompileError(Exception):
    """Compilation failed; the message is the reason, without PostHog's prefix."""


@dataclass(frozen=True)
class TeamFilterContext:
    timezone: str = "UTC"
    test_account_filters: list[dict[str, Any]] = field(default_factory=list)


def compile_flow_filters(filters: dict[str, Any], team: TeamFilterContext) -> dict[str, Any]:
    try:
        return compile_filters(filters, test_account_filters=team.test_account_filters, timezone=team.timezone)
    except FiltersCompileError as error:
        raise CompileError(str(error)) from error


def compile_input(value: Any) -> Any:
    try:
        return compile_template(value)
    except HogCompileError as error:
        raise CompileError(str(error)) from error
