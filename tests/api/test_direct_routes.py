"""Direct routes (app/api/direct.py): the same answers as FastAPI's parameter handling, and only for the
endpoints they can call directly."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from app.api.direct import direct_get
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url

# What FastAPI's per-parameter validation answered for the list before it became a direct route.
BAD_QUERIES: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"id": "nope"}, {"code": "invalid_input", "detail": "Must be a valid UUID.", "attr": "id"}),
    ({"created_by": ""}, {"code": "invalid_input", "detail": "A valid integer is required.", "attr": "created_by"}),
    (
        {"created_by": "2147483648"},
        {"code": "max_value", "detail": "Ensure this value is less than or equal to 2147483647.", "attr": "created_by"},
    ),
    (
        {"created_at": "yesterday"},
        {"code": "invalid_input", "detail": "Datetime has wrong format.", "attr": "created_at"},
    ),
    ({"status": "bogus"}, {"code": "invalid_choice", "detail": '"bogus" is not a valid choice.', "attr": "status"}),
    # The first bad parameter in the documented order is the one answered.
    ({"status": "bogus", "id": "nope"}, {"code": "invalid_input", "detail": "Must be a valid UUID.", "attr": "id"}),
]


@pytest.mark.parametrize(("params", "error"), BAD_QUERIES)
async def test_bad_list_parameters_answer_as_fastapi_did(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], error: dict[str, Any]
) -> None:
    response = await client.get(flows_url(tenant), params=params, headers=auth(tenant))
    assert response.status_code == 400
    assert response.json() == {"type": "validation_error", **error}


async def test_repeated_and_unknown_parameters_are_read_as_fastapi_reads_them(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # The last value of a repeated parameter counts; unknown parameters are ignored.
    response = await client.get(
        flows_url(tenant), params=[("created_by", "x"), ("created_by", "1"), ("nope", "1")], headers=auth(tenant)
    )
    assert response.status_code == 200, response.text


class Filters(BaseModel):
    q: str | None = None


def test_only_the_request_string_path_parameters_and_one_query_model_are_taken() -> None:
    router = APIRouter()

    async def fine(request: Request, team_id: str, query: Annotated[Filters, Query()]) -> Response:
        return Response()

    direct_get(router, "/{team_id}/")(fine)

    async def with_an_int(request: Request, team_id: int) -> Response:
        return Response()

    with pytest.raises(TypeError, match="team_id"):
        direct_get(router, "/{team_id}/")(with_an_int)

    async def without_the_request(team_id: str) -> Response:
        return Response()

    with pytest.raises(TypeError, match="takes the request"):
        direct_get(router, "/{team_id}/")(without_the_request)
