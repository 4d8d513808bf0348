"""Live-chat hours: a weekly schedule in the store's timezone, holidays, short days, next opening."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triage.errors import ConfigurationError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> date:
    d = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() - weekday) % 7)


NAMED_HOLIDAYS = {
    "new_years_day": lambda y: date(y, 1, 1),
    "memorial_day": lambda y: _last_weekday(y, 5, 0),
    "independence_day": lambda y: date(y, 7, 4),
    "labor_day": lambda y: _nth_weekday(y, 9, 0, 1),
    "thanksgiving": lambda y: _nth_weekday(y, 11, 3, 4),
    "day_after_thanksgiving": lambda y: _nth_weekday(y, 11, 3, 4) + timedelta(days=1),
    "christmas_eve": lambda y: date(y, 12, 24),
    "christmas_day": lambda y: date(y, 12, 25),
}


def _parse_ranges(spec, where: str) -> list[tuple[time, time]]:
    if isinstance(spec, str):
        spec = [] if spec.strip().lower() in ("", "closed") else [spec]
    out = []
    for item in spec:
        try:
            a, b = item.split("-")
            start, end = time.fromisoformat(a.strip()), time.fromisoformat(b.strip())
        except ValueError:
            raise ConfigurationError(f"[hours] {where}: '{item}' is not a range like \"09:00-18:00\"") from None
        if end <= start:
            raise ConfigurationError(f"[hours] {where}: '{item}' ends before it starts")
        out.append((start, end))
    return sorted(out)


def _holiday_date(name: str, year: int) -> date | None:
    if name in NAMED_HOLIDAYS:
        return NAMED_HOLIDAYS[name](year)
    try:
        d = date.fromisoformat(name)
    except ValueError:
        raise ConfigurationError(f"[hours] holiday '{name}' is neither a known name ({', '.join(NAMED_HOLIDAYS)}) "
                                 "nor a YYYY-MM-DD date") from None
    return d if d.year == year else None


class LiveChatHours:
    def __init__(self, config: dict):
        try:
            self.tz = ZoneInfo(config.get("timezone", "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"[hours] unknown timezone '{config.get('timezone')}'") from None
        self.label = config.get("label") or config.get("timezone", "UTC")
        self.weekly = {d: _parse_ranges(config.get(d, []), d) for d in DAYS}
        self.holidays = list(config.get("holidays", []))
        self.short_days = {k: _parse_ranges(v, f"short_days.{k}") for k, v in config.get("short_days", {}).items()}
        for name in self.holidays + list(self.short_days):
            _holiday_date(name, 2026)  # validate names now, not at 2 AM on a customer's chat

    def ranges_on(self, d: date) -> list[tuple[time, time]]:
        for name, ranges in self.short_days.items():
            if _holiday_date(name, d.year) == d:
                return ranges
        if any(_holiday_date(name, d.year) == d for name in self.holidays):
            return []
        return self.weekly[DAYS[d.weekday()]]

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        return any(a <= local.time() < b for a, b in self.ranges_on(local.date()))

    def next_opening(self, now: datetime) -> datetime | None:
        """The next time agents come online (strictly after ``now`` if closed now)."""
        local = now.astimezone(self.tz)
        for offset in range(0, 15):
            d = local.date() + timedelta(days=offset)
            for a, _ in self.ranges_on(d):
                start = datetime.combine(d, a, tzinfo=self.tz)
                if start > local:
                    return start
        return None

    def describe_next_opening(self, now: datetime) -> str:
        """e.g. "9:00 AM ET on Tuesday" / "10:00 AM ET tomorrow" / "9:00 AM ET on Monday, December 28"."""
        nxt = self.next_opening(now)
        if nxt is None:
            return "as soon as possible"
        local_now = now.astimezone(self.tz)
        clock = nxt.strftime("%I:%M %p").lstrip("0")
        days = (nxt.date() - local_now.date()).days
        if days == 0:
            when = "today"
        elif days == 1:
            when = f"tomorrow ({nxt.strftime('%A')})"
        elif days < 7:
            when = f"on {nxt.strftime('%A')}"
        else:
            when = f"on {nxt.strftime('%A')}, {nxt.strftime('%B')} {nxt.day}"
        return f"{clock} {self.label} {when}"
