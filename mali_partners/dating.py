"""Dating: resolve the time expressions of a sentence against its article's publication date.

A partner mention is dated by the temporal expression nearest to it in its own
sentence ("in May 2021", "on 31 January", "Monday February 6", "since 2013", "two
years ago", "last Wednesday", "in recent months", "the past ten years"), resolved
against the article's publication interval; otherwise by the publication interval
itself (source ``publication``). Every date is an interval (earliest, latest) with a
precision code, as ACLED and UCDP keep one:

* ``day``, ``month``, ``year``: a point of that size;
* ``range``: an interval the text gives ("since 2013", "in August 2020 and May 2021",
  "last Wednesday" when the publication date itself is a range);
* ``publication``: no usable expression: the article's own (possibly ranged) date.

A date that cannot be resolved safely (a day and month without a year when the
publication interval spans two years, a weekday that fits no year near the article,
or a date after the article's latest possible publication date) falls back to the
publication date and is flagged in ``date_note``: a wrong date is worse than a coarse one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache, lru_cache

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS["sept"] = 9
WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
NUMBERS.update({"a": 1, "an": 1, "a few": 3, "few": 3, "several": 3, "a couple of": 2})

_M = r"(?P<{0}>January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_Y = r"(?P<{0}>(?:19[4-9]\d|20[0-4]\d))"
_D = r"(?P<{0}>[0-3]?\d)(?:st|nd|rd|th)?"
_W = r"(?P<{0}>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_N = r"(?P<{0}>\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|a couple of|few|several|a|an)"

# Ordered: the first pattern that matches a stretch of text claims it.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "weekday_month_day",
        re.compile(
            _W.format("wd")
            + r",?\s+"
            + _M.format("m")
            + r"\s+"
            + _D.format("d")
            + r"(?:,?\s+"
            + _Y.format("y")
            + r")?\b"
        ),
    ),
    (
        "day_month_year",
        re.compile(r"\b" + _D.format("d") + r"\s+" + _M.format("m") + r",?\s+" + _Y.format("y") + r"\b"),
    ),
    ("month_day_year", re.compile(r"\b" + _M.format("m") + r"\s+" + _D.format("d") + r",\s+" + _Y.format("y") + r"\b")),
    (
        "month_year_and_month_year",
        re.compile(
            r"\b"
            + _M.format("m")
            + r"\s+"
            + _Y.format("y")
            + r"\s+(?:and|to|until|-|–)\s+"
            + _M.format("m2")
            + r"\s+"
            + _Y.format("y2")
            + r"\b"
        ),
    ),
    ("month_year", re.compile(r"\b" + _M.format("m") + r",?\s+(?:of\s+)?" + _Y.format("y") + r"\b")),
    ("month_of_that_year", re.compile(r"\b" + _M.format("m") + r"\s+of\s+(?:that|the same)\s+year\b")),
    ("day_month", re.compile(r"\b" + _D.format("d") + r"\s+" + _M.format("m") + r"\b")),
    (
        "month_day",
        re.compile(r"\b" + _M.format("m") + r"\s+" + _D.format("d") + r"\b(?!\s*(?:million|billion|percent|%))"),
    ),
    ("years_ago", re.compile(r"\b" + _N.format("n") + r"\s+(?P<unit>year|month|week|day)s?\s+ago\b", re.I)),
    ("last_weekday", re.compile(r"\blast\s+" + _W.format("wd") + r"\b")),
    ("weekday", re.compile(r"\b(?:on\s+)?" + _W.format("wd") + r"\b")),
    (
        "past_period",
        re.compile(
            r"\b(?:the\s+|over\s+the\s+|for\s+the\s+|in\s+the\s+)?(?:past|last)\s+(?:"
            + _N.format("n")
            + r"\s+)?(?P<unit>year|month|week|decade)s?\b",
            re.I,
        ),
    ),
    ("recent_period", re.compile(r"\bin\s+recent\s+(?P<unit>year|month|week)s\b", re.I)),
    ("year_and_year", re.compile(r"\b" + _Y.format("y") + r"\s+(?:and|to|-|–)\s+" + _Y.format("y2") + r"\b")),
    ("year", re.compile(r"(?<![\d,.])" + _Y.format("y") + r"(?![\d,])")),
]
# What each pattern cannot match without (a cheap test run once per sentence): a pattern whose
# requirement is absent is skipped, which changes no result and saves most regex scans.
_MONTH_ANY = re.compile(r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec")
_YEAR_ANY = re.compile(r"(?:19[4-9]|20[0-4])\d")
_NEEDS: dict[str, tuple[str, ...]] = {
    "weekday_month_day": ("weekday", "month"),
    "day_month_year": ("month", "year"),
    "month_day_year": ("month", "year"),
    "month_year_and_month_year": ("month", "year"),
    "month_year": ("month", "year"),
    "month_of_that_year": ("month",),
    "day_month": ("month",),
    "month_day": ("month",),
    "years_ago": ("ago",),
    "last_weekday": ("weekday",),
    "weekday": ("weekday",),
    "past_period": ("past_or_last",),
    "recent_period": ("recent",),
    "year_and_year": ("year",),
    "year": ("year",),
}


def _present(text: str) -> set[str]:
    """Which pattern requirements (see ``_NEEDS``) a sentence meets."""
    low = text.lower()
    if not text.isascii():  # re.I lets "ſ" and "ı" match s and i
        low = low.replace("ſ", "s").replace("ı", "i")
    out = set()
    if _MONTH_ANY.search(text):
        out.add("month")
    if _YEAR_ANY.search(text):
        out.add("year")
    if "day" in text:  # every weekday name ends in "day"
        out.add("weekday")
    if "ago" in low:
        out.add("ago")
    if "past" in low or "last" in low:
        out.add("past_or_last")
    if "recent" in low:
        out.add("recent")
    return out


@cache  # at most 2**6 sets of requirements
def _patterns_for(present: frozenset[str]) -> list[tuple[str, re.Pattern[str]]]:
    """The patterns (in order) whose requirements a sentence meeting ``present`` meets."""
    return [(kind, pat) for kind, pat in PATTERNS if all(need in present for need in _NEEDS[kind])]


_SINCE = re.compile(r"\bsince\s+(?:the\s+)?(?:[\w’'-]+\s+){0,3}?(?:in\s+)?$", re.I)
MAX_RANGE_DAYS = 366 * 12  # beyond this a "range" is too vague to place


@dataclass(frozen=True)
class Resolved:
    """A resolved date: interval, precision, the text it came from and a note."""

    earliest: dt.date
    latest: dt.date
    precision: str
    expression: str
    start: int  # offset of the expression in the sentence
    end: int
    kind: str
    note: str = ""
    since: bool = False

    @property
    def point(self) -> dt.date:
        """Where the date sits on a time axis: the onset for "since X", else the middle."""
        if self.since:
            return self.earliest
        return self.earliest + (self.latest - self.earliest) / 2


def _month_end(y: int, m: int) -> dt.date:
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def _shift_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _shift_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _num(text: str) -> int:
    t = text.lower()
    return int(t) if t.isdigit() else NUMBERS[t]


@lru_cache(maxsize=65536)  # a pure function of small values; articles of one period repeat them
def _year_for(month: int, day: int, pub_lo: dt.date, pub_hi: dt.date) -> int | None:
    """The year of a day-month with no year: its occurrence nearest to the publication date.

    Checked for every possible publication day (in weekly steps and at both ends): if
    they do not all point to the same year, the year is ambiguous and None is returned.
    """

    def nearest(p: dt.date) -> int | None:
        cands = [dt.date(y, month, day) for y in (p.year - 1, p.year, p.year + 1) if _valid(y, month, day)]
        return min(cands, key=lambda d: (abs((d - p).days), d > p)).year if cands else None

    span = (pub_hi - pub_lo).days
    days = [pub_lo + dt.timedelta(days=k) for k in range(0, span + 1, 7)] + [pub_hi]
    years = {nearest(p) for p in days}
    return years.pop() if len(years) == 1 else None


def resolve(text: str, pub_lo: dt.date, pub_hi: dt.date) -> list[Resolved]:
    """Every time expression of a sentence, resolved against the publication interval [pub_lo, pub_hi].

    >>> [(r.expression, r.precision, str(r.earliest)) for r in resolve("After the May 2021 coup", dt.date(2023, 1, 1), dt.date(2023, 2, 1))]
    [('May 2021', 'month', '2021-05-01')]
    """
    taken: list[tuple[int, int]] = []
    out: list[Resolved] = []
    last_year: int | None = None
    for kind, pat in _patterns_for(frozenset(_present(text))):
        for m in pat.finditer(text):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            r = _resolve_one(kind, m, pub_lo, pub_hi, text, last_year)
            if r is None:
                continue
            taken.append((s, e))
            since = bool(_SINCE.search(text[max(0, s - 60) : s]))
            if since and r.precision != "publication":
                lo = r.earliest
                r = Resolved(lo, max(pub_hi, lo), "range", r.expression, s, e, kind, f"since {r.expression}", True)
            out.append(r)
    out.sort(key=lambda r: r.start)
    # "January of that year": the year of the nearest explicit year before it
    fixed = []
    for i, r in enumerate(out):
        if r.kind == "month_of_that_year":
            prev = [p for p in out[:i] if p.kind in ("month_year", "year", "day_month_year")]
            if prev:
                y = prev[-1].earliest.year
                mth = r.earliest.month
                r = Resolved(
                    dt.date(y, mth, 1),
                    _month_end(y, mth),
                    "month",
                    r.expression,
                    r.start,
                    r.end,
                    r.kind,
                    "year from an earlier date in the sentence",
                )
            else:
                continue
        fixed.append(r)
    del last_year
    return fixed


def _resolve_one(
    kind: str, m: re.Match[str], pub_lo: dt.date, pub_hi: dt.date, text: str, last_year: int | None
) -> Resolved | None:
    g = m.groupdict()
    s, e = m.span()
    expr = m.group(0).strip()
    if expr.lower().startswith("on "):
        expr, s = expr[3:], s + 3

    def mk(lo: dt.date, hi: dt.date, prec: str, note: str = "") -> Resolved:
        return Resolved(lo, hi, prec, expr, s, e, kind, note)

    try:
        if kind in ("day_month_year", "month_day_year"):
            d = dt.date(int(g["y"]), MONTHS[g["m"].lower().rstrip(".")], int(g["d"]))
            return mk(d, d, "day")
        if kind == "month_year_and_month_year":
            lo = dt.date(int(g["y"]), MONTHS[g["m"].lower()], 1)
            y2, m2 = int(g["y2"]), MONTHS[g["m2"].lower()]
            if _month_end(y2, m2) < lo:
                return None  # "May 2021 and August 2020": two dates, not a range; each is matched alone
            return mk(lo, _month_end(y2, m2), "range")
        if kind == "month_year":
            y, mo = int(g["y"]), MONTHS[g["m"].lower().rstrip(".")]
            return mk(dt.date(y, mo, 1), _month_end(y, mo), "month")
        if kind == "month_of_that_year":
            mo = MONTHS[g["m"].lower().rstrip(".")]
            return mk(dt.date(2000, mo, 1), _month_end(2000, mo), "month")  # year fixed by resolve()
        if kind in ("day_month", "month_day"):
            mo, day = MONTHS[g["m"].lower().rstrip(".")], int(g["d"])
            if not 1 <= day <= 31:
                return None
            y = _year_for(mo, day, pub_lo, pub_hi)
            if y is None:
                return mk(
                    pub_lo,
                    pub_hi,
                    "publication",
                    f"unresolved: {expr!r} has no year and the publication interval does not fix one",
                )
            d = dt.date(y, mo, day)
            return mk(d, d, "day", "year from the publication date")
        if kind == "weekday_month_day":
            mo, day, wd = MONTHS[g["m"].lower().rstrip(".")], int(g["d"]), WEEKDAYS[g["wd"].lower()]
            if g.get("y"):
                d = dt.date(int(g["y"]), mo, day)
                return mk(d, d, "day")
            years = [
                y
                for y in range(pub_lo.year - 1, pub_hi.year + 2)
                if _valid(y, mo, day) and dt.date(y, mo, day).weekday() == wd
            ]
            if not years:
                return mk(pub_lo, pub_hi, "publication", f"unresolved: no year near the article has {expr!r}")
            mid = pub_lo + (pub_hi - pub_lo) / 2
            y = min(years, key=lambda yy: abs((dt.date(yy, mo, day) - mid).days))
            d = dt.date(y, mo, day)
            return mk(d, d, "day", "year fixed by the weekday")
        if kind == "years_ago":
            n, unit = _num(g["n"]), g["unit"].lower()
            if unit == "year":
                return mk(
                    _shift_years(pub_lo, -n),
                    _shift_years(pub_hi, -n),
                    "year" if (pub_hi - pub_lo).days < 366 else "range",
                    f"{n} year(s) before publication",
                )
            if unit == "month":
                return mk(
                    _shift_months(pub_lo, -n),
                    _shift_months(pub_hi, -n),
                    "month" if (pub_hi - pub_lo).days < 32 else "range",
                )
            days = n * (7 if unit == "week" else 1)
            lo, hi = pub_lo - dt.timedelta(days=days), pub_hi - dt.timedelta(days=days)
            return mk(lo, hi, "day" if lo == hi else "range")
        if kind in ("last_weekday", "weekday"):
            wd = WEEKDAYS[g["wd"].lower()]
            if (pub_hi - pub_lo).days > 31:
                return mk(
                    pub_lo,
                    pub_hi,
                    "publication",
                    f"unresolved: {expr!r} alone cannot be placed in a publication interval longer than a month",
                )
            # the weekday on or before publication ("last": strictly before, within a week)
            lo = pub_lo - dt.timedelta(days=7 if kind == "last_weekday" else 6)
            hi = pub_hi - dt.timedelta(days=1 if kind == "last_weekday" else 0)
            days = [
                lo + dt.timedelta(days=i)
                for i in range((hi - lo).days + 1)
                if (lo + dt.timedelta(days=i)).weekday() == wd
            ]
            if not days:
                return None
            return mk(days[0], days[-1], "day" if len(days) == 1 else "range", "weekday before publication")
        if kind in ("past_period", "recent_period"):
            unit = g["unit"].lower()
            n = (
                _num(g["n"])
                if g.get("n")
                else (6 if unit == "month" and kind == "recent_period" else (3 if kind == "recent_period" else 1))
            )
            if kind == "past_period" and not g.get("n"):
                n = 1
            lo = (
                _shift_years(pub_lo, -10 * n)
                if unit == "decade"
                else _shift_years(pub_lo, -n)
                if unit == "year"
                else _shift_months(pub_lo, -n)
                if unit == "month"
                else pub_lo - dt.timedelta(weeks=n)
            )
            return mk(lo, pub_hi, "range", "a period ending at publication")
        if kind == "year_and_year":
            y1, y2 = int(g["y"]), int(g["y2"])
            if y2 < y1:
                return None
            return mk(dt.date(y1, 1, 1), dt.date(y2, 12, 31), "range")
        if kind == "year":
            y = int(g["y"])
            return mk(dt.date(y, 1, 1), dt.date(y, 12, 31), "year")
    except (ValueError, KeyError):
        return None
    return None


def _valid(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def date_mention(
    expressions: list[Resolved], mention_start: int, mention_end: int, pub_lo: dt.date, pub_hi: dt.date
) -> Resolved:
    """The date of one mention: the nearest usable expression of its sentence, else the publication date.

    Offsets are within the sentence. An expression whose date falls after the article's
    latest possible publication date, or which is too vague, is not used (flagged).
    """
    notes = []
    usable = []
    for r in expressions:
        if r.precision == "publication":
            notes.append(r.note)
        elif r.earliest > pub_hi:
            notes.append(f"unsafe: {r.expression!r} resolves after the latest publication date")
        elif (r.latest - r.earliest).days > MAX_RANGE_DAYS:
            notes.append(f"too vague: {r.expression!r}")
        else:
            usable.append(r)
    if usable:

        def dist(r: Resolved) -> tuple[int, int]:
            if r.end <= mention_start:
                return (mention_start - r.end, 0)
            if r.start >= mention_end:
                return (r.start - mention_end, 1)
            return (0, 0)

        return min(usable, key=dist)
    note = "; ".join(n for n in notes if n) or "no time expression in the sentence"
    return Resolved(pub_lo, pub_hi, "publication", "", -1, -1, "publication", note)
