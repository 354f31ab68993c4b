"""`DirectRoute`: hot read routes called without FastAPI's per-request parameter machinery.

FastAPI resolves and validates an endpoint's parameters one by one on every request: some 15% of a cached
read of a flow, and more for the list's eleven query parameters. An endpoint of a `DirectRoute` takes only
the request, string path parameters (nothing to validate: a path segment is a string) and at most one query
model (`Annotated[Model, Query()]`), and returns a `Response`; it is called with those directly. The query
model is validated in one call, with FastAPI's errors (`("query", name, ...)` locations, no URLs), so a bad
value answers the same 400. FastAPI still reads the signature for the OpenAPI document, so the route is
documented as any other.
"""

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.params import Path, Query
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return _direct_handler(self.endpoint)


Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])


def direct_get(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """`@router.get(path, **options)` with a `DirectRoute`."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], route_class_override=DirectRoute, **options)
        return endpoint

    return register


def _direct_handler(endpoint: Callable[..., Awaitable[Response]]) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    hints = get_type_hints(endpoint, include_extras=True)
    request_name = None
    path_names: list[str] = []
    query: tuple[str, type[BaseModel], tuple[str, ...]] | None = None
    for name in inspect.signature(endpoint).parameters:
        annotation = hints.get(name)
        base, *metadata = get_args(annotation) if get_origin(annotation) is Annotated else (annotation,)
        if base is Request:
            request_name = name
        elif base is str and all(isinstance(item, Path) for item in metadata):
            path_names.append(name)
        elif (
            query is None
            and inspect.isclass(base)
            and issubclass(base, BaseModel)
            and any(isinstance(item, Query) for item in metadata)
        ):
            aliases = tuple(field.alias or field_name for field_name, field in base.model_fields.items())
            query = (name, base, aliases)
        else:
            raise TypeError(f"{endpoint.__qualname__}: a direct route cannot take {name}: {annotation}")
    if request_name is None:
        raise TypeError(f"{endpoint.__qualname__}: a direct route takes the request")

    async def handler(request: Request) -> Response:
        path_params = request.path_params
        arguments: dict[str, Any] = {name: path_params[name] for name in path_names}
        arguments[request_name] = request
        if query is not None:
            name, model, aliases = query
            given = request.query_params
            try:
                arguments[name] = model.model_validate({alias: given[alias] for alias in aliases if alias in given})
            except PydanticValidationError as error:
                errors = error.errors(include_url=False)
                raise RequestValidationError([{**item, "loc": ("query", *item["loc"])} for item in errors]) from None
        return await endpoint(**arguments)

    return handler
