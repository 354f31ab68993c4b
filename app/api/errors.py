"""HTTP mapping of the domain errors in `app.errors` (PostHog's `{"type", "code", "detail", "attr"}`).

Every error the service returns goes through here, including FastAPI's own request validation
errors, unknown routes and wrong methods, so clients see one shape everywhere.
"""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import (
    JSON_TYPE_NAMES,
    APIError,
    AuthenticationFailed,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    ParseError,
    PermissionDenied,
    RawError,
    RequestTooLarge,
    Throttled,
    ValidationError,
    drf_error_from_pydantic,
    join_attr,
)
from app.logging import database_error_summary

# Handlers in the API layer import these from here; the classes live in `app.errors`.
__all__ = [
    "APIError",
    "AuthenticationFailed",
    "MethodNotAllowed",
    "NotAuthenticated",
    "NotFound",
    "ParseError",
    "PermissionDenied",
    "RawError",
    "RequestTooLarge",
    "Throttled",
    "ValidationError",
    "drf_error_from_pydantic",
    "join_attr",
    "register_error_handlers",
]

logger = structlog.get_logger(__name__)


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
        kind = JSON_TYPE_NAMES.get(type(given), type(given).__name__) if given is not None else "NoneType"
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
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.wait)}
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
    if isinstance(exc, SQLAlchemyError):
        # Never the statement's parameters nor the driver's message, which quotes them.
        summary = database_error_summary(exc)
        logger.error("app.api.database_error", path=request.url.path, method=request.method, **summary)
    else:
        logger.exception("app.api.unhandled_error", path=request.url.path, method=request.method)
    body = {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}
    return _response(500, body)


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RawError, _raw_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled_error)
