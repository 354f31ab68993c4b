"""Domain errors in PostHog's shape (drf-exceptions-hog): `{"type", "code", "detail", "attr"}`.

Framework-free so that services, the ingest pipeline and the worker can raise them without loading
FastAPI; `app.api.errors` maps them to HTTP responses.
"""

import json
import math
from collections.abc import Sequence
from typing import Any


class APIError(Exception):
    status_code = 400
    type = "validation_error"
    code = "invalid_input"
    default_detail = "Invalid input."

    def __init__(self, detail: str | None = None, *, attr: str | None = None, code: str | None = None) -> None:
        self.detail = detail or self.default_detail
        self.attr = attr
        if code is not None:
            self.code = code
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "code": self.code, "detail": self.detail, "attr": self.attr}


class ValidationError(APIError):
    pass


class ParseError(APIError):
    type = "invalid_request"
    code = "parse_error"
    default_detail = "Malformed request."


class NotAuthenticated(APIError):
    status_code = 401
    type = "authentication_error"
    code = "not_authenticated"
    default_detail = "Authentication credentials were not provided."


class AuthenticationFailed(APIError):
    status_code = 401
    type = "authentication_error"
    code = "authentication_failed"
    default_detail = "Incorrect authentication credentials."


class PermissionDenied(APIError):
    status_code = 403
    type = "authentication_error"
    code = "permission_denied"
    default_detail = "You do not have permission to perform this action."


class NotFound(APIError):
    status_code = 404
    type = "invalid_request"
    code = "not_found"
    default_detail = "Not found."


class Conflict(APIError):
    """409: the stored row moved on since the client read it (PostHog's `StaleWorkflowUpdateError`)."""

    status_code = 409
    type = "invalid_request"
    code = "stale_update"
    default_detail = (
        "This workflow was updated elsewhere since you loaded it. Reload to get the latest version before saving."
    )


class MethodNotAllowed(APIError):
    status_code = 405
    type = "invalid_request"
    code = "method_not_allowed"


class RequestTooLarge(APIError):
    status_code = 413
    type = "invalid_request"
    code = "request_too_large"
    default_detail = "Request body is too large."


class Throttled(APIError):
    """DRF's `Throttled` as PostHog renders it; `wait` (rounded up) also goes into `Retry-After`."""

    status_code = 429
    type = "throttled_error"
    code = "throttled"

    def __init__(self, wait: float) -> None:
        self.wait = max(1, math.ceil(wait))
        unit = "second" if self.wait == 1 else "seconds"
        super().__init__(f"Request was throttled. Expected available in {self.wait} {unit}.")


class RawError(Exception):
    """A few PostHog endpoints answer errors in their own raw shape (`{"error": ...}`, DRF dicts)."""

    def __init__(self, body: Any, status_code: int = 400) -> None:
        self.body = body
        self.status_code = status_code
        super().__init__(str(body))


def join_attr(loc: Sequence[str | int]) -> str | None:
    return "__".join(str(part) for part in loc) or None


# Pydantic error type -> (DRF code, message template). Messages are DRF's own wording.
_PYDANTIC_TO_DRF: dict[str, tuple[str, str]] = {
    "missing": ("required", "This field is required."),
    "string_type": ("invalid_input", "Not a valid string."),
    "string_too_long": ("max_length", "Ensure this field has no more than {max_length} characters."),
    "string_too_short": ("blank", "This field may not be blank."),
    "list_type": ("not_a_list", 'Expected a list of items but got type "{input_type}".'),
    "dict_type": ("invalid_input", "Invalid data. Expected a dictionary, but got {input_type}."),
    "model_type": ("invalid_input", "Invalid data. Expected a dictionary, but got {input_type}."),
    "model_attributes_type": ("invalid_input", "Invalid data. Expected a dictionary, but got {input_type}."),
    "enum": ("invalid_choice", '"{input}" is not a valid choice.'),
    "literal_error": ("invalid_choice", '"{input}" is not a valid choice.'),
    "int_type": ("invalid_input", "A valid integer is required."),
    "int_parsing": ("invalid_input", "A valid integer is required."),
    "int_from_float": ("invalid_input", "A valid integer is required."),
    "bool_type": ("invalid_input", "Must be a valid boolean."),
    "bool_parsing": ("invalid_input", "Must be a valid boolean."),
    "float_type": ("invalid_input", "A valid number is required."),
    "float_parsing": ("invalid_input", "A valid number is required."),
    "greater_than_equal": ("min_value", "Ensure this value is greater than or equal to {ge}."),
    "less_than_equal": ("max_value", "Ensure this value is less than or equal to {le}."),
    "uuid_type": ("invalid_input", "Must be a valid UUID."),
    "uuid_parsing": ("invalid_input", "Must be a valid UUID."),
    "datetime_type": ("invalid_input", "Datetime has wrong format."),
    "datetime_parsing": ("invalid_input", "Datetime has wrong format."),
    "datetime_from_date_parsing": ("invalid_input", "Datetime has wrong format."),
}

JSON_TYPE_NAMES = {dict: "dict", list: "list", str: "str", int: "int", float: "float", bool: "bool"}


def drf_error_from_pydantic(error: dict[str, Any]) -> tuple[str, str]:
    """Translate one pydantic error into DRF's (code, message)."""
    kind = error["type"]
    given = error.get("input")
    ctx = error.get("ctx") or {}
    if given is None and kind.endswith("_type") and kind != "missing":
        return "null", "This field may not be null."
    if kind in _PYDANTIC_TO_DRF:
        code, template = _PYDANTIC_TO_DRF[kind]
        input_type = JSON_TYPE_NAMES.get(type(given), type(given).__name__)
        shown = given if not isinstance(given, (dict, list)) else json.dumps(given)
        return code, template.format(input=shown, input_type=input_type, **ctx)
    if kind == "value_error":
        return "invalid_input", str(ctx.get("error", error["msg"]))
    # Our own validators raise PydanticCustomError with a DRF code as the type.
    return kind, error["msg"]
