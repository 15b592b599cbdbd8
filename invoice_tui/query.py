"""The `/` box's query language: plain words, and terms that name a field.

    vox "PSTN calls" status:past-due -status:cancelled provider:unleash account:acme
    currency:EUR total>1000 total<=5 due<2026-12-01 since:2026-01 until:2026-06

* A word (or a quoted phrase) is found in the invoice's search text — number, label,
  status, account and line descriptions, case-folded (``view.search_text``).
* ``field:value`` (or ``field=value``) matches a field: ``status`` (the raw word, what
  the table shows, or what it means: ``status:overdue`` finds Unleash's ``past-due``),
  ``provider`` (its name starts with the value), ``account`` (its name contains it),
  ``currency`` (the code).
* ``total`` compares the invoice total as a number (``total>1000``, ``total<=5``);
  ``due`` and ``issued`` compare dates: ``YYYY-MM-DD``, or a month or a year as a range
  (``due<2026-12`` is before December, ``due<=2026-12`` up to its end).
* ``since:`` / ``until:`` keep invoices issued in or after / in or before a month or year.
* ``-`` before any term negates it. All terms must hold (AND).

Parsing never fails: a term it cannot use is left out of the filter, with a short hint
(:attr:`Query.problems`) for the box to show while the user types.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Literal, NamedTuple

from invoice_tui.meaning import label_of_status, status_meaning
from invoice_tui.text import sanitize

__all__ = [
    "AMOUNT_OPERATORS", "DATE_FIELDS", "FIELDS", "TEXT_FIELDS", "Operator", "Query", "Term",
    "compare_amount", "compare_day", "day_bounds", "parse_query", "status_matches",
    "text_field_matches",
]

Operator = Literal["=", "<", "<=", ">", ">="]

#: Fields matched as text, by what each one's rule is.
TEXT_FIELDS = ("status", "provider", "account", "currency")
#: Fields compared as dates (a day, or a month or year taken as a range of days).
DATE_FIELDS = ("due", "issued")
#: Fields that take a month or a year: the issued period's bounds.
PERIOD_FIELDS = ("since", "until")
#: Every field name a term may start with.
FIELDS = (*TEXT_FIELDS, "total", *DATE_FIELDS, *PERIOD_FIELDS)

# A term: an optional "-", then a field and an operator, or not; then a quoted phrase or
# a run of non-space characters. An unclosed quote runs to the end (still being typed).
_TERM = re.compile(
    r"""(?P<neg>-)?
        (?:(?P<field>[A-Za-z_]+)(?P<op><=|>=|:|=|<|>))?
        (?:"(?P<quoted>[^"]*)"?|(?P<bare>\S+))?""",
    re.VERBOSE,
)
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_AMOUNT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE_HINT = "use YYYY-MM-DD, YYYY-MM or YYYY"


class Term(NamedTuple):
    """One term of a query.

    ``field`` is ``"text"`` for a word or phrase. What it compares with is in one of
    ``text`` (case-folded: words and text fields), ``amount`` (total) or ``days`` (the
    first and last day of a date, month or year: due, issued, since, until).
    """

    field: str
    op: Operator = "="
    text: str = ""
    amount: Decimal | None = None
    days: tuple[dt.date, dt.date] | None = None
    negated: bool = False
    source: str = ""  # the term as typed (sanitized), for chips and hints


class Query(NamedTuple):
    """A parsed query: the terms that filter, and a hint for each that could not."""

    text: str = ""
    terms: tuple[Term, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        """The words and phrases every invoice must contain (case-folded)."""
        return tuple(t.text for t in self.terms if t.field == "text" and not t.negated)

    @property
    def excluded_words(self) -> tuple[str, ...]:
        """The words and phrases no invoice may contain (case-folded)."""
        return tuple(t.text for t in self.terms if t.field == "text" and t.negated)

    @property
    def field_terms(self) -> tuple[Term, ...]:
        """The terms that name a field (status, total, due, …)."""
        return tuple(t for t in self.terms if t.field != "text")

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse_query(text: str) -> Query:
    """Parse what was typed into the `/` box (never raises; see the module doc)."""
    terms: list[Term] = []
    problems: list[str] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TERM.match(text, position)
        assert match is not None  # every part of the pattern is optional
        if match.end() == position:  # cannot happen with \S+, kept as a guard
            position += 1
            continue
        position = match.end()
        term, problem = _term(match)
        if term is not None:
            terms.append(term)
        if problem:
            problems.append(problem)
    return Query(text, tuple(terms), tuple(problems))


def _term(match: re.Match[str]) -> tuple[Term | None, str | None]:
    negated = match.group("neg") is not None
    name, op = match.group("field"), match.group("op")
    quoted = match.group("quoted")
    value = quoted if quoted is not None else (match.group("bare") or "")
    source = sanitize(match.group(0))
    if name is None:
        if not value:  # a lone "-": nothing to match yet
            return None, None
        return Term("text", text=_fold(value), negated=negated, source=source), None
    folded_name = name.casefold()
    if folded_name not in FIELDS:
        # Not a field: a word with a colon in it (a URL, "12:30"); a near miss is a typo.
        close = difflib.get_close_matches(folded_name, FIELDS, n=1, cutoff=0.75)
        text_term = Term("text", text=_fold(f"{name}{op}{value}"), negated=negated, source=source)
        if close and op != "=":
            return text_term, (f"{sanitize(name)}{op} is not a filter — did you mean "
                               f"{close[0]}{op}?")
        return text_term, None
    if not value:
        return None, f"{folded_name}{op} needs a value, e.g. {_EXAMPLES[folded_name]}"
    operator: Operator = "=" if op in (":", "=") else op  # type: ignore[assignment]
    return _BUILDERS[folded_name](Term(folded_name, operator, negated=negated, source=source),
                                  value)


def _fold(text: str) -> str:
    return sanitize(text).casefold()


_EXAMPLES = {
    "status": "status:past-due", "provider": "provider:unleash", "account": "account:acme",
    "currency": "currency:EUR", "total": "total>1000", "due": "due<2026-12-01",
    "issued": "issued>=2026-01", "since": "since:2026-01", "until": "until:2026-06",
}

_Built = tuple[Term | None, str | None]


def _text_field(term: Term, value: str) -> _Built:
    if term.op != "=":
        return None, f"{term.field} is matched, not compared — {_EXAMPLES[term.field]}"
    return term._replace(text=_fold(value)), None


def _total(term: Term, value: str) -> _Built:
    cleaned = value.replace(",", "").replace("_", "")
    if not _AMOUNT.match(cleaned):
        return None, f"{term.field} needs a number — {_EXAMPLES[term.field]}"
    return term._replace(amount=Decimal(cleaned)), None


def _date_range(value: str) -> tuple[dt.date, dt.date] | None:
    match = _DATE.match(value)
    if match is None:
        return None
    year = int(match.group(1))
    try:
        if match.group(2) is None:
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        month = int(match.group(2))
        if match.group(3) is None:
            last = calendar.monthrange(year, month)[1]
            return dt.date(year, month, 1), dt.date(year, month, last)
        day = dt.date(year, month, int(match.group(3)))
    except ValueError:
        return None
    return day, day


def _date(term: Term, value: str) -> _Built:
    found = _date_range(value)
    if found is None:
        return None, f"{term.source} is not a date — {_DATE_HINT}"
    return term._replace(days=found), None


def _period(term: Term, value: str) -> _Built:
    if term.op != "=":
        return None, f"{term.field} takes a month or a year — {_EXAMPLES[term.field]}"
    found = _date_range(value)
    if found is None or found[0] == found[1]:  # a single day is not a month or a year
        return None, f"{term.source} is not a month or a year — {_EXAMPLES[term.field]}"
    return term._replace(days=found), None


_BUILDERS: dict[str, Callable[[Term, str], _Built]] = {
    **{name: _text_field for name in TEXT_FIELDS},
    "total": _total,
    **{name: _date for name in DATE_FIELDS},
    **{name: _period for name in PERIOD_FIELDS},
}


# --- matching one invoice's plain facts (the view runs these over its index) -----------

def status_matches(term: Term, provider: str, status: str) -> bool:
    """``status:X``: the raw status, what the table shows, or what it means."""
    wanted = term.text
    return (wanted == status.strip().casefold()
            or wanted == label_of_status(provider, status).casefold()
            or wanted == status_meaning(provider, status))


def text_field_matches(term: Term, value: str) -> bool:
    """``provider:`` by prefix, ``account:`` by substring, ``currency:`` exactly."""
    folded = value.casefold()
    if term.field == "provider":
        return folded.startswith(term.text)
    if term.field == "account":
        return term.text in folded
    return folded == term.text


#: ``total``'s operators: the invoice's total on the left, the term's amount on the right.
AMOUNT_OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq,
}


def compare_amount(term: Term, value: Decimal | None) -> bool:
    """``total`` against the term; a missing total never matches."""
    if value is None or term.amount is None:
        return False
    return AMOUNT_OPERATORS[term.op](value, term.amount)


def day_bounds(term: Term) -> tuple[dt.date, dt.date]:
    """The first and last day a date may be to match a date term (an empty range, first
    after last, when none can): ``<`` is before the term's day, month or year, ``<=`` up to
    its end, ``>`` after it, ``>=`` from its start, ``=`` inside it; ``since``/``until``
    from the start / up to the end."""
    if term.days is None:
        return dt.date.max, dt.date.min
    first, last = term.days
    if term.field == "since":
        return first, dt.date.max
    if term.field == "until":
        return dt.date.min, last
    if term.op == "<":
        return (dt.date.min, first - _DAY) if first > dt.date.min else (dt.date.max, dt.date.min)
    if term.op == ">":
        return (last + _DAY, dt.date.max) if last < dt.date.max else (dt.date.max, dt.date.min)
    if term.op == "<=":
        return dt.date.min, last
    if term.op == ">=":
        return first, dt.date.max
    return first, last


def compare_day(term: Term, value: dt.date | None) -> bool:
    """``due``/``issued``/``since``/``until`` against the term; no date never matches."""
    if value is None or term.days is None:
        return False
    first, last = day_bounds(term)
    return first <= value <= last


_DAY = dt.timedelta(days=1)
