"""PostHog filters → Hog expression → bytecode, and evaluation of compiled filters.

Public API:

- `build_filters_expression(filters, ...)` → expression AST (hogql-parser JSON format)
- `compile_filters(filters, ...)` → filters with `bytecode` (raises `FiltersCompileError`)
- `compile_conversion_filters(property_filters)` → `(filters, bytecode)`
- `build_filter_globals(event, person, groups, variables)` → runtime globals
- `evaluate_filters(compiled, globals)` → `FilterResult(matched, error, prefiltered)`
"""

from app.filters.compile import (
    clean_filters,
    compile_conversion_filters,
    compile_expression_ast,
    compile_filters,
)
from app.filters.errors import FiltersCompileError
from app.filters.evaluate import (
    FilterResult,
    evaluate_filters,
    evaluate_filters_fast,
    passes_event_prefilter,
    run_filter_bytecode,
)
from app.filters.expression import build_filters_expression
from app.filters.globals import build_filter_globals
from app.filters.properties import property_to_expr

__all__ = [
    "FilterResult",
    "FiltersCompileError",
    "build_filter_globals",
    "build_filters_expression",
    "clean_filters",
    "compile_conversion_filters",
    "compile_expression_ast",
    "compile_filters",
    "evaluate_filters",
    "evaluate_filters_fast",
    "passes_event_prefilter",
    "property_to_expr",
    "run_filter_bytecode",
]
