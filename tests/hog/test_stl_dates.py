"""Date and datetime functions honour IANA time zones (zoneinfo)."""

from __future__ import annotations

from typing import Any

import pytest

from app.hog import HogVMError
from app.hog.opcodes import Op
from app.hog.printing import print_hog_value

from .vm_helpers import call, push, run, value


def stl(name: str, *args: Any) -> Any:
    return value(*call(name, *args))


def dt(epoch: float, zone: str = "UTC") -> dict[str, Any]:
    return {"__hogDateTime__": True, "dt": float(epoch), "zone": zone}


MAY_3 = 1714739696.0  # 2024-05-03T12:34:56Z


def apply(name: str, moment: dict[str, Any], *args: Any) -> Any:
    return value(*push_dt(moment), *(part for arg in args for part in push(arg)), Op.CALL_GLOBAL, name, 1 + len(args))


def push_dt(moment: dict[str, Any]) -> list[Any]:
    return [*push(float(moment["dt"])), Op.CALL_GLOBAL, "fromUnixTimestamp", 1, *push(moment["zone"]),
            Op.CALL_GLOBAL, "toTimeZone", 2]  # fmt: skip


def test_iso_strings_in_zones() -> None:
    assert stl("toString", dt(MAY_3)) == "2024-05-03T12:34:56.000Z"
    assert stl("toString", dt(MAY_3, "Europe/Brussels")) == "2024-05-03T14:34:56.000+02:00"
    assert stl("toString", dt(MAY_3, "America/New_York")) == "2024-05-03T08:34:56.000-04:00"
    assert stl("toString", dt(1704067200.5, "Asia/Kolkata")) == "2024-01-01T05:30:00.500+05:30"
    assert print_hog_value(dt(MAY_3, "Europe/Brussels")) == "DateTime(1714739696.0, 'Europe/Brussels')"


def test_to_date_time_parses_offsets_and_zones() -> None:
    assert stl("toDateTime", "2024-05-03T12:34:56Z") == dt(MAY_3)
    assert stl("toDateTime", "2024-05-03T14:34:56+02:00") == dt(MAY_3)
    # A naive string is read in the requested zone and keeps that zone.
    assert stl("toDateTime", "2024-05-03 14:34:56", "Europe/Brussels") == dt(MAY_3, "Europe/Brussels")
    assert stl("toDateTime", 1714739696) == dt(MAY_3)
    with pytest.raises(HogVMError, match="Unknown time zone"):
        run(*call("toDateTime", "2024-05-03", "Mars/Olympus"))


def test_dates() -> None:
    assert stl("toDate", "2024-05-03") == {"__hogDate__": True, "year": 2024, "month": 5, "day": 3}
    assert stl("toString", stl("toDate", "2024-05-03")) == "2024-05-03"
    assert stl("toInt", stl("toDate", "2024-05-03")) == 19846
    # Late evening in New York is already the next day in UTC: the date follows the value's zone.
    assert apply("toDate", dt(1714780800 - 3600, "America/New_York"))["day"] == 3
    assert stl("typeof", stl("today")) == "date"
    assert stl("typeof", stl("now", "Europe/Paris")) == "datetime"
    assert stl("now", "Europe/Paris")["zone"] == "Europe/Paris"


def test_unix_timestamps() -> None:
    assert stl("toUnixTimestamp", dt(MAY_3, "Asia/Tokyo")) == MAY_3
    assert stl("toUnixTimestampMilli", stl("fromUnixTimestampMilli", 1234334543123)) == 1234334543123
    assert stl("toUnixTimestamp", "2024-05-03", "Europe/Brussels") == MAY_3 - 12 * 3600 - 34 * 60 - 56 - 7200
    assert stl("toFloat", stl("fromUnixTimestamp", 1.5)) == 1.5


def test_parts_in_zone() -> None:
    # 2024-12-31T23:30:00Z is already 2025 in Brussels.
    new_year_eve = dt(1735687800, "Europe/Brussels")
    assert apply("toYear", new_year_eve) == 2025
    assert apply("toMonth", new_year_eve) == 1
    assert apply("toYYYYMM", new_year_eve) == 202501
    assert value(*push("hour"), *push_dt(new_year_eve), Op.CALL_GLOBAL, "extract", 2) == 0
    assert value(*push("year"), *push_dt(dt(1735687800)), Op.CALL_GLOBAL, "extract", 2) == 2024


def test_start_of_and_trunc_use_wall_clock_time() -> None:
    moment = dt(MAY_3, "America/New_York")  # Friday 08:34:56 local
    assert stl("toString", apply("toStartOfDay", moment)) == "2024-05-03T00:00:00.000-04:00"
    assert stl("toString", apply("toStartOfHour", moment)) == "2024-05-03T08:00:00.000-04:00"
    assert stl("toString", apply("toStartOfMonth", moment)) == "2024-05-01T00:00:00.000-04:00"
    assert stl("toString", apply("toStartOfWeek", moment)) == "2024-04-29T00:00:00.000-04:00"
    truncated = value(*push("minute"), *push_dt(moment), Op.CALL_GLOBAL, "dateTrunc", 2)
    assert stl("toString", truncated) == "2024-05-03T08:34:00.000-04:00"


def test_date_add_across_dst_keeps_wall_clock() -> None:
    # 2024-03-30 12:00 Brussels (+01:00) + 1 day = 2024-03-31 12:00 (+02:00): 23 hours later.
    before = stl("toDateTime", "2024-03-30 12:00:00", "Europe/Brussels")
    after = value(*push("day"), *push(1), *push_dt(before), Op.CALL_GLOBAL, "dateAdd", 3)
    assert stl("toString", after) == "2024-03-31T12:00:00.000+02:00"
    assert after["dt"] - before["dt"] == 23 * 3600
    hours = value(*push("hour"), *push(24), *push_dt(before), Op.CALL_GLOBAL, "dateAdd", 3)
    assert stl("toString", hours) == "2024-03-31T13:00:00.000+02:00"


def test_month_arithmetic_clamps_the_day() -> None:
    jan_31 = stl("toDateTime", "2024-01-31T10:00:00Z")
    feb = value(*push("month"), *push(1), *push_dt(jan_31), Op.CALL_GLOBAL, "dateAdd", 3)
    assert stl("toString", feb) == "2024-02-29T10:00:00.000Z"
    date = value(*push("year"), *push(1), *call("toDate", "2024-02-29"), Op.CALL_GLOBAL, "dateAdd", 3)
    assert date == {"__hogDate__": True, "year": 2025, "month": 2, "day": 28}
    assert stl("toString", value(*call("toDate", "2024-05-03"), *push(2), Op.CALL_GLOBAL, "addDays", 2)) == "2024-05-05"


def test_date_diff() -> None:
    a = stl("toDateTime", "2024-01-31T23:00:00Z")
    b = stl("toDateTime", "2024-02-01T01:00:00Z")
    diff = [*push_dt(a), *push_dt(b), Op.CALL_GLOBAL, "dateDiff", 3]
    assert value(*push("day"), *diff) == 1
    assert value(*push("hour"), *diff) == 2
    assert value(*push("month"), *diff) == 1
    assert value(*push("minute"), *diff) == 120
    assert value(*push("year"), *diff) == 0


def test_intervals() -> None:
    interval = stl("toIntervalDay", 2)
    assert interval == {"__hogInterval__": True, "value": 2, "unit": "day"}
    later = value(*call("toIntervalDay", 2), *push_dt(dt(MAY_3)), Op.PLUS)
    assert later["dt"] == MAY_3 + 2 * 86400


def test_format_date_time_tokens_and_zones() -> None:
    moment = dt(1234377543.123456)
    fmt = [*push_dt(moment)]
    assert value(*fmt, *push("%Y-%m-%d %H:%i:%S"), Op.CALL_GLOBAL, "formatDateTime", 2) == "2009-02-11 18:39:03"
    in_brussels = value(*fmt, *push("%H:%i %z"), *push("Europe/Brussels"), Op.CALL_GLOBAL, "formatDateTime", 3)
    assert in_brussels == "19:39 +0100"
    assert value(*fmt, *push("%a %b %e %j %p %M %W %Q %f %%"), Op.CALL_GLOBAL, "formatDateTime", 2) == (
        "Wed Feb 11 042 PM February Wednesday 1 123456 %"
    )
    assert value(*fmt, *push("%q stays"), Op.CALL_GLOBAL, "formatDateTime", 2) == "%q stays"
