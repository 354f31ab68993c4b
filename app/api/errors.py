"""Errors in PostHog's shape (drf-exceptions-hog): `{"type", "code", "detail", "attr"}`.

Every error the service returns goes through here, including FastAPI's own request validation
errors, unknown routes and wrong methods, so clients see one shape everywhere.
"""

import json
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = structlog.get_logger(__name__)


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


class MethodNotAllowed(APIError):
    status_code = 405
    type = "invalid_request"
    code = "method_not_allowed"


class RequestTooLarge(APIError):
    status_code = 413
    type = "invalid_request"
    code = "request_too_large"
    default_detail = "Request body is too large."


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

_JSON_TYPE_NAMES = {dict: "dict", list: "list", str: "str", int: "int", float: "float", bool: "bool"}


def drf_error_from_pydantic(error: dict[str, Any]) -> tuple[str, str]:
    """Translate one pydantic error into DRF's (code, message)."""
    kind = error["type"]
    given = error.get("input")
    ctx = error.get("ctx") or {}
    if given is None and kind.endswith("_type") and kind != "missing":
        return "null", "This field may not be null."
    if kind in _PYDANTIC_TO_DRF:
        code, template = _PYDANTIC_TO_DRF[kind]
        input_type = _JSON_TYPE_NAMES.get(type(given), type(given).__name__)
        shown = given if not isinstance(given, (dict, list)) else json.dumps(given)
        return code, template.format(input=shown, input_type=input_type, **ctx)
    if kind == "value_error":
        return "invalid_input", str(ctx.get("error", error["msg"]))
    # Our own validators raise PydanticCustomError with a DRF code as the type.
    return kind, error["msg"]


def _first_validation_error(exc: RequestValidationError) -> APIError:
    errors = exc.errors()
    if not errors:
        return ValidationError("Invalid input.")
    error = errors[0]
    if error["type"] == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "Invalid JSON")
        return ParseError(f"JSON parse error - {reason}")
    loc = list(error.get("loc", ()))
    source = loc.pop(0) if loc else "body"
    code, message = drf_error_from_pydantic(error)
    if source == "body" and not loc and code in ("invalid_input", "required"):
        # The body itself is not an object (or is missing): DRF answers with non_field_errors.
        given = error.get("input")
        kind = _JSON_TYPE_NAMES.get(type(given), type(given).__name__) if given is not None else "NoneType"
        return ValidationError(f"Invalid data. Expected a dictionary, but got {kind}.", attr="non_field_errors")
    # Pydantic names union members and wrappers in the location; PostHog's attr is the data path.
    path = [part for part in loc if isinstance(part, int) or not _is_pydantic_tag(part)]
    return ValidationError(message, attr=join_attr(path), code=code)


def _is_pydantic_tag(part: str) -> bool:
    return part.startswith(("function-", "json-or-python", "lax-or-strict")) or part in (
        "str",
        "int",
        "float",
        "bool",
        "dict[str,any]",
        "list[any]",
    )


def _response(status_code: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=body, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return _response(exc.status_code, exc.body(), headers)


async def _raw_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RawError)
    return _response(exc.status_code, exc.body)


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = _first_validation_error(exc)
    return _response(error.status_code, error.body())


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error: APIError
    if exc.status_code == 404:
        error = NotFound()
    elif exc.status_code == 405:
        error = MethodNotAllowed(f'Method "{request.method}" not allowed.')
    else:
        error = APIError(str(exc.detail))
        error.status_code = exc.status_code
        error.type = "invalid_request" if exc.status_code < 500 else "server_error"
        error.code = "error"
    return _response(error.status_code, error.body(), getattr(exc, "headers", None))


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("app.api.unhandled_error", path=request.url.path, method=request.method)
    body = {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}
    return _response(500, body)


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RawError, _raw_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled_error)
