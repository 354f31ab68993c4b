"""RRULE occurrences: local-time expansion across DST, and restarting long rules without changing them."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from app.batch.rrules import InvalidRRule, RRuleTooExpensive, next_occurrences, validate_rrule

NOW = datetime(2026, 3, 27, 10, 17, 41, tzinfo=UTC)

RULES = [
    "FREQ=SECONDLY;INTERVAL=7",
    "FREQ=SECONDLY;INTERVAL=3600",
    "FREQ=MINUTELY;INTERVAL=45",
    "FREQ=MINUTELY;BYHOUR=9;BYMINUTE=0",
    "FREQ=HOURLY;INTERVAL=5",
    "FREQ=HOURLY;BYMINUTE=0,30;BYDAY=MO,WE",
    "FREQ=DAILY;INTERVAL=3;BYHOUR=9,17",
    "FREQ=DAILY;BYSETPOS=-1;BYHOUR=8,20",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=DAILY;COUNT=5000",
    "FREQ=HOURLY;UNTIL=20260401T000000",
]


def brute_force(text: str, starts_at: datetime, zone: str, after: datetime, count: int) -> list[datetime]:
    tz = ZoneInfo(zone)
    rule = rrulestr(text, dtstart=starts_at.astimezone(tz).replace(tzinfo=None), ignoretz=True)
    current = after.astimezone(tz).replace(tzinfo=None)
    found = []
    for _ in range(count):
        occurrence = rule.after(current, inc=False)
        if occurrence is None:
            break
        found.append(occurrence.replace(tzinfo=tz).astimezone(UTC))
        current = occurrence
    return found


@pytest.mark.parametrize("text", RULES)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Prague", "America/St_Johns"])
def test_restarted_rules_give_the_occurrences_of_the_original(text: str, zone: str) -> None:
    # Far enough back that the rule is restarted many periods later (brute force stays affordable).
    days = 3 if "SECONDLY" in text or "MINUTELY" in text else 400
    starts_at = NOW - timedelta(days=days, hours=3, minutes=11, seconds=5)
    expected = brute_force(text, starts_at, zone, NOW, 4)
    assert next_occurrences(text, starts_at, zone, after=NOW, count=4) == expected


def test_nine_in_the_morning_stays_local_across_dst() -> None:
    starts_at = datetime(2026, 3, 1, tzinfo=UTC)
    before = next_occurrences(
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", starts_at, "Europe/Prague", after=NOW - timedelta(days=3)
    )
    after = next_occurrences(
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", starts_at, "Europe/Prague", after=NOW + timedelta(days=3)
    )
    assert before[0].hour == 8  # CET
    assert after[0].hour == 7  # CEST


def test_a_secondly_rule_from_long_ago_is_fast() -> None:
    found = next_occurrences("FREQ=SECONDLY", datetime(1970, 1, 1, tzinfo=UTC), "UTC", after=NOW, count=2)
    assert found == [
        NOW.replace(microsecond=0) + timedelta(seconds=1),
        NOW.replace(microsecond=0) + timedelta(seconds=2),
    ]


def test_a_rule_that_cannot_be_restarted_is_bounded() -> None:
    with pytest.raises(RRuleTooExpensive):
        next_occurrences("FREQ=SECONDLY;COUNT=100000000", datetime(2020, 1, 1, tzinfo=UTC), "UTC", after=NOW)


def test_exhausted_rule_has_no_occurrences() -> None:
    assert next_occurrences("FREQ=DAILY;COUNT=3", datetime(2020, 1, 1, tzinfo=UTC), "UTC", after=NOW) == []


@pytest.mark.parametrize("text", ["FREQ=NEVER", "", "DTSTART:20200101T000000Z\nRRULE:FREQ=DAILY", "INTERVAL=2"])
def test_invalid_rules(text: str) -> None:
    with pytest.raises(InvalidRRule):
        validate_rrule(text)


def test_unknown_time_zone_raises() -> None:
    with pytest.raises((KeyError, ValueError)):
        next_occurrences("FREQ=DAILY", NOW, "Mars/Olympus", after=NOW)
