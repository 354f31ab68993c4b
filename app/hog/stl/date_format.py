"""``formatDateTime`` tokens: ClickHouse's MySQL-style ``%`` specifiers (as PostHog's fixtures show).

Unknown specifiers are copied through unchanged. Names are English regardless of locale.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from app.hog.timeutil import format_offset

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _hour12(moment: _dt.datetime) -> int:
    return moment.hour % 12 or 12


_Formatter = Callable[[_dt.datetime], str]

_TOKENS: dict[str, _Formatter] = {
    "a": lambda m: _DAY_NAMES[m.weekday()][:3],
    "b": lambda m: _MONTH_NAMES[m.month - 1][:3],
    "c": lambda m: f"{m.month:02d}",
    "C": lambda m: f"{m.year % 100:02d}",
    "d": lambda m: f"{m.day:02d}",
    "D": lambda m: f"{m.month:02d}/{m.day:02d}/{m.year % 100:02d}",
    "e": lambda m: f"{m.day:2d}",
    "f": lambda m: f"{m.microsecond:06d}",
    "F": lambda m: f"{m.year:04d}-{m.month:02d}-{m.day:02d}",
    "g": lambda m: f"{m.isocalendar()[0] % 100:02d}",
    "G": lambda m: f"{m.isocalendar()[0]:04d}",
    "h": lambda m: f"{_hour12(m):02d}",
    "H": lambda m: f"{m.hour:02d}",
    "i": lambda m: f"{m.minute:02d}",
    "I": lambda m: f"{_hour12(m):02d}",
    "j": lambda m: f"{m.timetuple().tm_yday:03d}",
    "k": lambda m: f"{m.hour:02d}",
    "l": lambda m: f"{_hour12(m):02d}",
    "m": lambda m: f"{m.month:02d}",
    "M": lambda m: _MONTH_NAMES[m.month - 1],
    "n": lambda m: "\n",
    "p": lambda m: "AM" if m.hour < 12 else "PM",
    "Q": lambda m: str((m.month - 1) // 3 + 1),
    "r": lambda m: f"{_hour12(m):02d}:{m.minute:02d} {'AM' if m.hour < 12 else 'PM'}",
    "R": lambda m: f"{m.hour:02d}:{m.minute:02d}",
    "s": lambda m: f"{m.second:02d}",
    "S": lambda m: f"{m.second:02d}",
    "t": lambda m: "\t",
    "T": lambda m: f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}",
    "u": lambda m: str(m.isoweekday()),
    "V": lambda m: f"{m.isocalendar()[1]:02d}",
    "w": lambda m: str(m.isoweekday() % 7),
    "W": lambda m: _DAY_NAMES[m.weekday()],
    "y": lambda m: f"{m.year % 100:02d}",
    "Y": lambda m: f"{m.year:04d}",
    "z": lambda m: format_offset(m.utcoffset() or _dt.timedelta(0), colon=False),
    "%": lambda m: "%",
}


def format_datetime(moment: _dt.datetime, pattern: str) -> str:
    out: list[str] = []
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        if char == "%" and index + 1 < length:
            formatter = _TOKENS.get(pattern[index + 1])
            if formatter is not None:
                out.append(formatter(moment))
            else:
                out.append(pattern[index : index + 2])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)
