"""The invoice table's query model: filter, period, sort and totals over every account.

Pure Python (no Textual), built for 100 000 invoices over the SQLite store: it holds
each account's compact index (:mod:`invoice_tui.index`: what filtering, sorting,
counting and totals read, as parallel lists), keeps every invoice's number sorted once
per sort order (the *universe*; sort keys are plain ints and strings), filters by a
linear scan that keeps that order (a narrower filter — a longer query, fewer accounts,
a month inside the year — scans only the previous result), and reads the invoices
themselves from the store only when a row is looked at (``rows`` is a lazy sequence,
read a window at a time through a bounded cache). ``rows`` and ``totals`` are computed
lazily, so a burst of changes costs one recomputation.

Text cells are sanitized with :func:`invoice_tui.text.sanitize`, the one sanitizer.
"""

from __future__ import annotations

import datetime as dt
import re
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain, compress, repeat
from operator import is_, is_not, itemgetter, not_
from typing import Any, Literal, NamedTuple, Protocol, TypeVar, overload

from invoice_tui.index import (
    AccountIndex,
    Extras,
    KeySource,
    SearchTexts,
    parse_amounts,
    parse_date,
)
from invoice_tui.meaning import (
    MoneyFacts,
    MoneyTotals,
    label_of_status,
    money_facts,
    money_totals,
    status_label,
)
from invoice_tui.model import UNKNOWN_CURRENCY, Invoice, currency_code, format_money
from invoice_tui.query import (
    AMOUNT_OPERATORS,
    Query,
    Term,
    day_bounds,
    parse_query,
    status_matches,
    text_field_matches,
)
from invoice_tui.text import sanitize

_T = TypeVar("_T")

__all__ = [
    "COLUMNS", "ESTIMATE_MARK", "STORED_SORT_KEYS", "Column", "InvoiceView", "Period",
    "RowSource", "amount_key", "amount_keys", "cell_text", "column", "day_key",
    "fit_columns", "format_period", "invoice_sort_text", "natural_key", "natural_keys",
    "period_key", "search_text",
]

# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """The period filter: all time, one calendar year or one calendar month (of ``issued``)."""

    kind: Literal["all", "year", "month"] = "all"
    year: int | None = None
    month: int | None = None

    def __post_init__(self) -> None:
        if self.kind != "all" and self.year is None:
            raise ValueError(f"a {self.kind} period needs a year")
        if self.kind == "month" and not (self.month is not None and 1 <= self.month <= 12):
            raise ValueError("a month period needs a month 1-12")

    def label(self) -> str:
        """``"All time"``, ``"2026"`` or ``"2026-03"``."""
        if self.kind == "year":
            return f"{self.year:04d}"
        if self.kind == "month":
            return f"{self.year:04d}-{self.month:02d}"
        return "All time"

    def step(self, delta: int) -> Period:
        """The period ``delta`` years or months away (across year boundaries); all stays all."""
        if self.kind == "year":
            return Period("year", self._year + delta)
        if self.kind == "month":
            index = self._year * 12 + self._month - 1 + delta
            return Period("month", index // 12, index % 12 + 1)
        return self

    def contains(self, date: dt.date | None) -> bool:
        """Whether an invoice issued on ``date`` is in the period (undated: only in all time)."""
        if self.kind == "all":
            return True
        if date is None or date.year != self.year:
            return False
        return self.kind == "year" or date.month == self.month

    def days(self) -> tuple[int, int]:
        """The first and last day of a year or month period, as ordinals (empty: first > last).

        All time is every dated day; undated invoices are only in all time (``contains``).
        """
        if self.kind == "all":
            return (1, dt.date.max.toordinal())
        try:
            if self.kind == "year":
                return (dt.date(self._year, 1, 1).toordinal(),
                        dt.date(self._year, 12, 31).toordinal())
            first = dt.date(self._year, self._month, 1)
        except ValueError:  # a year outside 1-9999: stepped past any date
            return (1, 0)
        following = (first + dt.timedelta(days=32)).replace(day=1).toordinal() \
            if first.year < 9999 or first.month < 12 else dt.date.max.toordinal() + 1
        return (first.toordinal(), following - 1)

    def within(self, other: Period) -> bool:
        """Whether every date in this period is also in ``other``."""
        if other.kind == "all":
            return True
        if self.kind == "all" or self.year != other.year:
            return False
        return other.kind == "year" or (self.kind == "month" and self.month == other.month)

    def cycle(self, anchor: dt.date) -> Period:
        """all → the anchor's year → a month of that year → all (the period key's cycle).

        From a year the month is the anchor's if it lies in that year, else the month
        of that year closest to the anchor.
        """
        if self.kind == "all":
            return Period("year", anchor.year)
        if self.kind == "year":
            if anchor.year == self.year:
                return Period("month", anchor.year, anchor.month)
            return Period("month", self._year, 12 if anchor.year > self._year else 1)
        return Period()

    @property
    def _year(self) -> int:
        assert self.year is not None  # guaranteed by __post_init__ for year/month kinds
        return self.year

    @property
    def _month(self) -> int:
        assert self.month is not None
        return self.month


ALL_TIME = Period()


# --- columns -------------------------------------------------------------------------------

SortKey = Callable[[Invoice], object]

# Sort keys are plain values that compare at C speed (ints, strings): sorting 100 000
# invoices by a tuple or Decimal key costs several times more. Each is exact.

_DIGIT_RUN = re.compile(r"[0-9]+")
# Fraction digits an amount's key keeps as an int: cents. Most amounts are whole cents, so
# most keys are ints below 2^30 (amounts up to 10 million), which list.sort compares on a
# fast path (a third quicker than bigger ints); a finer amount gets an exact Decimal key on
# the same scale (an int and a Decimal compare exactly).
_AMOUNT_SCALE = 2


def _number_part(match: re.Match[str]) -> str:
    digits = match[0].lstrip("0")
    return f"\0{len(digits):04d}{digits}"


def natural_key(text: str) -> str:
    """"INV-9" before "INV-10": case-insensitive, digit runs compared as numbers.

    One string: each digit run, without leading zeros, becomes NUL + its length (4 digits)
    + the digits, so plain string order is numeric order for the numbers and text order
    (a shorter text first) between them.
    """
    return _DIGIT_RUN.sub(_number_part, text.casefold())


def amount_key(amount: Decimal | None) -> int | Decimal | None:
    """An amount's sort key: an int of 10^-2 units (a Decimal when finer), ``None`` if missing."""
    if amount is None:
        return None
    scaled = amount.scaleb(_AMOUNT_SCALE)
    whole = int(scaled)
    return whole if whole == scaled else scaled


_JOIN = "\x1f"  # joins many values into one string, for one C-level pass over them all
_FINER_THAN_KEYS = re.compile(r"\.[0-9]{3}|[eE]")


def natural_keys(titles: list[str]) -> list[str]:
    """:func:`natural_key` of each title, in one pass over them all."""
    keys = _DIGIT_RUN.sub(_number_part, _JOIN.join(titles).casefold()).split(_JOIN)
    return keys if len(keys) == len(titles) else [natural_key(title) for title in titles]


def amount_keys(texts: list[str]) -> list[int | Decimal | None]:
    """:func:`amount_key` of each stored amount (TEXT, ``""`` for NULL)."""
    joined = _JOIN.join(texts)
    amounts = parse_amounts(texts, joined)
    if _FINER_THAN_KEYS.search(joined) is None:  # every amount is a whole number of keys
        return [None if amount is None else int(amount.scaleb(_AMOUNT_SCALE))
                for amount in amounts]
    return [amount_key(amount) for amount in amounts]


def _each_distinct(make: Callable[[str], object]) -> Callable[[list[str]], list[Any]]:
    # Dates repeat a lot: a key per distinct text, then a lookup per invoice.
    def keys(texts: list[str]) -> list[Any]:
        made = {text: make(text) for text in set(texts)}
        return list(map(made.__getitem__, texts))
    return keys


def _period_text_key(text: str) -> int | None:
    start, _, end = text.partition("/")
    return period_key(parse_date(start), parse_date(end))


def day_key(date: dt.date | None) -> int | None:
    """A date's sort key (its ordinal), ``None`` if missing."""
    return None if date is None else date.toordinal()


def period_key(start: dt.date | None, end: dt.date | None) -> int | None:
    """A billing period's sort key: by start (else end), then end (open-ended last)."""
    if start is None and end is None:
        return None
    first = start or end
    assert first is not None
    return first.toordinal() << 22 | (end or dt.date.max).toordinal()  # ordinals < 2^22


def invoice_sort_text(invoice: Invoice) -> str:
    """What the Invoice column sorts by (through :func:`natural_key`): the number; an
    invoice known by a label ("April 2025": Unleash names them by month) by its period's
    start (else its issue date) first, so labels sort by date, not alphabetically — and
    before numbers, whose keys begin with letters. Mirrored in SQL by ``STORED_SORT_KEYS``.
    """
    if invoice.number:
        return invoice.number
    date = invoice.period_start or invoice.issued
    # 20250401, not 2025-04-01: one run of digits to turn into a number key, not three.
    day = date.isoformat().replace("-", "") if date else ""
    return f"{day} {invoice.label or invoice.id}".lstrip(" ")


def _period_of(invoice: Invoice) -> int | None:
    return period_key(invoice.period_start, invoice.period_end)


class Column(NamedTuple):
    """One column of the invoice table: what it shows, how wide, how it sorts.

    ``sort`` returns ``None`` for a missing value; those rows sort last in both
    directions. ``descending_first`` is the direction of the first sort by this column
    (newest dates and largest amounts first). ``flex`` columns take spare width up to
    their longest text, the higher ``flex`` first; columns with a higher ``drop`` are
    hidden first when the table is too narrow.
    """

    key: str
    title: str
    width: int
    align: Literal["left", "right"]
    sort: SortKey
    descending_first: bool = False
    flex: int = 0
    drop: int = 0
    grow_to: int = 0  # a wider width it takes from spare room, after the names


COLUMNS: tuple[Column, ...] = (
    Column("issued", "Issued", 10, "left", lambda i: day_key(i.issued), descending_first=True),
    # The last column to go (80 columns): the invoice, its status and total matter more.
    Column("account", "Account", 10, "left", lambda i: i.account.casefold(), flex=1, drop=1),
    Column("invoice", "Invoice", 12, "left", lambda i: natural_key(invoice_sort_text(i)),
           flex=2),
    # The period is nearly always the month before the issue date: the first to go.
    Column("period", "Period", 16, "left", _period_of, descending_first=True, drop=5),
    # Sorted as shown: Unleash's "upcoming" reads (and sorts as) "Next invoice", in full
    # where there is room; on 80 columns the money columns come first.
    Column("status", "Status", 9, "left", lambda i: status_label(i).casefold(), grow_to=12),
    # Amount columns order numerically across currencies (100 EUR next to 100 USD): an
    # ordering, never a sum; the currency column is right beside them.
    Column("subtotal", "Subtotal", 11, "right", lambda i: amount_key(i.subtotal),
           descending_first=True, drop=2),
    Column("tax", "Tax", 9, "right", lambda i: amount_key(i.tax), descending_first=True, drop=3),
    Column("total", "Total", 13, "right", lambda i: amount_key(i.total), descending_first=True),
    Column("currency", "Cur", 3, "left", lambda i: i.currency),
    Column("due", "Due", 10, "left", lambda i: day_key(i.due), descending_first=True, drop=4),
)
_COLUMNS_BY_KEY = {c.key: c for c in COLUMNS}
NAMES_BEFORE_DROP = 4  # columns with this ``drop`` or more give way to uncut names
NUMBER_BEFORE_DROP = 3  # … and these to an uncut invoice number


def column(key: str) -> Column:
    """The column with this key (``KeyError`` for an unknown one)."""
    return _COLUMNS_BY_KEY[key]


def fit_columns(width: int, gap: int = 1,
                natural: Mapping[str, int] | None = None) -> list[tuple[Column, int]]:
    """The columns shown in ``width`` cells and their widths, ``gap`` cells apart.

    Too narrow: droppable columns go, highest ``drop`` first (the rest may still not
    fit; the caller crops). Uncut names come before some columns: those of ``drop`` ≥
    ``NAMES_BEFORE_DROP`` also go while the ``flex`` columns could not show their
    ``natural`` width (the longest text they hold), those of ``drop`` ≥
    ``NUMBER_BEFORE_DROP`` while the invoice column could not. Spare width widens the
    ``flex`` columns towards their ``natural`` width, the heaviest first, then columns
    with a ``grow_to`` width up to it; no column grows wider than that (what remains
    stays blank at the right, rather than open gaps inside the table).
    """
    natural = natural or {}
    shown = list(COLUMNS)
    droppable = sorted((c for c in COLUMNS if c.drop), key=lambda c: -c.drop)

    def needed() -> int:
        return sum(c.width for c in shown) + gap * (len(shown) - 1)

    while droppable and needed() > width:
        shown.remove(droppable.pop(0))

    def shortfall(c: Column) -> int:  # cells a flex column lacks to show its longest text
        return max(0, natural.get(c.key, 0) - c.width) if c.flex else 0

    def lacking(level: int) -> int:  # what the names uncut by dropping ``level`` lack
        return sum(shortfall(c) for c in shown
                   if c.key == "invoice" or level >= NAMES_BEFORE_DROP)

    # A cut invoice number or account name is ambiguous; the period and due date are not
    # worth that, and the tax (the total is beside it) not worth a cut number.
    given_way: list[Column] = []
    while (droppable and droppable[0].drop >= NUMBER_BEFORE_DROP
           and lacking(droppable[0].drop) > max(0, width - needed())):
        given_way.append(droppable.pop(0))
        shown.remove(given_way[-1])
    # Dropping one may free more than the names lack: bring back what fits beside them.
    for c in reversed(given_way):
        if needed() + gap + c.width + lacking(c.drop) <= width:
            shown.append(c)
            shown.sort(key=COLUMNS.index)
    spare = max(0, width - needed())
    widths = {c.key: c.width for c in shown}
    for c in sorted(shown, key=lambda c: -c.flex):  # the heavier flex column first
        grow = min(spare, shortfall(c))
        widths[c.key] += grow
        spare -= grow
    for c in shown:
        if c.grow_to and spare:
            grow = min(spare, c.grow_to - c.width)
            widths[c.key] += grow
            spare -= grow
    return [(c, widths[c.key]) for c in shown]


def cell_text(invoice: Invoice, key: str) -> str:
    """What the table shows in column ``key`` for an invoice: sanitized, amounts formatted
    with the currency's digits, an estimate's total and figures we computed marked with ``~``."""
    if key in ("subtotal", "tax", "total"):
        text = format_money(getattr(invoice, key), invoice.currency)
        marked = invoice.totals_computed or (key == "total" and invoice.is_estimate)
        return ESTIMATE_MARK + text if marked and text else text
    if key == "period":
        return format_period(invoice.period_start, invoice.period_end)
    if key in ("issued", "due"):
        date = invoice.issued if key == "issued" else invoice.due
        return date.isoformat() if date else ""
    if key == "invoice":
        return sanitize(invoice.title)
    if key == "currency":  # the code format_money shows (the cache file is not trusted)
        return currency_code(invoice.currency) or UNKNOWN_CURRENCY
    if key == "status":
        return status_label(invoice)
    if key == "account":
        return sanitize(invoice.account)
    raise KeyError(key)


#: Before an estimate's total (Unleash "estimate" figures) and before every figure we
#: computed from the lines instead of taking the provider's (``Invoice.totals_computed``).
ESTIMATE_MARK = "~"


def format_period(start: dt.date | None, end: dt.date | None) -> str:
    """A billing period, compact: ``"2026-09-01…09-30"``; across years both dates in full."""
    if start is None and end is None:
        return ""
    if start is None or end is None:
        return (start or end or dt.date.min).isoformat()
    if start.year == end.year:
        return f"{start.isoformat()}…{end:%m-%d}"
    return f"{start.isoformat()}…{end.isoformat()}"


# --- the view ------------------------------------------------------------------------------


def search_text(invoice: Invoice) -> str:
    """What the filter searches: number, label, status (raw and as shown), account, lines.

    Sanitized and case-folded. Fields are space-separated and filter tokens hold no
    whitespace, so no token matches across two fields.
    """
    parts = [invoice.number, invoice.label, invoice.status, invoice.account]
    shown = status_label(invoice)
    # "Next invoice" is found by what the table shows, too (a hostile status differs only
    # by what the sanitizer takes out: no need to add it twice).
    if shown != invoice.status and shown != sanitize(invoice.status):
        parts.append(shown)
    parts.extend(line.description for line in invoice.lines)
    # Empty fields left out: a double space would send every invoice down the
    # sanitizer's slow path (it folds whitespace).
    return sanitize(" ".join(part for part in parts if part)).casefold()


_KEPT_ORDERS = 4  # sort orders kept per data version (a list of 100 000 refs each)
_KEPT_MASKS = 32  # field terms' masks kept per data version (100 kB each at 100 000)
_CACHED_ROWS = 4096  # invoice headers kept (a few screens around every place visited)
_WINDOW_BEFORE, _WINDOW_AFTER = 16, 112  # rows fetched around a missing one

#: How the sort keys of the columns the compact index does not hold are made from the
#: store's columns — the same key functions as ``Column.sort``, over many values at once.
STORED_SORT_KEYS: Mapping[str, KeySource] = {
    "invoice": ("CASE WHEN coalesce(number, '') != '' THEN number ELSE ltrim(replace(coalesce("
                "nullif(period_start, ''), nullif(issued, ''), ''), '-', '') || ' ' || "
                "coalesce(nullif(label, ''), id), ' ') END", natural_keys),
    "period": ("coalesce(period_start, '') || '/' || coalesce(period_end, '')",
               _each_distinct(_period_text_key)),
    "subtotal": ("coalesce(subtotal, '')", amount_keys),
    "tax": ("coalesce(tax, '')", amount_keys),
    "total": ("coalesce(total, '')", amount_keys),
    "due": ("coalesce(due, '')", _each_distinct(lambda text: day_key(parse_date(text)))),
}


class RowSource(Protocol):
    """Where the view reads what its compact indexes do not hold (``index.StoreReader``)."""

    def headers(self, pks: Sequence[int]) -> dict[int, Invoice]:
        """Invoice headers by pk (a pk no longer stored is left out)."""

    def extras(self, index: AccountIndex, keys: Mapping[str, KeySource], *,
               search: bool = False) -> Extras:
        """The index's search texts and these sort keys, read now."""



class _Filter(NamedTuple):
    accounts: frozenset[str] | None
    statuses: frozenset[str] | None
    period: Period
    tokens: tuple[bytes, ...]  # words and phrases every search text must hold
    excluded: tuple[bytes, ...]  # … and none may hold
    terms: tuple[Term, ...]  # field terms (negation inside), source left out

    def within(self, other: _Filter) -> bool:
        """Whether everything this filter keeps, ``other`` keeps too (so it may refine it)."""
        return (
            (other.accounts is None or (self.accounts is not None
                                        and self.accounts <= other.accounts))
            and (other.statuses is None or (self.statuses is not None
                                            and self.statuses <= other.statuses))
            and self.period.within(other.period)
            # Each of the other's conditions is implied by one of ours: typing on ("099" →
            # "0999", total>1 → total>10) narrows; "-fo" after "-foo", or a changed
            # operator, does not (it keeps more), and is scanned afresh.
            and all(any(token in mine for mine in self.tokens) for token in other.tokens)
            and all(any(mine in token for mine in self.excluded) for token in other.excluded)
            and all(any(_implies(mine, term) for mine in self.terms) for term in other.terms)
        )

    @property
    def everything(self) -> bool:
        return (self.accounts is None and self.statuses is None and self.period.kind == "all"
                and not self.tokens and not self.excluded and not self.terms)


def _implies(mine: Term, other: Term) -> bool:
    """Whether every invoice ``mine`` keeps, ``other`` keeps too (a sufficient test)."""
    if mine == other:
        return True
    if (mine.field, mine.op, mine.negated) != (other.field, other.op, other.negated) \
            or mine.negated:
        return False
    if mine.field == "account":  # by substring: a longer name keeps fewer
        return other.text in mine.text
    if mine.field == "provider":  # by prefix
        return mine.text.startswith(other.text)
    if mine.field == "total" and mine.amount is not None and other.amount is not None:
        if mine.op in (">", ">="):
            return mine.amount >= other.amount
        if mine.op in ("<", "<="):
            return mine.amount <= other.amount
    return False


_NEGATE = bytes.maketrans(b"\0\1", b"\1\0")


def _decided(values: Sequence[_T], decide: Callable[[_T], bool]) -> bytes:
    """``decide`` of each value, as bytes — once per distinct value (a status, a currency,
    an account repeats over thousands of invoices)."""
    decided = {value: decide(value) for value in set(values)}
    return bytes(map(decided.__getitem__, values))


def _field_mask(term: Term, merged: _Merged) -> bytes:
    """Where a field term other than ``due`` holds, over the merged index's plain lists."""
    if term.field == "status":
        pairs = {pair: status_matches(term, *pair) for pair in _status_pairs(merged)}
        by_status: dict[str, bool] = {}
        mixed = False  # a status that matches for one provider and not another
        for (_, status), matches in pairs.items():
            mixed = mixed or by_status.setdefault(status, matches) != matches
        if not mixed:  # each status decides alone (the usual case): no pairs per invoice
            return bytes(map(by_status.__getitem__, merged.statuses))
        return bytes(map(pairs.__getitem__, zip(merged.providers, merged.statuses,
                                                strict=True)))
    if term.field in ("provider", "account", "currency"):
        values = {"provider": merged.providers, "account": merged.accounts,
                  "currency": merged.currencies}[term.field]
        return _decided(values, lambda value: text_field_matches(term, value))
    if term.field == "total":
        compare, bound = AMOUNT_OPERATORS[term.op], term.amount
        assert bound is not None  # the parser gives every total term an amount
        return bytes([total is not None and compare(total, bound) for total in merged.totals])
    return _day_mask(term, merged.days)  # issued, since, until: the issue date


def _status_pairs(merged: _Merged) -> set[tuple[str, str]]:
    """The distinct (provider, status) pairs: per account, whose one provider (the usual
    case) pairs with each of its distinct statuses without a tuple per invoice."""
    pairs: set[tuple[str, str]] = set()
    for index in merged.indexes:
        providers = set(index.providers)
        if len(providers) == 1:
            pairs.update(zip(repeat(providers.pop()), set(index.statuses)))
        else:
            pairs.update(zip(index.providers, index.statuses, strict=True))
    return pairs


def _gather(items: Sequence[_T], places: Sequence[int]) -> Sequence[_T]:
    """``items[p]`` for each of ``places``, in order: one C-level call
    (``operator.itemgetter``), a third of what ``map(items.__getitem__, places)`` costs
    over 100 000 places — a filter key's pass over the whole table."""
    if len(places) < 2:  # itemgetter of one place returns the item, not a tuple
        return [items[p] for p in places]
    found: tuple[_T, ...] = itemgetter(*places)(items)
    return found


def _day_mask(term: Term, days: Sequence[int | None]) -> bytes:
    """Where a date term holds over ordinals (0 or ``None``: no date, never matching)."""
    first, last = (day.toordinal() for day in day_bounds(term))
    low = max(first, 1)
    return bytes([day is not None and low <= day <= last for day in days])


class _Merged:
    """Every account's index side by side: invoice ``g`` of the view is entry ``g`` of each
    list (accounts by name, each in its tie order), and ``base`` is the tie order."""

    def __init__(self, indexes: Iterable[AccountIndex]) -> None:
        self.indexes = sorted(indexes, key=lambda index: index.account)
        self.starts: dict[str, int] = {}
        start = 0
        for index in self.indexes:
            self.starts[index.account] = start
            start += len(index)

        shown = [index for index in self.indexes if len(index)]

        def joined(column: Callable[[AccountIndex], list[_T]]) -> list[_T]:
            if len(shown) == 1:  # one account: its own lists (never changed, only replaced)
                return column(shown[0])
            return list(chain.from_iterable(map(column, shown)))

        self.pks = array("q")
        self.days = array("i")
        for index in self.indexes:  # arrays: 8 and 4 bytes an invoice, not int objects
            self.pks.extend(index.pks)
            self.days.extend(index.days)
        self.providers = joined(lambda index: index.providers)
        self.statuses = joined(lambda index: index.statuses)
        self.currencies = joined(lambda index: index.currencies)
        self.totals = joined(lambda index: index.totals)
        self.amounts_due = joined(lambda index: index.amounts_due)
        self.accounts = joined(lambda index: [index.account] * len(index))
        # Each account's tie order, offset to the view's numbers, accounts by name: a stable
        # sort by issue date (newest first, undated 0 last) is the tie order of them all.
        # (A reverse sort is stable too: equal days keep their order.)
        runs = [index.order if not start else [start + i for i in index.order]
                for index in shown for start in (self.starts[index.account],)]
        self.base = sorted(chain.from_iterable(runs), key=self.days.__getitem__, reverse=True)
        self.keys: dict[str, list[Any]] = {}  # column → sort key per invoice
        self.search: SearchTexts | None = None
        # A field term → one byte per invoice, 1 where it holds: made once per data
        # version, so typing on, or a term kept while others change, costs a lookup.
        self.masks: dict[Term, bytes] = {}

    def __len__(self) -> int:
        return len(self.pks)

    def money_facts(self, invoices: Sequence[int]) -> Iterator[MoneyFacts]:
        """The money facts of these invoices, for ``money_totals``."""
        return zip(map(self.providers.__getitem__, invoices),
                   map(self.statuses.__getitem__, invoices),
                   map(self.currencies.__getitem__, invoices),
                   map(self.totals.__getitem__, invoices),
                   map(self.amounts_due.__getitem__, invoices), strict=True)

    def locate(self, account: str, invoice_id: str) -> int | None:
        """The view's number of that invoice, ``None`` when it is not here."""
        start = self.starts.get(account)
        if start is None:
            return None
        index = self.indexes[list(self.starts).index(account)]
        try:
            return start + index.ids.index(invoice_id)  # one C-level scan: ~1 ms at 100 000
        except ValueError:
            return None

    def ghost(self, g: int) -> Invoice:
        """What the index knows of an invoice the store no longer has (a refresh removed it
        and the index reloads): enough for a row until then."""
        index = self.indexes[bisect_right(list(self.starts.values()), g) - 1]
        local = g - self.starts[index.account]
        day = self.days[g]
        return Invoice(
            account=index.account, provider=self.providers[g], id=index.ids[local],
            currency=self.currencies[g], status=self.statuses[g],
            issued=dt.date.fromordinal(day) if day else None, total=self.totals[g],
            amount_due=self.amounts_due[g])


class _Rows(Sequence[Invoice]):
    """The visible invoices, materialised from the store only when read (a screenful)."""

    def __init__(self, view: InvoiceView, invoices: Sequence[int]) -> None:
        self._view = view
        self.invoices = invoices  # the view's numbers of the visible invoices, in order

    def __len__(self) -> int:
        return len(self.invoices)

    @overload
    def __getitem__(self, item: int) -> Invoice: ...

    @overload
    def __getitem__(self, item: slice) -> list[Invoice]: ...

    def __getitem__(self, item: int | slice) -> Invoice | list[Invoice]:
        if isinstance(item, slice):
            return [self[i] for i in range(*item.indices(len(self)))]
        count = len(self.invoices)
        if item < 0:
            item += count
        if not 0 <= item < count:
            raise IndexError(item)
        return self._view.invoice_at(self.invoices, item)

    def __eq__(self, other: object) -> bool:
        # Like a list: equal to any sequence of the same invoices (reads them all).
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like list


class InvoiceView:
    """Every account's invoices, and the filtered, sorted rows the table shows.

    Fed with each account's compact :class:`~invoice_tui.index.AccountIndex`; the rows
    (``rows``, a lazy sequence) are read from ``source`` as they are looked at, a window
    at a time, through a bounded cache. ``rows`` and ``totals`` are recomputed lazily after
    any change. Sorting is stable and deterministic: ties by issued (newest first),
    account, id; missing values last in both directions. Narrowing a filter (a longer
    query, fewer accounts, a month inside the year) scans only the previous result.
    """

    def __init__(self, source: RowSource | None = None) -> None:
        self.source = source
        self._indexes: dict[str, AccountIndex] = {}
        self._preview: list[tuple[int, Invoice]] = []  # before any index: the first rows
        self._preview_count = 0
        self.query = ""
        self.parsed_query = Query()
        self.period = ALL_TIME
        self.accounts: frozenset[str] | None = None
        self.statuses: frozenset[str] | None = None
        self.sort_key = "issued"
        self.sort_reverse = True
        # Derived state, rebuilt lazily: the merged indexes, a sorted universe of their
        # invoices (and its search texts, aligned), then the filtered rows.
        self._merged: _Merged | None = None
        self._orders: dict[tuple[str, bool], Sequence[int]] = {}  # sort order → universe
        self._universe: Sequence[int] | None = None
        self._positions: Sequence[int] = range(0)
        self._rows: Sequence[Invoice] | None = None
        self._applied: _Filter | None = None
        self._totals: dict[str, MoneyTotals] | None = None
        self._cache: OrderedDict[int, Invoice] = OrderedDict()  # pk → header, oldest first
        self.version = 0  # bumped whenever rows may have changed; widgets key caches on it

    # -- data ----------------------------------------------------------------------------

    def set_index(self, index: AccountIndex) -> None:
        """Show this account's invoices (replacing its previous index; others untouched)."""
        self._indexes[index.account] = index
        self._preview = []
        self._data_changed()

    def set_extras(self, index: AccountIndex, search: SearchTexts | None,
                   sort_keys: Mapping[str, list[Any]]) -> bool:
        """Give an index its search texts and sort keys (:func:`index.load_extras`).

        ``False`` (nothing changed) when the account's index was replaced meanwhile.
        """
        if self._indexes.get(index.account) is not index:
            return False
        # The same values a missing one is read as, only earlier: nothing derived changes.
        if search is not None:
            index.search = search
        index.sort_keys.update(sort_keys)
        return True

    def set_preview(self, rows: Sequence[tuple[int, Invoice]], count: int) -> None:
        """Before any index: show these (pk, invoice) rows, the first in the default order,
        and count ``count`` invoices (the indexes replace them as they come)."""
        if not self._indexes:
            self._preview = list(rows)
            self._preview_count = count
            self._data_changed()

    @property
    def loading(self) -> bool:
        """Only the first rows are known yet (:meth:`set_preview`)."""
        return bool(self._preview)

    def remove_account(self, account: str) -> None:
        """Forget that account's invoices (no-op when it has none)."""
        if self._indexes.pop(account, None) is not None:
            self._data_changed()

    def index(self, account: str) -> AccountIndex | None:
        """The account's index, if it has one here."""
        return self._indexes.get(account)

    @property
    def account_names(self) -> list[str]:
        """Accounts that have invoices here, in the order they were first set."""
        return [name for name, index in self._indexes.items() if len(index)]

    def natural_widths(self) -> dict[str, int]:
        """Longest text of each flex column over every invoice (for ``fit_columns``)."""
        if self._preview:  # the first rows stand in for the rest until the indexes come
            return {"account": max(len(inv.account) for _, inv in self._preview),
                    "invoice": max(len(cell_text(inv, "invoice")) for _, inv in self._preview)}
        indexes = [index for index in self._indexes.values() if len(index)]
        if not indexes:
            return {}
        return {"account": max(len(index.account) for index in indexes),
                "invoice": max(index.longest_title for index in indexes)}

    @property
    def total_count(self) -> int:
        """Number of invoices of every account, regardless of filters."""
        if self._preview:
            return self._preview_count
        return sum(map(len, self._indexes.values()))

    def years(self) -> list[int]:
        """Years with at least one invoice (by issue date), ascending."""
        return sorted({y for y, _ in self.months()})

    def months(self) -> list[tuple[int, int]]:
        """(year, month) pairs with at least one invoice (by issue date), ascending."""
        days = set(chain.from_iterable(set(index.days) for index in self._indexes.values()))
        return sorted({(date.year, date.month)
                       for date in map(dt.date.fromordinal, days - {0})})

    def has_period(self, period: Period) -> bool:
        """Whether any invoice (of any account, regardless of filters) was issued in it."""
        if period.kind == "all":
            return self.total_count > 0
        if period.kind == "year":
            return period.year in self.years()
        return (period.year, period.month) in self.months()

    def adjacent_period(self, delta: int) -> Period:
        """The next (``delta`` > 0) or previous period of the same kind that has invoices.

        Falls back to the plain :meth:`Period.step` when there is none that way.
        """
        period = self.period
        if period.kind == "all" or delta == 0:
            return period
        if period.kind == "year":
            present = [Period("year", y) for y in self.years()]
        else:
            present = [Period("month", y, m) for y, m in self.months()]

        def order(p: Period) -> tuple[int, int]:
            return (p.year or 0, p.month or 0)

        if delta > 0:
            later = [p for p in present if order(p) > order(period)]
            return later[min(delta, len(later)) - 1] if later else period.step(delta)
        earlier = [p for p in present if order(p) < order(period)]
        return earlier[-min(-delta, len(earlier))] if earlier else period.step(delta)

    # -- filters and sort ----------------------------------------------------------------

    def set_query(self, text: str) -> None:
        """Filter by a query (:mod:`invoice_tui.query`): words and phrases, case-insensitive,
        over number, label, status, account and line descriptions; ``-`` excludes; field
        terms (``status:paid``, ``total>100``, …) over the index. All must hold; a term that
        cannot be used (``Query.problems``) filters nothing."""
        if text != self.query:
            self.query = text
            self.parsed_query = parse_query(text)
            self._filter_changed()

    def set_period(self, period: Period) -> None:
        """Show only invoices issued in ``period``."""
        self.period = period
        self._filter_changed()

    def set_accounts(self, names: Iterable[str] | None) -> None:
        """Show only these accounts (``None``: all accounts)."""
        self.accounts = None if names is None else frozenset(names)
        self._filter_changed()

    def set_statuses(self, statuses: Iterable[str] | None) -> None:
        """Show only these statuses, compared case-insensitively (``None``: every status)."""
        self.statuses = None if statuses is None else frozenset(s.casefold() for s in statuses)
        self._filter_changed()

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by a column; the same key again toggles the direction unless ``reverse`` is given.

        A new key starts in the column's natural direction (``Column.descending_first``).
        """
        col = column(key)
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_key else col.descending_first
        if (key, reverse) != (self.sort_key, self.sort_reverse):
            self.sort_key, self.sort_reverse = key, reverse
            self._universe = None
            totals = self._totals
            self._invalidate_rows()
            self._totals = totals  # the same invoices, in another order

    # -- results -------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[Invoice]:
        """The visible invoices: filtered, then sorted (read from the store as looked at)."""
        if self._rows is None:
            self._compute_rows()
        assert self._rows is not None
        return self._rows

    def visible_keys(self) -> list[tuple[str, str]]:
        """``(account, id)`` of every visible invoice in the table's order, from the index
        alone: no store read (100 000 in about 0.1 s of CPU, where reading them as ``rows``
        takes 4 s), for work done away from the UI (bulk PDFs, export)."""
        rows = self.rows
        if not isinstance(rows, _Rows):  # the first rows, before any index
            return [(invoice.account, invoice.id) for invoice in rows]
        merged = self._merged
        assert merged is not None
        ids = list(chain.from_iterable(index.ids for index in merged.indexes))
        # map/zip: one C-level pass each, no Python loop over 100 000 rows.
        return list(zip(map(merged.accounts.__getitem__, rows.invoices),
                        map(ids.__getitem__, rows.invoices), strict=True))

    def index_of(self, account: str, invoice_id: str) -> int | None:
        """Row index of that invoice, or ``None`` when it is not visible."""
        index = self.nearest_index(account, invoice_id)
        if index is None or index >= len(self.rows):
            return None
        found = self.rows[index]
        return index if (found.account, found.id) == (account, invoice_id) else None

    def nearest_index(self, account: str, invoice_id: str) -> int | None:
        """Row of that invoice; if filtered out, the first visible row sorted after it
        (else the last row). ``None`` when the invoice is unknown or nothing is visible."""
        rows = self.rows
        if not rows:
            return None
        if self._preview:
            keys = [(inv.account, inv.id) for _, inv in self._preview]
            return keys.index((account, invoice_id)) if (account, invoice_id) in keys else None
        merged, universe = self._merged, self._universe
        assert merged is not None and universe is not None
        g = merged.locate(account, invoice_id)
        if g is None:
            return None
        position = universe.index(g)  # C-level scans: cheaper than indexing every order
        if isinstance(self._positions, range):
            return position
        return min(bisect_left(self._positions, position), len(rows) - 1)

    def totals(self) -> dict[str, MoneyTotals]:
        """Billed, due and estimated per currency over the visible rows (see
        :func:`invoice_tui.meaning.money_totals`); never a sum across currencies."""
        if self._totals is None:
            self._totals = money_totals(self.money_facts())
        return self._totals

    def cached_totals(self) -> dict[str, MoneyTotals] | None:
        """:meth:`totals` if already worked out for the visible rows, else ``None``."""
        return self._totals

    def set_totals(self, totals: dict[str, MoneyTotals], version: int) -> bool:
        """Keep totals summed elsewhere (a thread) from :meth:`money_facts` of ``version``;
        ``False`` (ignored) when the rows have changed since."""
        if version != self.version:
            return False
        self._totals = totals
        return True

    def money_facts(self) -> Iterator[MoneyFacts]:
        """The visible invoices' money facts (for :func:`money_totals`, maybe in a thread:
        the lists it reads are replaced, never changed, when the data changes)."""
        rows = self.rows
        if self._preview:
            return map(money_facts, rows)
        assert self._merged is not None and isinstance(rows, _Rows)
        return self._merged.money_facts(rows.invoices)

    def status_names(self) -> list[str]:
        """Distinct statuses present (case-folded), sorted — for a "filter by status" list."""
        return sorted({status.casefold() for index in self._indexes.values()
                       for status in set(index.statuses)})

    def currency_names(self) -> list[str]:
        """Distinct currency codes present, sorted — for a "filter by currency" list."""
        return sorted({currency for index in self._indexes.values()
                       for currency in set(index.currencies)})

    # -- internals -----------------------------------------------------------------------

    def _data_changed(self) -> None:
        self._merged = None
        self._orders = {}
        self._universe = None
        self._cache.clear()
        self._invalidate_rows()

    def _filter_changed(self) -> None:
        self._rows = None
        self._totals = None
        self.version += 1

    def _invalidate_rows(self) -> None:
        self._applied = None  # the previous result is no superset of the new one
        self._filter_changed()

    def _current_filter(self) -> _Filter:
        parsed = self.parsed_query
        # Search texts are UTF-8; a term's source is for chips, not for comparing filters.
        return _Filter(self.accounts, self.statuses, self.period,
                       tuple(word.encode() for word in parsed.words),
                       tuple(word.encode() for word in parsed.excluded_words),
                       tuple(term._replace(source="") for term in parsed.field_terms))

    def _ensure_merged(self) -> _Merged:
        if self._merged is None:
            self._merged = _Merged(self._indexes.values())
        return self._merged

    def _ensure_universe(self) -> Sequence[int]:
        if self._universe is not None:
            return self._universe
        merged = self._ensure_merged()
        order = (self.sort_key, self.sort_reverse)
        if order not in self._orders:
            self._orders[order] = self._sorted_universe(merged)
            while len(self._orders) > _KEPT_ORDERS:
                del self._orders[next(iter(self._orders))]  # the oldest
        self._universe = self._orders[order]
        return self._universe

    def _sorted_universe(self, merged: _Merged) -> Sequence[int]:
        if (self.sort_key, self.sort_reverse) == ("issued", True):
            return merged.base  # the tie order is newest first
        keys = merged.keys.get(self.sort_key)
        if keys is None:
            columns = [self._column_keys(index) for index in merged.indexes]
            # One account: its own list (replaced when it changes, never changed in place).
            keys = merged.keys[self.sort_key] = (
                columns[0] if len(columns) == 1 else list(chain.from_iterable(columns)))
        base = merged.base
        if keys and keys.count(keys[0]) == len(keys):
            return base  # one account, one currency: every key ties, the tie order stays
        missing = keys.count(None)
        opposite = self._orders.get((self.sort_key, not self.sort_reverse))
        if opposite is not None:
            # S: from the other direction, already sorted (ties in the tie order, missing
            # keys last), not from the tie order: list.sort finds its runs and is done in
            # about one pass (a third of sorting afresh at 100 000 invoices).
            present = list(opposite[:len(opposite) - missing])
            missed: Iterable[int] = opposite[len(opposite) - missing:]
        elif missing:
            present = list(compress(base, map(is_not, map(keys.__getitem__, base),
                                              repeat(None))))
            missed = compress(base, map(is_, map(keys.__getitem__, base), repeat(None)))
        else:
            present, missed = list(base), ()
        # sort() with reverse=True is still stable, so ties keep the base order both ways.
        present.sort(key=keys.__getitem__, reverse=self.sort_reverse)
        present.extend(missed)
        return present

    def _column_keys(self, index: AccountIndex, key: str | None = None) -> list[Any]:
        """One account's sort keys for column ``key`` (default: the sorted one), made once
        per index."""
        key = key or self.sort_key
        keys = index.sort_keys.get(key)
        if keys is not None:
            return keys
        if key == "issued":
            keys = [day or None for day in index.days]
        elif key == "account":
            keys = [index.account.casefold()] * len(index)
        elif key == "currency":
            keys = list(index.currencies)
        elif key == "status" and len(set(index.providers)) == 1:  # no pairs to build
            provider = index.providers[0]
            by_status = {status: label_of_status(provider, status).casefold()
                         for status in set(index.statuses)}
            keys = list(map(by_status.__getitem__, index.statuses))
        elif key == "status":
            labels = {pair: label_of_status(*pair).casefold()
                      for pair in set(zip(index.providers, index.statuses, strict=True))}
            keys = list(map(labels.__getitem__, zip(index.providers, index.statuses,
                                                    strict=True)))
        elif self.source is not None:  # read now; load_extras usually brought them already
            keys = self.source.extras(index, {key: STORED_SORT_KEYS[key]})[1][key]
        else:
            keys = [None] * len(index)
        index.sort_keys[key] = keys
        return keys

    def _ensure_search(self) -> SearchTexts:
        merged = self._ensure_merged()
        if merged.search is None:
            for index in merged.indexes:
                if index.search is None:  # not loaded yet: read it now
                    index.search = self._read_search(index)
            merged.search = SearchTexts.concat(
                [index.search for index in merged.indexes if index.search is not None])
        return merged.search

    def _read_search(self, index: AccountIndex) -> SearchTexts:
        found = self.source.extras(index, {}, search=True)[0] if self.source else None
        return found if found is not None else SearchTexts.of([b""] * len(index))

    def _containing(self, token: bytes, positions: Sequence[int], holding: bool = True
                    ) -> Sequence[int]:
        """The ``positions`` (ascending places in the universe) whose invoice's search text
        holds ``token`` (``holding=False``: does not hold it)."""
        universe = self._universe
        assert universe is not None
        texts = self._ensure_search()
        narrower = len(positions) < len(universe)
        # A narrower set: its own texts, one by one — unless it is most of them (a field
        # term kept most) and the token rare: then one scan of the blob is quicker.
        if narrower and (len(positions) * 2 < len(universe) or texts.common(token)):
            invoices = list(map(universe.__getitem__, positions))
            flags = texts.flags(token, invoices)
            return list(compress(positions, flags if holding else map(not_, flags)))
        if texts.common(token):  # every text in order, then read in the universe's order
            mask: Sequence[object] = texts.mask(token)
            if all(mask):
                return positions if holding else []  # first letters often match every one
        else:  # a rarer one: one scan of the blob finds them, then the same
            mask = bytearray(len(texts))
            for invoice in texts.containing(token):
                mask[invoice] = 1
        found = _gather(mask, _gather(universe, positions) if narrower else universe)
        return list(compress(positions, found if holding else map(not_, found)))

    def _term_mask(self, term: Term) -> bytes:
        """One byte per invoice of the view (its number ``g``): 1 where ``term`` holds."""
        merged = self._ensure_merged()
        mask = merged.masks.get(term)
        if mask is None:
            if term.field == "due":  # its sort keys are its ordinals: shared with the sort
                due = merged.keys.get("due")
                if due is None:
                    due = merged.keys["due"] = list(chain.from_iterable(
                        self._column_keys(index, "due") for index in merged.indexes))
                mask = _day_mask(term, due)
            else:
                mask = _field_mask(term, merged)
            if term.negated:
                mask = mask.translate(_NEGATE)
            merged.masks[term] = mask
            while len(merged.masks) > _KEPT_MASKS:  # each typed digit of total>… is one
                del merged.masks[next(iter(merged.masks))]  # the oldest
        return mask

    def _compute_rows(self) -> None:
        wanted = self._current_filter()
        if self._preview:
            shown = wanted.everything and (self.sort_key, self.sort_reverse) == ("issued", True)
            self._rows = [invoice for _, invoice in self._preview] if shown else []
            self._applied = None
            return
        universe = self._ensure_universe()
        if self._applied is not None and wanted.within(self._applied):
            candidates: Sequence[int] = self._positions  # refine the previous result
        else:
            candidates = range(len(universe))
        self._positions = self._scan(candidates, wanted)
        if isinstance(self._positions, range):  # nothing filtered: no copy of 100 000 rows
            self._rows = _Rows(self, universe)
        else:
            self._rows = _Rows(self, list(map(universe.__getitem__, self._positions)))
        self._applied = wanted

    def _scan(self, candidates: Sequence[int], wanted: _Filter) -> Sequence[int]:
        universe, merged = self._universe, self._merged
        assert universe is not None and merged is not None
        if wanted.everything:
            return candidates
        positions = candidates  # a range (all) stays one while nothing is taken out
        if wanted.accounts is not None:
            accounts, owner = wanted.accounts, merged.accounts
            positions = [p for p in positions if owner[universe[p]] in accounts]
        if wanted.statuses is not None:
            allowed = {s for s in set(merged.statuses) if s.casefold() in wanted.statuses}
            statuses = merged.statuses
            positions = [p for p in positions if statuses[universe[p]] in allowed]
        if wanted.period.kind != "all":
            first, last = wanted.period.days()
            days = merged.days
            positions = [p for p in positions if first <= days[universe[p]] <= last]
        for term in wanted.terms:
            mask = self._term_mask(term)
            positions = list(compress(positions, _gather(mask, _gather(universe, positions))))
        for token in wanted.tokens:
            positions = self._containing(token, positions)
        for token in wanted.excluded:
            positions = self._containing(token, positions, holding=False)
        return positions

    def invoice_at(self, invoices: Sequence[int], row: int) -> Invoice:
        """The invoice at ``row`` of the visible ``invoices``; a window around it is read."""
        if self._preview:
            return self._preview[row][1]
        merged = self._merged
        assert merged is not None
        pk = merged.pks[invoices[row]]
        cache = self._cache
        found = cache.get(pk)
        if found is not None:
            cache.move_to_end(pk)
            return found
        if self.source is not None:
            window = invoices[max(0, row - _WINDOW_BEFORE):row + _WINDOW_AFTER]
            wanted = [merged.pks[g] for g in window if merged.pks[g] not in cache]
            cache.update(self.source.headers(wanted))
            while len(cache) > _CACHED_ROWS:
                cache.popitem(last=False)
        found = cache.get(pk)
        return found if found is not None else merged.ghost(invoices[row])
