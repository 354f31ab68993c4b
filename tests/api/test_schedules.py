"""`{p}/hog_flows/{id}/schedules/` (api.md §5.3): every validation rule and message, CRUD, `next_run_at`."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.batch.rrules import next_occurrences
from app.services.bootstrap import Tenant
from tests.api.batch_helpers import batch_flow, create_flow, schedules_url
from tests.api.helpers import auth
from tests.conftest import TenantFactory

DAILY = "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"
START = "2024-01-01T00:00:00Z"
VALID = {"rrule": DAILY, "starts_at": START, "timezone": "Europe/Prague"}


def error(detail: str, attr: str | None, code: str = "invalid_input") -> dict[str, Any]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


@pytest.fixture
async def flow_id(client: httpx.AsyncClient, tenant: Tenant) -> str:
    return await create_flow(client, tenant, batch_flow())


async def post(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, body: Any) -> httpx.Response:
    return await client.post(schedules_url(tenant, flow_id), json=body, headers=auth(tenant))


VALIDATION: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"starts_at": START}, error("RRULE string is required.", "rrule")),
    ({"rrule": "", "starts_at": START}, error("RRULE string is required.", "rrule")),
    ({"rrule": None, "starts_at": START}, error("RRULE string is required.", "rrule")),
    ({"rrule": "FREQ=NEVER", "starts_at": START}, error("Invalid RRULE.", "rrule")),
    ({"rrule": "BYHOUR=9", "starts_at": START}, error("Invalid RRULE.", "rrule")),
    ({"rrule": "DTSTART:20240101T000000Z\nRRULE:FREQ=DAILY", "starts_at": START}, error("Invalid RRULE.", "rrule")),
    ({"rrule": "dtstart:20240101T000000Z\nRRULE:FREQ=DAILY", "starts_at": START}, error("Invalid RRULE.", "rrule")),
    ({"rrule": "not a rule at all", "starts_at": START}, error("Invalid RRULE.", "rrule")),
    ({"rrule": DAILY}, error("Start date is required.", "starts_at")),
    ({"rrule": DAILY, "starts_at": None}, error("Start date is required.", "starts_at")),
    (
        {"rrule": DAILY, "starts_at": "yesterday"},
        error(
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
            "starts_at",
        ),
    ),
    ({**VALID, "timezone": "Mars/Olympus"}, error("Invalid or unknown timezone.", "timezone")),
    ({**VALID, "timezone": "../etc/passwd"}, error("Invalid or unknown timezone.", "timezone")),
    (
        {**VALID, "timezone": "x" * 65},
        error("Ensure this field has no more than 64 characters.", "timezone", "max_length"),
    ),
    ({**VALID, "timezone": None}, error("This field may not be null.", "timezone", "null")),
    ({**VALID, "timezone": ""}, error("This field may not be blank.", "timezone", "blank")),
    ({**VALID, "variables": None}, error("This field may not be null.", "variables", "null")),
    (
        {"rrule": "FREQ=DAILY;COUNT=2", "starts_at": "2020-01-01T00:00:00Z"},
        error("Schedule produces no future occurrences.", "rrule"),
    ),
    (
        {"rrule": "FREQ=DAILY;UNTIL=20200101T000000Z", "starts_at": "2019-01-01T00:00:00Z"},
        error("Schedule produces no future occurrences.", "rrule"),
    ),
    (
        {"rrule": "FREQ=MINUTELY;INTERVAL=30", "starts_at": START},
        error("Schedules must run at most once per hour.", "rrule"),
    ),
    (
        {"rrule": "FREQ=HOURLY;BYMINUTE=0,30", "starts_at": START},
        error("Schedules must run at most once per hour.", "rrule"),
    ),
    ({"rrule": "FREQ=SECONDLY", "starts_at": START}, error("Schedules must run at most once per hour.", "rrule")),
]


@pytest.mark.parametrize(("body", "expected"), VALIDATION, ids=[repr(case[0])[:70] for case in VALIDATION])
async def test_create_validation(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = await post(client, tenant, flow_id, body)
    assert response.status_code == 400, response.text
    assert response.json() == expected


async def test_rule_order_rrule_before_start_before_timezone(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str
) -> None:
    response = await post(client, tenant, flow_id, {"rrule": "FREQ=NEVER", "timezone": "Mars/Olympus"})
    assert response.json()["detail"] == "Invalid RRULE."
    response = await post(client, tenant, flow_id, {"rrule": DAILY, "timezone": "Mars/Olympus"})
    assert response.json()["detail"] == "Start date is required."


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=HOURLY",
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1",
        "FREQ=MINUTELY;INTERVAL=60",
    ],
)
async def test_hourly_or_slower_rules_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str, rrule: str
) -> None:
    response = await post(client, tenant, flow_id, {"rrule": rrule, "starts_at": START})
    assert response.status_code == 201, response.text


async def test_create_answers_201_with_next_run_at(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
    before = datetime.now(UTC)
    response = await post(client, tenant, flow_id, {**VALID, "variables": {"campaign": "daily"}})
    assert response.status_code == 201, response.text
    schedule = response.json()
    assert set(schedule) == {
        "id",
        "rrule",
        "starts_at",
        "timezone",
        "variables",
        "status",
        "next_run_at",
        "created_at",
        "updated_at",
    }
    assert schedule["status"] == "active"
    assert schedule["timezone"] == "Europe/Prague"
    assert schedule["variables"] == {"campaign": "daily"}
    assert schedule["starts_at"] == "2024-01-01T00:00:00.000000Z"
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    assert before < next_run <= before + timedelta(days=1)
    # 9:00 in Prague: 8:00 UTC in winter, 7:00 UTC in summer.
    assert next_run.hour in (7, 8) and next_run.minute == 0


async def test_defaults(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
    response = await post(client, tenant, flow_id, {"rrule": DAILY, "starts_at": START})
    assert response.status_code == 201
    assert response.json()["timezone"] == "UTC"
    assert response.json()["variables"] == {}


async def test_status_and_next_run_at_are_read_only(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
    body = {**VALID, "status": "paused", "next_run_at": "2000-01-01T00:00:00Z", "id": str(uuid.uuid4())}
    schedule = (await post(client, tenant, flow_id, body)).json()
    assert schedule["status"] == "active"
    assert schedule["next_run_at"] != "2000-01-01T00:00:00.000000Z"
    assert schedule["id"] != body["id"]


async def test_list_is_a_bare_list_newest_first(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
    ids = [(await post(client, tenant, flow_id, VALID)).json()["id"] for _ in range(3)]
    response = await client.get(schedules_url(tenant, flow_id), headers=auth(tenant))
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == list(reversed(ids))


class TestPatch:
    async def test_partial_update_falls_back_to_stored_values(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str
    ) -> None:
        schedule = (await post(client, tenant, flow_id, VALID)).json()
        url = f"{schedules_url(tenant, flow_id)}{schedule['id']}/"
        response = await client.patch(url, json={"variables": {"x": 1}}, headers=auth(tenant))
        assert response.status_code == 200, response.text
        assert response.json()["variables"] == {"x": 1}
        assert response.json()["rrule"] == DAILY
        assert response.json()["next_run_at"] == schedule["next_run_at"]

    async def test_new_rule_recomputes_next_run(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
        schedule = (await post(client, tenant, flow_id, VALID)).json()
        url = f"{schedules_url(tenant, flow_id)}{schedule['id']}/"
        weekly = "FREQ=WEEKLY;BYDAY=SU;BYHOUR=23;BYMINUTE=30"
        response = await client.patch(url, json={"rrule": weekly, "timezone": "UTC"}, headers=auth(tenant))
        assert response.status_code == 200, response.text
        expected = next_occurrences(weekly, datetime(2024, 1, 1, tzinfo=UTC), "UTC")[0]
        assert datetime.fromisoformat(response.json()["next_run_at"]) == expected

    async def test_patch_validates_with_stored_values(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str
    ) -> None:
        schedule = (await post(client, tenant, flow_id, VALID)).json()
        url = f"{schedules_url(tenant, flow_id)}{schedule['id']}/"
        cases = [
            ({"rrule": "FREQ=MINUTELY"}, error("Schedules must run at most once per hour.", "rrule")),
            ({"rrule": "nonsense"}, error("Invalid RRULE.", "rrule")),
            ({"rrule": ""}, error("RRULE string is required.", "rrule")),
            ({"starts_at": None}, error("Start date is required.", "starts_at")),
            ({"timezone": "Nowhere/Land"}, error("Invalid or unknown timezone.", "timezone")),
        ]
        for body, expected in cases:
            response = await client.patch(url, json=body, headers=auth(tenant))
            assert response.status_code == 400, body
            assert response.json() == expected, body
        unchanged = (await client.get(schedules_url(tenant, flow_id), headers=auth(tenant))).json()[0]
        assert unchanged["rrule"] == DAILY

    async def test_unknown_schedule_is_404(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
        for schedule_id in (str(uuid.uuid4()), "not-a-uuid"):
            url = f"{schedules_url(tenant, flow_id)}{schedule_id}/"
            for method in ("PATCH", "DELETE"):
                response = await client.request(method, url, json={}, headers=auth(tenant))
                assert response.status_code == 404
                assert response.json()["detail"] == "Schedule not found"

    async def test_schedule_of_another_flow_is_404(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str
    ) -> None:
        schedule = (await post(client, tenant, flow_id, VALID)).json()
        other = await create_flow(client, tenant, batch_flow())
        url = f"{schedules_url(tenant, other)}{schedule['id']}/"
        assert (await client.patch(url, json={}, headers=auth(tenant))).status_code == 404


async def test_delete(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
    schedule = (await post(client, tenant, flow_id, VALID)).json()
    url = f"{schedules_url(tenant, flow_id)}{schedule['id']}/"
    response = await client.delete(url, headers=auth(tenant))
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(schedules_url(tenant, flow_id), headers=auth(tenant))).json() == []


async def test_unknown_flow_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for flow_id in (str(uuid.uuid4()), "nope"):
        assert (await client.get(schedules_url(tenant, flow_id), headers=auth(tenant))).status_code == 404
        assert (await post(client, tenant, flow_id, VALID)).status_code == 404


async def test_scopes(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    owner = await make_tenant()
    flow_id = await create_flow(client, owner, batch_flow())
    reader = await make_tenant(email=owner.email, scopes=["hog_flow:read"])
    headers = {"Authorization": f"Bearer {reader.api_key}"}
    assert (await client.get(schedules_url(owner, flow_id), headers=headers)).status_code == 200
    response = await client.post(schedules_url(owner, flow_id), json=VALID, headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "API key missing required scope 'hog_flow:write'"
