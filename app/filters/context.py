"""Everything a filters → expression build needs besides the filters themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class BuildContext:
    # Team timezone used to resolve relative dates (`-7d`) when the filter is compiled.
    timezone: str = "UTC"
    # "Now" for relative dates; defaults to the current time.
    now: datetime | None = None
    # Saved actions by id: `{"steps": [...]}` (ids may be ints or strings).
    actions: Mapping[Any, Mapping[str, Any]] = field(default_factory=dict)
    # Cohorts by id (`{"name", "is_static", "filters": {"properties": ...}}`), used only to
    # inline person-property cohorts of the team's test account filters.
    cohorts: Mapping[Any, Mapping[str, Any]] = field(default_factory=dict)
    # Known property types, keyed by `(filter type, key)`, e.g. `("event", "$is_bot"): "Boolean"`.
    property_types: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # The team's path cleaning rules `[{"regex", "alias"}]` for `is_cleaned_path_exact`.
    path_cleaning_filters: list[Mapping[str, Any]] = field(default_factory=list)
    # Appended to the cohort error message when given.
    settings_url: str | None = None

    def find_action(self, action_id: Any) -> Mapping[str, Any] | None:
        for key in (action_id, str(action_id)):
            if key in self.actions:
                return self.actions[key]
        try:
            numeric = int(action_id)
        except (TypeError, ValueError):
            return None
        return self.actions.get(numeric)

    def find_cohort(self, cohort_id: Any) -> Mapping[str, Any] | None:
        for key in (cohort_id, str(cohort_id)):
            if key in self.cohorts:
                return self.cohorts[key]
        try:
            numeric = int(cohort_id)
        except (TypeError, ValueError):
            return None
        return self.cohorts.get(numeric)
