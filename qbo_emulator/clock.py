"""Time as QBO shows it: Pacific offsets, plus an offset tests can advance."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


class Clock:
    """Wall clock with a settable offset, so token expiry and the CDC window can be tested."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    def pacific(self, ts: float | None = None) -> datetime:
        return datetime.fromtimestamp(self.now() if ts is None else ts, PACIFIC)

    def meta_time(self, ts: float | None = None) -> str:
        """MetaData times: seconds precision, Pacific offset (e.g. 2014-09-11T16:48:43-07:00)."""
        return self.pacific(ts).replace(microsecond=0).isoformat()

    def response_time(self, ts: float | None = None) -> str:
        """Envelope "time": milliseconds, Pacific offset (e.g. 2015-07-23T11:04:15.496-07:00)."""
        return self.pacific(ts).isoformat(timespec="milliseconds")

    def today(self) -> str:
        # QBO's default TxnDate is the server's (Pacific) calendar day.
        return self.pacific().date().isoformat()


def parse_instant(text: str) -> float | None:
    """A query/CDC time value as epoch seconds; bare dates mean Pacific midnight."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=PACIFIC).timestamp()
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PACIFIC)
    return parsed.timestamp()


def add_days(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
