"""Pydantic mirrors of PostHog's HogFlow serializers (request bodies and responses).

Request models check shapes and types only (DRF field rules). Rules that depend on the action
type, the flow status (draft vs strict) or compilation live in `app.services.hog_flow_validation`.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.schemas.users import UserBasic
from app.services.secret_inputs import mask_secret_inputs, masked_action


def _drf_datetime(value: datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


DRFDateTime = Annotated[datetime, PlainSerializer(_drf_datetime, return_type=str)]


class HogFlowStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class OriginProduct(StrEnum):
    LOOPS = "loops"
    BROADCASTS = "broadcasts"


class ExitCondition(StrEnum):
    EXIT_ON_CONVERSION = "exit_on_conversion"
    EXIT_ON_TRIGGER_NOT_MATCHED = "exit_on_trigger_not_matched"
    EXIT_ON_TRIGGER_NOT_MATCHED_OR_CONVERSION = "exit_on_trigger_not_matched_or_conversion"
    EXIT_ONLY_AT_END = "exit_only_at_end"


class RequestSchema(BaseModel):
    # DRF's CharField accepts numbers and turns them into strings; unknown keys are dropped.
    model_config = ConfigDict(coerce_numbers_to_str=True, extra="ignore")


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise PydanticCustomError("blank", "This field may not be blank.")
    return value


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null", "This field may not be null.")
    return value


class PropertyFilter(BaseModel):
    """One property filter; the fields PostHog reads, other keys kept as sent."""

    model_config = ConfigDict(extra="allow")

    key: Any = Field(default=None, description="Property name (or a Hog expression for `hogql`).")
    value: Any = Field(default=None, description="Value or list of values to compare with.")
    operator: str | None = Field(default=None, description="`exact` (default), `is_not`, `icontains`, ...")
    type: str | None = Field(default=None, description="`event`, `person`, `group`, `element`, ...")
    group_type_index: int | None = None


class EventOrActionFilter(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Any = Field(default=None, description="Event name (`null` = any event) or action id.")
    name: str | None = None
    type: str | None = Field(default=None, description="`events` or `actions`.")
    order: int | None = None
    properties: list[dict[str, Any]] | None = None


class Filters(BaseModel):
    """Trigger, condition and conversion filters. The server compiles them to Hog `bytecode`."""

    model_config = ConfigDict(extra="allow")

    events: list[EventOrActionFilter] | None = None
    actions: list[EventOrActionFilter] | None = None
    properties: list[dict[str, Any]] | None = Field(default=None, description="Property filters or groups.")
    filter_test_accounts: bool | None = None
    source: str | None = None
    bytecode: list[Any] | None = Field(default=None, description="Read-only: compiled Hog bytecode.")
    bytecode_error: str | None = Field(default=None, description="Read-only: why compilation failed.")

    @model_serializer(mode="wrap")
    def _only_given_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Filters round-trip as stored: keys nobody sent must not appear as nulls.
        data: dict[str, Any] = handler(self)
        return {
            key: value for key, value in data.items() if key in self.model_fields_set or key in (self.model_extra or {})
        }


class ActionIn(RequestSchema):
    id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1, max_length=400)]
    description: str = ""
    on_error: Literal["continue", "abort", "complete", "branch"] | None = None
    created_at: int | None = Field(default=None, description="Epoch milliseconds, client-managed.")
    updated_at: int | None = Field(default=None, description="Epoch milliseconds, client-managed.")
    filters: Filters | None = Field(default=None, description="Compiled to `bytecode` on save.")
    type: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="`trigger`, `function`, `function_email`, `function_sms`, `function_push`, `delay`, "
        "`wait_until_condition`, `wait_until_time_window`, `conditional_branch`, `random_cohort_branch`, `exit`."
    )
    config: dict[str, Any] = Field(description="Per-type configuration (see the API docs).")
    output_variable: Any = Field(default=None, description="`{key, result_path?, spread?}` or a list of them.")

    _check_blank = field_validator("id", "name", "type")(_not_blank)

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _no_bool_timestamps(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("invalid_input", "A valid integer is required.")
        return value


class ActionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    description: str = ""
    on_error: str | None = None
    filters: Filters | None = None
    type: str
    config: dict[str, Any]
    output_variable: Any = None


class TriggerMaskingIn(RequestSchema):
    hash: Annotated[str, Field(min_length=1)] = Field(description="Hog template, e.g. `{person.id}`.")
    ttl: Annotated[int, Field(ge=60, le=94_608_000)] | None = Field(default=None, description="Seconds.")
    threshold: int | None = Field(default=None, description="Fire on the 1st and every Nth match.")
    bytecode: Any = Field(default=None, description="Ignored; recomputed from `hash`.")

    _check_blank = field_validator("hash")(_not_blank)


class TriggerMaskingOut(BaseModel):
    ttl: int | None = None
    threshold: int | None = None
    hash: str | None = None
    bytecode: Any = None


class ConversionIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    filters: list[dict[str, Any]] | None = Field(default=None, description="Person/event property filters.")
    window_minutes: int | None = None
    events: list[dict[str, Any]] | None = None
    bytecode: Any = Field(default=None, description="Read-only: compiled `filters`.")


Variable = dict[str, str]


class HogFlowWrite(RequestSchema):
    """Fields a client may send. Every field is optional here; POST and PUT also require `actions`."""

    name: Annotated[str, Field(max_length=400)] | None = None
    description: str | None = None
    status: HogFlowStatus | None = None
    trigger: Any = Field(default=None, description="Ignored: derived from the trigger action.")
    trigger_masking: TriggerMaskingIn | None = None
    conversion: ConversionIn | None = None
    exit_condition: ExitCondition | None = None
    edges: Any = Field(default=None, description="`[{from, to, type: continue|branch, index?}]`.")
    actions: list[ActionIn] | None = None
    variables: list[Variable] | None = None
    billable_action_types: Any = Field(default=None, description="Ignored: computed by the server.")
    origin_product: OriginProduct | None = Field(
        default=None, description="The product surface that owns the flow. Set on create; ignored on update."
    )
    base_updated_at: datetime | None = Field(
        default=None,
        description="The `updated_at` (or `draft_updated_at` while a draft is open) the client last loaded. "
        "A newer stored one answers 409 instead of overwriting someone else's edit.",
    )
    stage_draft: bool = Field(
        default=False,
        description="On an active flow, stage content changes (actions, edges, trigger masking, conversion, "
        "exit condition, variables) as a draft; name, description and status still apply live.",
    )

    _required_not_null = field_validator(
        "actions", "variables", "exit_condition", "status", "description", "edges", mode="before"
    )(_not_null)


class HogFlowCreate(HogFlowWrite):
    actions: list[ActionIn]


class HogFlowBase(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str | None
    description: str
    version: int
    status: HogFlowStatus
    created_at: DRFDateTime
    created_by: UserBasic | None
    updated_at: DRFDateTime
    trigger: dict[str, Any]
    conversion: dict[str, Any] | None
    exit_condition: str
    edges: Any
    abort_action: str | None
    variables: list[dict[str, Any]]
    billable_action_types: list[str]
    origin_product: str | None
    draft: dict[str, Any] | None = Field(description="Staged content of an active flow, or null.")
    draft_updated_at: DRFDateTime | None

    @model_validator(mode="after")
    def _mask_secrets(self) -> Self:
        # Every rendering of a flow, list or detail, hides secret inputs (PostHog's {"secret": true}).
        # Masking happens on copies: the stored flow is never touched.
        actions: list[Any] = getattr(self, "actions", [])
        for index, action in enumerate(actions):
            if isinstance(action, dict):
                actions[index] = masked_action(action)
            elif isinstance(action, BaseModel) and isinstance(getattr(action, "config", None), dict):
                action.config = masked_action({"type": action.type, "config": action.config})["config"]  # type: ignore[attr-defined]
        self.trigger = mask_secret_inputs({"trigger": self.trigger})["trigger"]
        draft = getattr(self, "draft", None)
        if isinstance(draft, dict):
            self.draft = mask_secret_inputs(dict(draft))
        return self


class HogFlowMinimal(HogFlowBase):
    """List rendering: stored JSON returned as is."""

    trigger_masking: dict[str, Any] | None
    actions: list[dict[str, Any]]


class HogFlow(HogFlowBase):
    """Detail rendering: actions re-rendered through the Action schema."""

    trigger_masking: TriggerMaskingOut | None
    actions: list[ActionOut]
    schedules: list[dict[str, Any]] = Field(
        default_factory=list, description="Read-only: the flow's schedules, oldest first (as PostHog nests them)."
    )


class HogFlowPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[HogFlowMinimal]
