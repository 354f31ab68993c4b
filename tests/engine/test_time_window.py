"""`wait_until_time_window`: open windows pass now; closed ones wait for the next opening."""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.engine.actions.time_window import next_window_start, resolve_timezone

UTC_ZONE = ZoneInfo("UTC")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SATURDAY_10 = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("config", "now", "expected"),
    [
        ({"day": "any", "time": "any"}, MONDAY_10, None),
        ({"day": "weekday", "time": ["09:00", "17:00"]}, MONDAY_10, None),
        ({"day": "weekday", "time": ["11:00", "17:00"]}, MONDAY_10, datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
        ({"day": "weekday", "time": ["08:00", "09:00"]}, MONDAY_10, datetime(2026, 3, 3, 8, 0, tzinfo=UTC)),
        ({"day": "weekend", "time": "any"}, MONDAY_10, datetime(2026, 3, 7, 0, 0, tzinfo=UTC)),
        ({"day": "weekday", "time": "any"}, SATURDAY_10, datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),
        ({"day": ["wednesday"], "time": ["09:00", "10:00"]}, MONDAY_10, datetime(2026, 3, 4, 9, 0, tzinfo=UTC)),
        ({"day": "any", "time": ["22:00", "02:00"]}, datetime(2026, 3, 2, 1, 0, tzinfo=UTC), None),
        ({"day": "any", "time": ["22:00", "02:00"]}, MONDAY_10, datetime(2026, 3, 2, 22, 0, tzinfo=UTC)),
    ],
)
def test_windows_in_utc(config: dict[str, Any], now: datetime, expected: datetime | None) -> None:
    assert next_window_start(config, now, UTC_ZONE) == expected


def test_window_in_a_named_timezone() -> None:
    zone = ZoneInfo("America/New_York")
    # 10:00 UTC is 05:00 in New York: the 09:00 window opens at 14:00 UTC.
    opening = next_window_start({"day": "any", "time": ["09:00", "17:00"]}, MONDAY_10, zone)
    assert opening is not None
    assert opening.astimezone(UTC) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_person_timezone_with_fallback() -> None:
    config = {"use_person_timezone": True, "fallback_timezone": "Europe/Paris", "timezone": "Asia/Tokyo"}
    assert resolve_timezone(config, {"properties": {"$geoip_time_zone": "America/Chicago"}}).key == "America/Chicago"
    assert resolve_timezone(config, {"properties": {"$geoip_time_zone": "Not/AZone"}}).key == "Europe/Paris"
    assert resolve_timezone({"timezone": "Asia/Tokyo"}, None).key == "Asia/Tokyo"
    assert resolve_timezone({"timezone": None}, None).key == "UTC"
