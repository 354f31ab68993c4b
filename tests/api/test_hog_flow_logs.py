"""`GET {p}/hog_flows/{id}/logs/` (spec/api.md §7.1) and the batched log writes behind it (executor.md §7.1)."""

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import LogEntry
from app.db.repositories.observability import ObservabilityRepository, nudge_log_timestamps
from app.db.session import session_scope
from app.engine.records import LogRecord
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, create_schedule_flow, flows_url
from tests.conftest import TenantFactory

Sessions = async_sessionmaker[AsyncSession]

T0 = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
RUN = "run-1"


def logs_url(tenant: Tenant, flow_id: str, prefix: str = "environments") -> str:
    return f"{flows_url(tenant, prefix)}{flow_id}/logs/"


def record(
    tenant: Tenant,
    flow_id: str,
    message: str,
    timestamp: datetime,
    level: str = "info",
    instance_id: str = RUN,
) -> LogRecord:
    return LogRecord(
        team_id=tenant.team_id,
        log_source_id=flow_id,
        instance_id=instance_id,
        timestamp=timestamp,
        level=level,
        message=message,
    )


async def add_logs(sessionmaker: Sessions, records: list[LogRecord]) -> list[LogRecord]:
    async with session_scope(sessionmaker) as session:
        return await ObservabilityRepository(session).add_logs(records)


async def get_logs(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str, **params: str | int | list[str]
) -> httpx.Response:
    return await client.get(logs_url(tenant, flow_id), params=params, headers=auth(tenant))


def messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [entry["message"] for entry in response.json()["results"]]


@pytest.fixture
async def flow_id(client: httpx.AsyncClient, tenant: Tenant) -> str:
    return await create_schedule_flow(client, tenant)


class TestResponse:
    async def test_newest_first_with_upper_case_levels(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(
            sessionmaker,
            [
                record(tenant, flow_id, "first", T0, "debug"),
                record(tenant, flow_id, "third", T0 + timedelta(seconds=2), "error", instance_id="run-2"),
                record(tenant, flow_id, "second", T0 + timedelta(seconds=1), "Warn"),
            ],
        )
        for prefix in ("environments", "projects"):
            response = await client.get(logs_url(tenant, flow_id, prefix), headers=auth(tenant))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["count"] == 3
            assert body["next"] is None and body["previous"] is None
            assert body["results"] == [
                {
                    "log_source_id": flow_id,
                    "instance_id": "run-2",
                    "timestamp": "2025-01-01T12:00:02.123456Z",
                    "level": "ERROR",
                    "message": "third",
                },
                {
                    "log_source_id": flow_id,
                    "instance_id": RUN,
                    "timestamp": "2025-01-01T12:00:01.123456Z",
                    "level": "WARN",
                    "message": "second",
                },
                {
                    "log_source_id": flow_id,
                    "instance_id": RUN,
                    "timestamp": "2025-01-01T12:00:00.123456Z",
                    "level": "DEBUG",
                    "message": "first",
                },
            ]

    async def test_whole_seconds_keep_microseconds_in_the_output(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(sessionmaker, [record(tenant, flow_id, "whole", datetime(2025, 3, 1, 8, 0, tzinfo=UTC))])
        body = (await get_logs(client, tenant, flow_id)).json()
        assert body["results"][0]["timestamp"] == "2025-03-01T08:00:00.000000Z"

    async def test_trailing_slash_is_optional_and_empty_flow(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str
    ) -> None:
        response = await client.get(logs_url(tenant, flow_id).rstrip("/"), headers=auth(tenant))
        assert response.status_code == 200
        assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


class TestLimitAndPagination:
    async def test_default_limit_is_50(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(sessionmaker, [record(tenant, flow_id, f"m{i}", T0 + timedelta(seconds=i)) for i in range(60)])
        body = (await get_logs(client, tenant, flow_id)).json()
        assert body["count"] == 50
        assert [entry["message"] for entry in body["results"]] == [f"m{i}" for i in range(59, 9, -1)]
        assert body["next"] is None and body["previous"] is None

    async def test_limit_caps_the_list_before_paginating(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(sessionmaker, [record(tenant, flow_id, f"m{i}", T0 + timedelta(seconds=i)) for i in range(10)])
        body = (await get_logs(client, tenant, flow_id, limit=3)).json()
        assert body["count"] == 3
        assert [entry["message"] for entry in body["results"]] == ["m9", "m8", "m7"]
        assert body["next"] is None and body["previous"] is None

        # count <= limit, so an offset pages within the newest `limit` entries only.
        body = (await get_logs(client, tenant, flow_id, limit=5, offset=2)).json()
        assert body["count"] == 5
        assert [entry["message"] for entry in body["results"]] == ["m7", "m6", "m5"]
        assert body["next"] is None
        previous = urlparse(body["previous"])
        assert previous.path == logs_url(tenant, flow_id)
        assert parse_qs(previous.query) == {"limit": ["5"]}

        body = (await get_logs(client, tenant, flow_id, limit=3, offset=3)).json()
        assert body["count"] == 3 and body["results"] == []

    async def test_offset_without_limit_pages_by_100(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(sessionmaker, [record(tenant, flow_id, f"m{i}", T0 + timedelta(seconds=i)) for i in range(4)])
        body = (await get_logs(client, tenant, flow_id, offset=1)).json()
        assert body["count"] == 4
        assert [entry["message"] for entry in body["results"]] == ["m2", "m1", "m0"]
        assert body["next"] is None
        assert parse_qs(urlparse(body["previous"]).query) == {"limit": ["100"]}

    @pytest.mark.parametrize(
        ("limit", "code", "detail"),
        [
            ("0", "min_value", "Ensure this value is greater than or equal to 1."),
            ("501", "max_value", "Ensure this value is less than or equal to 500."),
            ("abc", "invalid_input", "A valid integer is required."),
        ],
    )
    async def test_invalid_limit(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, limit: str, code: str, detail: str
    ) -> None:
        response = await get_logs(client, tenant, flow_id, limit=limit)
        assert response.status_code == 400
        assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": "limit"}

    async def test_limit_bounds_are_accepted(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(sessionmaker, [record(tenant, flow_id, f"m{i}", T0 + timedelta(seconds=i)) for i in range(2)])
        assert messages(await get_logs(client, tenant, flow_id, limit=1)) == ["m1"]
        assert messages(await get_logs(client, tenant, flow_id, limit=500)) == ["m1", "m0"]

    async def test_unusable_offset_falls_back_to_zero(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(sessionmaker, [record(tenant, flow_id, f"m{i}", T0 + timedelta(seconds=i)) for i in range(2)])
        for offset in ("x", "-3"):
            assert messages(await get_logs(client, tenant, flow_id, offset=offset)) == ["m1", "m0"]


class TestFilters:
    async def test_after_and_before_are_exclusive(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(sessionmaker, [record(tenant, flow_id, f"m{i}", T0 + timedelta(minutes=i)) for i in range(4)])
        after = (T0 + timedelta(minutes=1)).isoformat()
        before = (T0 + timedelta(minutes=3)).isoformat()
        assert messages(await get_logs(client, tenant, flow_id, after=after)) == ["m3", "m2"]
        assert messages(await get_logs(client, tenant, flow_id, before=before)) == ["m2", "m1", "m0"]
        assert messages(await get_logs(client, tenant, flow_id, after=after, before=before)) == ["m2"]

    async def test_datetime_formats(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(
            sessionmaker,
            [
                record(tenant, flow_id, "morning", datetime(2025, 1, 1, 9, tzinfo=UTC)),
                record(tenant, flow_id, "noon", datetime(2025, 1, 1, 12, tzinfo=UTC)),
            ],
        )
        # Z, an offset, and no offset (read as UTC).
        assert messages(await get_logs(client, tenant, flow_id, after="2025-01-01T10:00:00Z")) == ["noon"]
        assert messages(await get_logs(client, tenant, flow_id, after="2025-01-01T11:00:00+02:00")) == ["noon"]
        assert messages(await get_logs(client, tenant, flow_id, before="2025-01-01T10:00:00")) == ["morning"]
        assert messages(await get_logs(client, tenant, flow_id, before="2025-01-01T09:00:00.000001Z")) == ["morning"]

    @pytest.mark.parametrize("param", ["after", "before"])
    async def test_invalid_datetime(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, param: str) -> None:
        response = await get_logs(client, tenant, flow_id, **{param: "yesterday"})
        assert response.status_code == 400
        body = response.json()
        assert body["type"] == "validation_error" and body["attr"] == param
        assert body["code"] == "invalid_input"

    async def test_datetime_out_of_range(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
        response = await get_logs(client, tenant, flow_id, before="9999-12-31T23:59:59-05:00")
        assert response.status_code == 400
        assert response.json()["attr"] == "before"

    async def test_level_is_comma_separated_and_case_insensitive(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        levels = ["debug", "info", "warn", "error", "INFO"]
        await add_logs(
            sessionmaker,
            [record(tenant, flow_id, f"{lvl}-{i}", T0 + timedelta(seconds=i), lvl) for i, lvl in enumerate(levels)],
        )
        assert messages(await get_logs(client, tenant, flow_id, level="info")) == ["INFO-4", "info-1"]
        assert messages(await get_logs(client, tenant, flow_id, level="ERROR,Debug")) == ["error-3", "debug-0"]
        assert messages(await get_logs(client, tenant, flow_id, level=" warn , error ")) == ["error-3", "warn-2"]
        # The older repeated-parameter form still works.
        assert messages(await get_logs(client, tenant, flow_id, level=["warn", "debug"])) == ["warn-2", "debug-0"]
        assert messages(await get_logs(client, tenant, flow_id, level="log")) == []

    async def test_search_is_a_case_insensitive_substring(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        texts = ["Workflow completed", "Executing action [Action:abc]", "Sent 100% of batch", "Sent 1000 items"]
        await add_logs(
            sessionmaker, [record(tenant, flow_id, text, T0 + timedelta(seconds=i)) for i, text in enumerate(texts)]
        )
        assert messages(await get_logs(client, tenant, flow_id, search="WORKFLOW")) == ["Workflow completed"]
        assert messages(await get_logs(client, tenant, flow_id, search="action:A")) == [texts[1]]
        # LIKE wildcards in the search text are literal characters.
        assert messages(await get_logs(client, tenant, flow_id, search="100%")) == ["Sent 100% of batch"]
        assert messages(await get_logs(client, tenant, flow_id, search="1_0")) == []
        assert messages(await get_logs(client, tenant, flow_id, search="sent")) == [texts[3], texts[2]]

    async def test_instance_id(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(
            sessionmaker,
            [
                record(tenant, flow_id, "a1", T0, instance_id="run-a"),
                record(tenant, flow_id, "b1", T0 + timedelta(seconds=1), instance_id="run-b"),
                record(tenant, flow_id, "a2", T0 + timedelta(seconds=2), instance_id="run-a"),
            ],
        )
        assert messages(await get_logs(client, tenant, flow_id, instance_id="run-a")) == ["a2", "a1"]
        assert messages(await get_logs(client, tenant, flow_id, instance_id="run-b")) == ["b1"]
        assert messages(await get_logs(client, tenant, flow_id, instance_id="nope")) == []

    async def test_filters_combine(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_logs(
            sessionmaker,
            [
                record(tenant, flow_id, "boom one", T0, "error", "run-a"),
                record(tenant, flow_id, "boom two", T0 + timedelta(seconds=1), "info", "run-a"),
                record(tenant, flow_id, "boom three", T0 + timedelta(seconds=2), "error", "run-b"),
                record(tenant, flow_id, "quiet", T0 + timedelta(seconds=3), "error", "run-a"),
            ],
        )
        response = await get_logs(client, tenant, flow_id, level="error", search="boom", instance_id="run-a", limit=10)
        assert messages(response) == ["boom one"]

    async def test_only_this_flow_team_and_source(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        flow_id: str,
        sessionmaker: Sessions,
        make_tenant: TenantFactory,
    ) -> None:
        other_flow = await create_schedule_flow(client, tenant)
        other_team = await make_tenant()
        await add_logs(
            sessionmaker,
            [
                record(tenant, flow_id, "mine", T0),
                record(tenant, other_flow, "other flow", T0),
                LogRecord(other_team.team_id, flow_id, RUN, T0, "info", "other team, same source id"),
            ],
        )
        async with session_scope(sessionmaker) as session:
            session.add(
                LogEntry(
                    team_id=tenant.team_id,
                    log_source="hog_function",
                    log_source_id=flow_id,
                    instance_id=RUN,
                    timestamp=T0,
                    level="info",
                    message="other source",
                )
            )
        assert messages(await get_logs(client, tenant, flow_id)) == ["mine"]
        assert messages(await get_logs(client, tenant, other_flow)) == ["other flow"]


class TestTimestampNudge:
    async def test_same_millisecond_entries_are_spread_and_keep_their_order(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        stored = await add_logs(
            sessionmaker,
            [
                record(tenant, flow_id, "one", T0),
                record(tenant, flow_id, "two", T0),
                record(tenant, flow_id, "three", T0 + timedelta(microseconds=100)),
                record(tenant, flow_id, "other run", T0, instance_id="run-2"),
            ],
        )
        assert [entry.timestamp for entry in stored] == [
            T0,
            datetime(2025, 1, 1, 12, 0, 0, 124000, tzinfo=UTC),
            datetime(2025, 1, 1, 12, 0, 0, 125000, tzinfo=UTC),
            T0,
        ]
        body = (await get_logs(client, tenant, flow_id, instance_id=RUN)).json()
        assert [(entry["message"], entry["timestamp"]) for entry in body["results"]] == [
            ("three", "2025-01-01T12:00:00.125000Z"),
            ("two", "2025-01-01T12:00:00.124000Z"),
            ("one", "2025-01-01T12:00:00.123456Z"),
        ]
        other = (await get_logs(client, tenant, flow_id, instance_id="run-2")).json()
        assert other["results"][0]["timestamp"] == "2025-01-01T12:00:00.123456Z"

    def test_unsorted_batches_are_sorted_per_run_before_nudging(self) -> None:
        later = T0 + timedelta(milliseconds=5)
        batch = [
            LogRecord(1, "flow", RUN, later, "info", "late"),
            LogRecord(1, "flow", RUN, T0, "info", "early-a"),
            LogRecord(1, "flow", RUN, T0, "info", "early-b"),
            LogRecord(1, "flow", RUN, T0 + timedelta(microseconds=500), "info", "early-c"),
            LogRecord(1, "other-flow", RUN, T0, "info", "other source"),
        ]
        result = nudge_log_timestamps(batch)
        assert [entry.message for entry in result] == [entry.message for entry in batch]
        by_message = {entry.message: entry.timestamp for entry in result}
        assert by_message["early-a"] == T0
        assert by_message["early-b"] == datetime(2025, 1, 1, 12, 0, 0, 124000, tzinfo=UTC)
        assert by_message["early-c"] == datetime(2025, 1, 1, 12, 0, 0, 125000, tzinfo=UTC)
        assert by_message["late"] == later  # already on a later millisecond
        assert by_message["other source"] == T0
        run = sorted((e for e in result if e.log_source_id == "flow"), key=lambda e: e.timestamp)
        assert [entry.message for entry in run] == ["early-a", "early-b", "early-c", "late"]
        millis = [entry.timestamp.replace(microsecond=entry.timestamp.microsecond // 1000 * 1000) for entry in run]
        assert len(set(millis)) == len(millis)

    def test_a_crowded_run_is_pushed_forward(self) -> None:
        batch = [LogRecord(1, "flow", RUN, T0, "info", str(i)) for i in range(3)]
        batch.append(LogRecord(1, "flow", RUN, T0 + timedelta(milliseconds=1), "info", "3"))
        result = nudge_log_timestamps(batch)
        assert [entry.timestamp - T0 for entry in result] == [
            timedelta(0),
            timedelta(microseconds=544),
            timedelta(microseconds=1544),
            timedelta(microseconds=2544),
        ]

    def test_empty_batch(self) -> None:
        assert nudge_log_timestamps([]) == []


class TestAccess:
    async def test_unknown_and_malformed_flow_ids(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        not_found = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
        for flow_id in (str(uuid.uuid4()), "not-a-uuid", "123"):
            response = await get_logs(client, tenant, flow_id)
            assert response.status_code == 404, flow_id
            assert response.json() == not_found
        # The flow is looked up before the parameters are validated.
        response = await get_logs(client, tenant, str(uuid.uuid4()), limit=0)
        assert response.status_code == 404

    async def test_flow_of_another_team_is_not_found(
        self, client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory, sessionmaker: Sessions
    ) -> None:
        # Same user, two teams: the flow exists, but not under the team in the URL.
        second = await make_tenant(email=tenant.email)
        flow_id = await create_schedule_flow(client, second)
        await add_logs(sessionmaker, [record(second, flow_id, "hello", T0)])
        assert (await get_logs(client, tenant, flow_id)).status_code == 404
        assert messages(await get_logs(client, second, flow_id)) == ["hello"]

    async def test_other_organization_is_forbidden(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, make_tenant: TenantFactory
    ) -> None:
        intruder = await make_tenant()
        response = await client.get(logs_url(tenant, flow_id), headers=auth(intruder))
        assert response.status_code == 403
        assert response.json()["detail"] == "You don't have access to the project."

    async def test_missing_read_scope(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        reader = await make_tenant(scopes=["hog_flow:read"])
        assert (await get_logs(client, reader, str(uuid.uuid4()))).status_code == 404  # let through: no such flow
        unscoped = await make_tenant(scopes=["feature_flag:read"])
        response = await get_logs(client, unscoped, str(uuid.uuid4()))
        assert response.status_code == 403
        assert response.json() == {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": "API key missing required scope 'hog_flow:read'",
            "attr": None,
        }

    async def test_read_scope_reads_logs(
        self, client: httpx.AsyncClient, make_tenant: TenantFactory, sessionmaker: Sessions
    ) -> None:
        writer = await make_tenant()
        flow_id = await create_schedule_flow(client, writer)
        reader = await make_tenant(email=writer.email, scopes=["hog_flow:read"])
        await add_logs(sessionmaker, [record(writer, flow_id, "hello", T0)])
        response = await client.get(logs_url(writer, flow_id), headers=auth(reader))
        assert messages(response) == ["hello"]

    async def test_no_credentials(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
        response = await client.get(logs_url(tenant, flow_id))
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
