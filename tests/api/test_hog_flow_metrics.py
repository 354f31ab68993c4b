"""`GET {p}/hog_flows/{id}/metrics/` and `.../metrics/totals/` (spec/api.md §7.2, §7.3).

Windows use explicit, fixed `after`/`before` wherever labels are compared, so nothing depends on
when the suite runs. Tests of relative dates (which are anchored at now) compare against
expectations computed both just before and just after the request.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import AppMetric, Team
from app.db.repositories.observability import MetricQuery, ObservabilityRepository
from app.db.session import session_scope
from app.engine.records import MetricRecord
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, create_schedule_flow, flows_url
from tests.conftest import TenantFactory

Sessions = async_sessionmaker[AsyncSession]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, tz: Any = UTC) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=tz)


def metrics_url(tenant: Tenant, flow_id: str, prefix: str = "environments") -> str:
    return f"{flows_url(tenant, prefix)}{flow_id}/metrics/"


def totals_url(tenant: Tenant, flow_id: str, prefix: str = "environments") -> str:
    return f"{metrics_url(tenant, flow_id, prefix)}totals/"


def metric(
    tenant: Tenant,
    flow_id: str,
    timestamp: datetime,
    name: str = "succeeded",
    kind: str = "success",
    count: int = 1,
    instance_id: str | None = None,
) -> MetricRecord:
    return MetricRecord(
        team_id=tenant.team_id,
        app_source_id=flow_id,
        instance_id=instance_id,
        metric_kind=kind,
        metric_name=name,
        timestamp=timestamp,
        count=count,
    )


async def add_metrics(sessionmaker: Sessions, records: list[MetricRecord]) -> None:
    async with session_scope(sessionmaker) as session:
        await ObservabilityRepository(session).add_metrics(records)


async def set_team_timezone(sessionmaker: Sessions, tenant: Tenant, timezone: str) -> None:
    async with session_scope(sessionmaker) as session:
        await session.execute(update(Team).where(Team.id == tenant.team_id).values(timezone=timezone))


async def get_metrics(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, **params: str) -> dict[str, Any]:
    response = await client.get(metrics_url(tenant, flow_id), params=params, headers=auth(tenant))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_totals(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, **params: str) -> dict[str, int]:
    response = await client.get(totals_url(tenant, flow_id), params=params, headers=auth(tenant))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"totals"}
    totals: dict[str, int] = response.json()["totals"]
    return totals


def series(body: dict[str, Any]) -> dict[str, list[int]]:
    named = {entry["name"]: entry["values"] for entry in body["series"]}
    assert len(named) == len(body["series"])
    for values in named.values():
        assert len(values) == len(body["labels"])
    return named


def days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


@pytest.fixture
async def flow_id(client: httpx.AsyncClient, tenant: Tenant) -> str:
    return await create_schedule_flow(client, tenant)


class TestBuckets:
    async def test_daily_series_per_kind_with_zeros(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2024, 12, 31, 23, 59, 59)),  # before `after`
                metric(tenant, flow_id, at(2025, 1, 1, 0, 0), count=2),  # exactly `after`: in
                metric(tenant, flow_id, at(2025, 1, 1, 23, 59, 59)),
                metric(tenant, flow_id, at(2025, 1, 3, 0, 0), "failed", "failure"),
                metric(tenant, flow_id, at(2025, 1, 3, 12, 0), count=5),  # exactly `before`: in
                metric(tenant, flow_id, at(2025, 1, 3, 12, 0, 1)),  # after `before`
            ],
        )
        for prefix in ("environments", "projects"):
            response = await client.get(
                metrics_url(tenant, flow_id, prefix),
                params={"after": "2025-01-01", "before": "2025-01-03T12:00:00"},
                headers=auth(tenant),
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["labels"] == ["2025-01-01", "2025-01-02", "2025-01-03"]
            assert series(body) == {"success": [3, 0, 5], "failure": [0, 0, 1]}

    async def test_breakdown_by_name(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2025, 1, 1, 10), "triggered", "other", 4),
                metric(tenant, flow_id, at(2025, 1, 1, 11), "filtered", "other"),
                metric(tenant, flow_id, at(2025, 1, 2, 9), "succeeded", "success", 2),
                metric(tenant, flow_id, at(2025, 1, 2, 9), "succeeded", "success", 1, instance_id="action_1"),
            ],
        )
        window = {"after": "2025-01-01", "before": "2025-01-02T23:59:59"}
        body = await get_metrics(client, tenant, flow_id, breakdown_by="name", **window)
        assert body["labels"] == ["2025-01-01", "2025-01-02"]
        assert series(body) == {"triggered": [4, 0], "filtered": [1, 0], "succeeded": [0, 3]}
        body = await get_metrics(client, tenant, flow_id, breakdown_by="kind", **window)
        assert series(body) == {"other": [5, 0], "success": [0, 3]}

    async def test_hourly_labels_floor_after_to_the_hour(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2025, 1, 1, 10, 15)),  # in the first bucket but before `after`
                metric(tenant, flow_id, at(2025, 1, 1, 10, 45)),
                metric(tenant, flow_id, at(2025, 1, 1, 10, 59, 59), "failed", "failure"),
                metric(tenant, flow_id, at(2025, 1, 1, 12, 0), count=3),
                metric(tenant, flow_id, at(2025, 1, 1, 13, 0)),
            ],
        )
        body = await get_metrics(
            client, tenant, flow_id, after="2025-01-01T10:30:00Z", before="2025-01-01T13:00:00Z", interval="hour"
        )
        assert body["labels"] == ["2025-01-01T10:00", "2025-01-01T11:00", "2025-01-01T12:00", "2025-01-01T13:00"]
        assert series(body) == {"success": [1, 0, 3, 1], "failure": [1, 0, 0, 0]}

    async def test_weekly_labels_start_on_monday(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2025, 1, 8, 9)),  # Wednesday
                metric(tenant, flow_id, at(2025, 1, 12, 23, 59)),  # Sunday: same week
                metric(tenant, flow_id, at(2025, 1, 13, 0, 0)),  # Monday: next week
                metric(tenant, flow_id, at(2025, 1, 20, 8)),
            ],
        )
        body = await get_metrics(
            client, tenant, flow_id, after="2025-01-08", before="2025-01-20T23:00", interval="week"
        )
        assert body["labels"] == ["2025-01-06", "2025-01-13", "2025-01-20"]
        assert series(body) == {"success": [2, 1, 1]}

    async def test_daily_labels_over_a_month_boundary(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str
    ) -> None:
        body = await get_metrics(client, tenant, flow_id, after="2025-01-30T18:00", before="2025-02-02T01:00")
        assert body == {"labels": ["2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02"], "series": []}

    async def test_before_earlier_than_after_gives_no_labels(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_metrics(sessionmaker, [metric(tenant, flow_id, at(2025, 1, 2))])
        body = await get_metrics(client, tenant, flow_id, after="2025-01-03", before="2025-01-01")
        assert body == {"labels": [], "series": []}


class TestFilters:
    async def test_name_kind_and_instance_filters(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        day = at(2025, 1, 1, 12)
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, day, "succeeded", "success", 2, "action_a"),
                metric(tenant, flow_id, day, "failed", "failure", 1, "action_a"),
                metric(tenant, flow_id, day, "failed", "failure", 4, "action_b"),
                metric(tenant, flow_id, day, "filtered", "other", 8),
                metric(tenant, flow_id, day, "email_sent", "email", 16, "action_b"),
            ],
        )
        window = {"after": "2025-01-01", "before": "2025-01-01T23:00", "breakdown_by": "name"}
        body = await get_metrics(client, tenant, flow_id, name="succeeded,failed", **window)
        assert series(body) == {"succeeded": [2], "failed": [5]}
        body = await get_metrics(client, tenant, flow_id, name=" filtered , email_sent ", **window)
        assert series(body) == {"filtered": [8], "email_sent": [16]}
        body = await get_metrics(client, tenant, flow_id, kind="failure,email", **window)
        assert series(body) == {"failed": [5], "email_sent": [16]}
        body = await get_metrics(client, tenant, flow_id, kind="failure", name="succeeded", **window)
        assert series(body) == {}
        body = await get_metrics(client, tenant, flow_id, instance_id="action_b", **window)
        assert series(body) == {"failed": [4], "email_sent": [16]}
        body = await get_metrics(client, tenant, flow_id, instance_id="action_a", kind="success", **window)
        assert series(body) == {"succeeded": [2]}

    async def test_only_this_flow_team_and_source(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        flow_id: str,
        sessionmaker: Sessions,
        make_tenant: TenantFactory,
    ) -> None:
        day = at(2025, 1, 1, 12)
        other_flow = await create_schedule_flow(client, tenant)
        other_team = await make_tenant()
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, day),
                metric(tenant, other_flow, day, count=10),
                metric(other_team, flow_id, day, count=100),
            ],
        )
        async with session_scope(sessionmaker) as session:
            session.add(
                AppMetric(
                    team_id=tenant.team_id,
                    app_source="hog_function",
                    app_source_id=flow_id,
                    metric_kind="success",
                    metric_name="succeeded",
                    count=1000,
                    timestamp=day,
                )
            )
        window = {"after": "2025-01-01", "before": "2025-01-01T23:00"}
        assert series(await get_metrics(client, tenant, flow_id, **window)) == {"success": [1]}
        assert series(await get_metrics(client, tenant, other_flow, **window)) == {"success": [10]}
        assert await get_totals(client, tenant, flow_id) == {"success": 1}


class TestDates:
    async def test_iso_formats(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_metrics(
            sessionmaker, [metric(tenant, flow_id, at(2025, 1, 1, 0, 30)), metric(tenant, flow_id, at(2025, 1, 1, 1))]
        )
        # An explicit offset is honoured; labels are still in the team timezone (UTC here).
        body = await get_metrics(
            client, tenant, flow_id, after="2025-01-01T02:45:00+02:00", before="2025-01-01T01:00:00Z", interval="hour"
        )
        assert body["labels"] == ["2025-01-01T00:00", "2025-01-01T01:00"]
        assert series(body) == {"success": [0, 1]}
        # Unpadded dates are accepted, like PostHog.
        body = await get_metrics(client, tenant, flow_id, after="2025-1-1", before="2025-01-01T23:00")
        assert body["labels"] == ["2025-01-01"] and series(body) == {"success": [2]}

    async def test_default_window_is_the_last_seven_days(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        now = datetime.now(UTC)
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, now - timedelta(hours=1), count=2),
                metric(tenant, flow_id, now - timedelta(days=6, hours=12), count=3),
                metric(tenant, flow_id, now - timedelta(days=8)),  # outside
                metric(tenant, flow_id, now + timedelta(hours=1)),  # after `before` (now)
            ],
        )
        start = datetime.now(UTC)
        body = await get_metrics(client, tenant, flow_id)
        end = datetime.now(UTC)
        assert body["labels"] in (days((moment - timedelta(days=7)).date(), moment.date()) for moment in (start, end))
        assert len(body["labels"]) == 8
        assert sum(series(body)["success"]) == 5

    @pytest.mark.parametrize(
        ("after", "delta"),
        [
            ("-7d", relativedelta(days=7)),
            ("-1w", relativedelta(weeks=1)),
            ("-1m", relativedelta(months=1)),
            ("-1q", relativedelta(weeks=13)),
            ("-1y", relativedelta(years=1)),
            ("-2m", relativedelta(months=2)),
        ],
    )
    async def test_relative_after_is_now_minus_the_delta(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, after: str, delta: relativedelta
    ) -> None:
        start = datetime.now(UTC)
        body = await get_metrics(client, tenant, flow_id, after=after)
        end = datetime.now(UTC)
        assert body["labels"] in (days((moment - delta).date(), moment.date()) for moment in (start, end))

    async def test_hours_and_minutes(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        now = datetime.now(UTC)
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, now - timedelta(minutes=10)),
                metric(tenant, flow_id, now - timedelta(minutes=50), count=2),
                metric(tenant, flow_id, now - timedelta(hours=23), count=4),
                metric(tenant, flow_id, now - timedelta(hours=25), count=8),
            ],
        )

        def hours(moment: datetime, back: timedelta) -> list[str]:
            first = (moment - back).replace(minute=0, second=0, microsecond=0)
            count = int((moment - first) / timedelta(hours=1)) + 1
            return [(first + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M") for i in range(count)]

        start = datetime.now(UTC)
        by_hour = await get_metrics(client, tenant, flow_id, after="-24h", interval="hour")
        by_minutes = await get_metrics(client, tenant, flow_id, after="-30M", interval="hour")
        end = datetime.now(UTC)
        assert by_hour["labels"] in (hours(moment, timedelta(hours=24)) for moment in (start, end))
        assert len(by_hour["labels"]) == 25
        assert sum(series(by_hour)["success"]) == 7
        assert by_minutes["labels"] in (hours(moment, timedelta(minutes=30)) for moment in (start, end))
        assert sum(series(by_minutes)["success"]) == 1

    async def test_relative_before_and_start_of_day(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        now = datetime.now(UTC)
        await add_metrics(
            sessionmaker,
            [metric(tenant, flow_id, now - timedelta(days=3)), metric(tenant, flow_id, now - timedelta(hours=1))],
        )
        body = await get_metrics(client, tenant, flow_id, after="-4d", before="-2d")
        assert len(body["labels"]) == 3
        assert sum(series(body)["success"]) == 1
        start = datetime.now(UTC)
        body = await get_metrics(client, tenant, flow_id, after="-1dStart", before="-1dEnd")
        end = datetime.now(UTC)
        assert body["labels"] in ([(moment - timedelta(days=1)).date().isoformat()] for moment in (start, end))

    @pytest.mark.parametrize("value", ["yesterday", "-7x", "7 days", "-d7", "2025-13-01", "--7d"])
    @pytest.mark.parametrize("param", ["after", "before"])
    async def test_invalid_dates(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, param: str, value: str
    ) -> None:
        for url in (metrics_url(tenant, flow_id), totals_url(tenant, flow_id)):
            response = await client.get(url, params={param: value}, headers=auth(tenant))
            assert response.status_code == 400, (url, value)
            body = response.json()
            assert body["type"] == "validation_error"
            assert body["code"] == "invalid_input"
            assert body["attr"] == param
            assert value in body["detail"]

    @pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "-99999y"])
    async def test_dates_out_of_range(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, value: str
    ) -> None:
        for url in (metrics_url(tenant, flow_id), totals_url(tenant, flow_id)):
            response = await client.get(url, params={"after": value}, headers=auth(tenant))
            assert response.status_code == 400
            assert response.json()["attr"] == "after"
            assert response.json()["detail"] == f"Date '{value}' is out of range."

    async def test_far_edges_of_the_calendar(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
        body = await get_metrics(
            client, tenant, flow_id, after="9998-12-30", before="9998-12-31T23:59", interval="week"
        )
        assert body == {"labels": ["9998-12-28"], "series": []}

    async def test_too_many_buckets(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
        response = await client.get(
            metrics_url(tenant, flow_id), params={"after": "1900-01-01", "interval": "hour"}, headers=auth(tenant)
        )
        assert response.status_code == 400
        assert response.json()["attr"] == "interval"


class TestTeamTimezone:
    async def test_dates_without_offset_and_labels_use_the_team_timezone(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await set_team_timezone(sessionmaker, tenant, "America/New_York")
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2025, 1, 1, 4, 59)),  # Dec 31, 23:59 local: before `after`
                metric(tenant, flow_id, at(2025, 1, 1, 5, 0)),  # Jan 1, 00:00 local
                metric(tenant, flow_id, at(2025, 1, 2, 3, 0), count=2),  # Jan 1, 22:00 local
                metric(tenant, flow_id, at(2025, 1, 2, 6, 0), count=4),  # Jan 2, 01:00 local
                metric(tenant, flow_id, at(2025, 1, 3, 4, 0), count=8),  # Jan 2, 23:00 local: after `before`
            ],
        )
        body = await get_metrics(client, tenant, flow_id, after="2025-01-01", before="2025-01-02T22:00")
        assert body["labels"] == ["2025-01-01", "2025-01-02"]
        assert series(body) == {"success": [3, 4]}
        # An explicit offset still wins over the team timezone.
        body = await get_metrics(client, tenant, flow_id, after="2025-01-02T00:00:00Z", before="2025-01-02T22:00")
        assert body["labels"] == ["2025-01-01", "2025-01-02"]
        assert series(body) == {"success": [2, 4]}
        totals = await get_totals(client, tenant, flow_id, after="2025-01-01", before="2025-01-02T22:00")
        assert totals == {"success": 7}

    async def test_half_hour_offsets_in_hourly_buckets(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await set_team_timezone(sessionmaker, tenant, "Asia/Kolkata")  # UTC+05:30
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2025, 1, 1, 4, 40)),  # 10:10 local
                metric(tenant, flow_id, at(2025, 1, 1, 5, 29, 59), count=2),  # 10:59:59 local
                metric(tenant, flow_id, at(2025, 1, 1, 5, 30), count=4),  # 11:00 local
                metric(tenant, flow_id, at(2025, 1, 1, 6, 15), count=8),  # 11:45 local
            ],
        )
        body = await get_metrics(
            client, tenant, flow_id, after="2025-01-01T10:00", before="2025-01-01T11:50", interval="hour"
        )
        assert body["labels"] == ["2025-01-01T10:00", "2025-01-01T11:00"]
        assert series(body) == {"success": [3, 12]}

    async def test_days_across_a_dst_change(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await set_team_timezone(sessionmaker, tenant, "America/New_York")  # clocks go forward 2025-03-09
        new_york = ZoneInfo("America/New_York")
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2025, 3, 9, 23, 30, tz=new_york)),  # 2025-03-10 03:30 UTC
                metric(tenant, flow_id, at(2025, 3, 10, 0, 30, tz=new_york), count=2),
                metric(tenant, flow_id, at(2025, 3, 8, 23, 30, tz=new_york), count=4),
                metric(tenant, flow_id, at(2025, 3, 9, 0, 30, tz=new_york), count=8),
            ],
        )
        body = await get_metrics(client, tenant, flow_id, after="2025-03-08", before="2025-03-10T12:00")
        assert body["labels"] == ["2025-03-08", "2025-03-09", "2025-03-10"]
        assert series(body) == {"success": [4, 9, 2]}
        hourly = await get_metrics(
            client, tenant, flow_id, after="2025-03-09T00:00", before="2025-03-09T04:00", interval="hour"
        )
        # 02:00 does not exist that night.
        assert hourly["labels"] == ["2025-03-09T00:00", "2025-03-09T01:00", "2025-03-09T03:00", "2025-03-09T04:00"]
        assert series(hourly) == {"success": [8, 0, 0, 0]}

    async def test_unknown_team_timezone_falls_back_to_utc(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await set_team_timezone(sessionmaker, tenant, "Mars/Olympus_Mons")
        await add_metrics(sessionmaker, [metric(tenant, flow_id, at(2025, 1, 1, 23, 30))])
        body = await get_metrics(client, tenant, flow_id, after="2025-01-01", before="2025-01-01T23:59")
        assert body == {"labels": ["2025-01-01"], "series": [{"name": "success", "values": [1]}]}


class TestValidation:
    @pytest.mark.parametrize(
        ("param", "value"), [("interval", "month"), ("interval", "HOUR"), ("breakdown_by", "instance")]
    )
    async def test_invalid_choices(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, param: str, value: str
    ) -> None:
        for url in (metrics_url(tenant, flow_id), totals_url(tenant, flow_id)):
            response = await client.get(url, params={param: value}, headers=auth(tenant))
            assert response.status_code == 400
            assert response.json() == {
                "type": "validation_error",
                "code": "invalid_choice",
                "detail": f'"{value}" is not a valid choice.',
                "attr": param,
            }


class TestTotals:
    async def test_totals_by_kind_and_name(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        now = datetime.now(UTC)
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, now - timedelta(hours=1), "succeeded", "success", 10, "action_a"),
                metric(tenant, flow_id, now - timedelta(days=30), "succeeded", "success", 5),
                metric(tenant, flow_id, now - timedelta(days=2), "failed", "failure", 2, "action_a"),
                metric(tenant, flow_id, now - timedelta(days=2), "filtered", "other", 1),
                metric(tenant, flow_id, now - timedelta(days=400), "triggered", "other", 7),
            ],
        )
        for prefix in ("environments", "projects"):
            response = await client.get(totals_url(tenant, flow_id, prefix), headers=auth(tenant))
            assert response.json() == {"totals": {"success": 15, "failure": 2, "other": 8}}
        assert await get_totals(client, tenant, flow_id, breakdown_by="name") == {
            "succeeded": 15,
            "failed": 2,
            "filtered": 1,
            "triggered": 7,
        }
        assert await get_totals(client, tenant, flow_id, name="succeeded,failed") == {"success": 15, "failure": 2}
        assert await get_totals(client, tenant, flow_id, kind="other", breakdown_by="name") == {
            "filtered": 1,
            "triggered": 7,
        }

    async def test_dates_apply_only_when_given(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        now = datetime.now(UTC)
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, now - timedelta(hours=1), count=1),
                metric(tenant, flow_id, now - timedelta(days=3), count=2),
                metric(tenant, flow_id, now - timedelta(days=30), count=4),
                metric(tenant, flow_id, now + timedelta(days=1), count=8),
            ],
        )
        assert await get_totals(client, tenant, flow_id) == {"success": 15}
        assert await get_totals(client, tenant, flow_id, after="-7d") == {"success": 11}
        assert await get_totals(client, tenant, flow_id, before="-1d") == {"success": 6}
        assert await get_totals(client, tenant, flow_id, after="-7d", before="-0d") == {"success": 3}
        assert await get_totals(client, tenant, flow_id, after="-3w", before="-2d") == {"success": 2}

    async def test_instance_id_and_interval_are_ignored(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        day = at(2025, 1, 1)
        await add_metrics(
            sessionmaker,
            [metric(tenant, flow_id, day, instance_id="a"), metric(tenant, flow_id, day, count=2, instance_id="b")],
        )
        assert await get_totals(client, tenant, flow_id, instance_id="a", interval="hour") == {"success": 3}

    async def test_absolute_window(
        self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str, sessionmaker: Sessions
    ) -> None:
        await add_metrics(
            sessionmaker,
            [
                metric(tenant, flow_id, at(2025, 1, 1, 0, 0)),
                metric(tenant, flow_id, at(2025, 1, 2, 0, 0), count=2),
                metric(tenant, flow_id, at(2025, 1, 2, 0, 0, 1), count=4),
            ],
        )
        assert await get_totals(client, tenant, flow_id, after="2025-01-01", before="2025-01-02T00:00:00Z") == {
            "success": 3
        }
        assert await get_totals(client, tenant, flow_id, after="2025-01-01T00:00:00.000001") == {"success": 6}

    async def test_empty(self, client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> None:
        assert await get_totals(client, tenant, flow_id) == {}


class TestRepository:
    async def test_series_and_totals_directly(self, sessionmaker: Sessions, tenant: Tenant) -> None:
        source = str(uuid.uuid4())
        records = [metric(tenant, source, at(2025, 1, 1, hour), count=hour) for hour in range(24)]
        async with session_scope(sessionmaker) as session:
            repo = ObservabilityRepository(session)
            await repo.add_metrics(records)
            await repo.add_metrics([])
            query = MetricQuery(team_id=tenant.team_id, source_id=source, after=at(2025, 1, 1), before=at(2025, 1, 2))
            starts = [at(2025, 1, 1, 0), at(2025, 1, 1, 6), at(2025, 1, 1, 12), at(2025, 1, 1, 18)]
            assert await repo.metric_series(query, starts) == {"success": [15, 51, 87, 123]}
            assert await repo.metric_series(query, []) == {}
            # Bucket starts off the 15-minute grid still split exactly.
            odd = [at(2025, 1, 1, 0), at(2025, 1, 1, 5, 0, 7)]
            assert await repo.metric_series(query, odd) == {"success": [15, 261]}
            assert await repo.metric_totals(query) == {"success": 276}


class TestAccess:
    @pytest.fixture(params=["metrics", "totals"])
    def url_of(self, request: pytest.FixtureRequest) -> Callable[[Tenant, str], str]:
        return metrics_url if request.param == "metrics" else totals_url

    async def test_unknown_and_malformed_flow_ids(
        self, client: httpx.AsyncClient, tenant: Tenant, url_of: Callable[[Tenant, str], str]
    ) -> None:
        for flow_id in (str(uuid.uuid4()), "nope"):
            response = await client.get(url_of(tenant, flow_id), headers=auth(tenant))
            assert response.status_code == 404
            assert response.json() == {
                "type": "invalid_request",
                "code": "not_found",
                "detail": "Not found.",
                "attr": None,
            }
        response = await client.get(url_of(tenant, str(uuid.uuid4())), params={"interval": "x"}, headers=auth(tenant))
        assert response.status_code == 404

    async def test_flow_of_another_team_is_not_found(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        make_tenant: TenantFactory,
        url_of: Callable[[Tenant, str], str],
    ) -> None:
        second = await make_tenant(email=tenant.email)
        flow_id = await create_schedule_flow(client, second)
        assert (await client.get(url_of(tenant, flow_id), headers=auth(tenant))).status_code == 404
        assert (await client.get(url_of(second, flow_id), headers=auth(tenant))).status_code == 200

    async def test_other_organization_is_forbidden(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        flow_id: str,
        make_tenant: TenantFactory,
        url_of: Callable[[Tenant, str], str],
    ) -> None:
        intruder = await make_tenant()
        response = await client.get(url_of(tenant, flow_id), headers=auth(intruder))
        assert response.status_code == 403
        assert response.json()["detail"] == "You don't have access to the project."

    async def test_scopes(
        self, client: httpx.AsyncClient, make_tenant: TenantFactory, url_of: Callable[[Tenant, str], str]
    ) -> None:
        owner = await make_tenant()
        flow_id = await create_schedule_flow(client, owner)
        reader = await make_tenant(email=owner.email, scopes=["hog_flow:read"])
        assert (await client.get(url_of(owner, flow_id), headers=auth(reader))).status_code == 200
        unscoped = await make_tenant(email=owner.email, scopes=["insight:read"])
        response = await client.get(url_of(owner, flow_id), headers=auth(unscoped))
        assert response.status_code == 403
        assert response.json()["detail"] == "API key missing required scope 'hog_flow:read'"
        assert (await client.get(url_of(owner, flow_id))).status_code == 401


async def test_openapi_describes_the_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for prefix in ("/api/environments/{team_id}", "/api/projects/{team_id}"):
        for path, model in (
            ("logs/", "HogFlowLogEntryPage"),
            ("metrics/", "HogFlowMetrics"),
            ("metrics/totals/", "HogFlowMetricTotals"),
        ):
            operation = spec["paths"][f"{prefix}/hog_flows/{{flow_id}}/{path}"]["get"]
            assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
            schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith(f"/{model}")
            assert "hog_flows" in operation["tags"]
    metrics = spec["paths"]["/api/environments/{team_id}/hog_flows/{flow_id}/metrics/"]["get"]
    params = {param["name"] for param in metrics["parameters"]}
    assert {"after", "before", "interval", "breakdown_by", "name", "kind", "instance_id"} <= params
    logs = spec["paths"]["/api/environments/{team_id}/hog_flows/{flow_id}/logs/"]["get"]
    assert {"limit", "offset", "after", "before", "level", "search", "instance_id"} <= {
        param["name"] for param in logs["parameters"]
    }
