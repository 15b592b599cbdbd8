"""The invoice table's query model: filter, period, sort and totals over every account.

Pure Python (no Textual), built for 100 000 invoices: the full set is kept sorted
once per sort order (the *universe*), a filter is a linear scan over it that keeps
that order, and a narrower filter (a longer query, fewer accounts, a month inside
the year) scans only the previous result. ``rows`` and ``totals`` are computed
lazily, so a burst of changes costs one recomputation.

Text cells are sanitized with :func:`invoice_tui.text.sanitize`, the one sanitizer.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, Literal

from invoice_tui.meaning import MoneyTotals, money_totals, status_label
from invoice_tui.model import UNKNOWN_CURRENCY, Invoice, currency_code, format_money
from invoice_tui.text import sanitize

__all__ = [
    "COLUMNS", "ESTIMATE_MARK", "Column", "InvoiceView", "Period", "PreparedAccount",
    "cell_text", "column", "fit_columns", "format_period", "prepare_account", "search_text",
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


def _natural(text: str) -> tuple[object, ...]:
    # "INV-9" before "INV-10": digit runs compare as numbers. re.split with a group always
    # alternates str, digits, str…, so equal positions always hold comparable types.
    parts = re.split(r"(\d+)", text.casefold())
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))


def _period_key(invoice: Invoice) -> object:
    if invoice.period_start is None and invoice.period_end is None:
        return None
    return (invoice.period_start or invoice.period_end, invoice.period_end or dt.date.max)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the invoice table: what it shows, how wide, how it sorts.

    ``sort`` returns ``None`` for a missing value; those rows sort last in both
    directions. ``descending_first`` is the direction of the first sort by this column
    (newest dates and largest amounts first). ``flex`` columns share spare width;
    columns with a higher ``drop`` are hidden first when the table is too narrow.
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
    Column("issued", "Issued", 10, "left", lambda i: i.issued, descending_first=True),
    # The last column to go (80 columns): the invoice, its status and total matter more.
    Column("account", "Account", 10, "left", lambda i: i.account.casefold(), flex=1, drop=1),
    Column("invoice", "Invoice", 12, "left", lambda i: _natural(i.title), flex=2),
    # The period is nearly always the month before the issue date: the first to go.
    Column("period", "Period", 16, "left", _period_key, descending_first=True, drop=5),
    # Sorted as shown: Unleash's "upcoming" reads (and sorts as) "Next invoice", in full
    # where there is room; on 80 columns the money columns come first.
    Column("status", "Status", 9, "left", lambda i: status_label(i).casefold(), grow_to=12),
    # Amount columns order numerically across currencies (100 EUR next to 100 USD): an
    # ordering, never a sum; the currency column is right beside them.
    Column("subtotal", "Subtotal", 11, "right", lambda i: i.subtotal,
           descending_first=True, drop=2),
    Column("tax", "Tax", 9, "right", lambda i: i.tax, descending_first=True, drop=3),
    Column("total", "Total", 13, "right", lambda i: i.total, descending_first=True),
    Column("currency", "Cur", 3, "left", lambda i: i.currency),
    Column("due", "Due", 10, "left", lambda i: i.due, descending_first=True, drop=4),
)
_COLUMNS_BY_KEY = {c.key: c for c in COLUMNS}
NAMES_BEFORE_DROP = 4  # columns with this ``drop`` or more give way to uncut names


def column(key: str) -> Column:
    """The column with this key (``KeyError`` for an unknown one)."""
    return _COLUMNS_BY_KEY[key]


def fit_columns(width: int, gap: int = 1,
                natural: Mapping[str, int] | None = None) -> list[tuple[Column, int]]:
    """The columns shown in ``width`` cells and their widths, ``gap`` cells apart.

    Too narrow: droppable columns go, highest ``drop`` first (the rest may still not
    fit; the caller crops); those of ``drop`` ≥ ``NAMES_BEFORE_DROP`` also go while the
    ``flex`` columns could not show their ``natural`` width. Spare width first widens
    ``flex`` columns towards their ``natural`` width (the longest text they hold), so
    names are not cut while space is left; then columns with a ``grow_to`` width up to
    it; what remains goes to the flex columns by weight.
    """
    shown = list(COLUMNS)
    droppable = sorted((c for c in COLUMNS if c.drop), key=lambda c: -c.drop)

    def needed() -> int:
        return sum(c.width for c in shown) + gap * (len(shown) - 1)

    while droppable and needed() > width:
        shown.remove(droppable.pop(0))

    def shortfall() -> int:  # cells the flex columns lack to show their longest text
        return sum(max(0, (natural or {}).get(c.key, 0) - c.width) for c in shown if c.flex)

    # A cut invoice number or account name is ambiguous; the period and due date are not
    # worth that, so they go too while the names would be cut.
    for_names: list[Column] = []
    while (droppable and droppable[0].drop >= NAMES_BEFORE_DROP
           and shortfall() > max(0, width - needed())):
        for_names.append(droppable.pop(0))
        shown.remove(for_names[-1])
    # Dropping one may free more than the names lack: bring back what fits beside them.
    for c in reversed(for_names):
        if needed() + gap + c.width + shortfall() <= width:
            shown.append(c)
            shown.sort(key=COLUMNS.index)
    spare = max(0, width - needed())
    weights = sum(c.flex for c in shown)
    widths = {c.key: c.width for c in shown}
    for c in sorted(shown, key=lambda c: -c.flex):  # the heavier flex column first
        if c.flex and natural and spare:
            grow = min(spare, max(0, natural.get(c.key, 0) - c.width))
            widths[c.key] += grow
            spare -= grow
    for c in shown:
        if c.grow_to and spare:
            grow = min(spare, c.grow_to - c.width)
            widths[c.key] += grow
            spare -= grow
    given = 0
    for c in shown:
        if c.flex:
            extra = spare * c.flex // weights
            widths[c.key] += extra
            given += extra
    if weights and spare > given:  # rounding leftovers to the first flex column
        first_flex = next(c for c in shown if c.flex)
        widths[first_flex.key] += spare - given
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


def _tie_key(invoice: Invoice) -> tuple[int, str, str]:
    issued = invoice.issued
    # Negated ordinal: newest first; undated (0) after every real date.
    return (-issued.toordinal() if issued else 0, invoice.account, invoice.id)


_KEPT_ORDERS = 4  # sort orders kept per data version (two lists of references each)

# One invoice as the view keeps it: tie key, invoice, haystack, account, index in its account.
_Entry = tuple[tuple[int, str, str], Invoice, str, str, int]


@dataclass(frozen=True, slots=True)
class _Filter:
    accounts: frozenset[str] | None
    statuses: frozenset[str] | None
    period: Period
    tokens: tuple[str, ...]
    query: str

    def within(self, other: _Filter) -> bool:
        """Whether everything this filter keeps, ``other`` keeps too (so it may refine it)."""
        return (
            (other.accounts is None or (self.accounts is not None
                                        and self.accounts <= other.accounts))
            and (other.statuses is None or (self.statuses is not None
                                            and self.statuses <= other.statuses))
            and self.period.within(other.period)
            and self.query.startswith(other.query)
        )


@dataclass(frozen=True, slots=True)
class PreparedAccount:
    """One account's invoices, sorted and indexed for :meth:`InvoiceView.set_prepared`."""

    account: str
    entries: list[_Entry]
    natural: dict[str, int]


def prepare_account(account: str, invoices: Sequence[Invoice],
                    search_texts: Sequence[str] | None = None) -> PreparedAccount:
    """Sort and index one account's invoices for a view (pure: safe in a worker thread).

    ``search_texts`` (same order as ``invoices``) are their :func:`search_text`s made
    earlier, e.g. by the store: invoices read without their lines still match line text.
    """
    own = [inv for inv in invoices if inv.account == account]
    if len(own) != len(invoices):
        raise ValueError(f"invoices of another account given for {account!r}")
    if search_texts is None:
        search_texts = [search_text(inv) for inv in own]
    keyed = sorted(((_tie_key(inv), inv, text)
                    for inv, text in zip(own, search_texts, strict=True)), key=itemgetter(0))
    entries = [
        (tie, inv, text, account, index) for index, (tie, inv, text) in enumerate(keyed)
    ]
    natural = {
        "account": len(account),
        "invoice": max((len(cell_text(inv, "invoice")) for inv in own), default=0),
    }
    return PreparedAccount(account, entries, natural)


class InvoiceView:
    """Every account's invoices, and the filtered, sorted rows the table shows.

    ``rows`` is recomputed lazily after any change. Sorting is stable and
    deterministic: ties by issued (newest first), account, id; missing values last in
    both directions.
    """

    def __init__(self) -> None:
        # Per account, sorted by tie key, so a refresh of one account redoes only its part.
        self._entries: dict[str, list[_Entry]] = {}
        self._account_keys: dict[str, dict[str, list[Any]]] = {}  # account → column → keys
        self._text_widths: dict[str, dict[str, int]] = {}  # account → flex column → longest text
        self.query = ""
        self.period = ALL_TIME
        self.accounts: frozenset[str] | None = None
        self.statuses: frozenset[str] | None = None
        self.sort_key = "issued"
        self.sort_reverse = True
        # Derived state, rebuilt lazily: the sorted universe, then the filtered rows.
        self._universe: list[Invoice] | None = None
        self._universe_haystacks: list[str] = []
        # Recent sort orders of the universe (invoices, haystacks): toggling is instant.
        self._orders: dict[tuple[str, bool], tuple[list[Invoice], list[str]]] = {}
        self._base_order: list[_Entry] | None = None
        self._sort_keys: dict[str, list[Any]] = {}
        self._positions: Sequence[int] = []
        self._rows: Sequence[Invoice] | None = None
        self._applied: _Filter | None = None
        self._totals: dict[str, MoneyTotals] | None = None
        self.version = 0  # bumped whenever rows may have changed; widgets key caches on it

    # -- data ----------------------------------------------------------------------------

    def set_account(self, account: str, invoices: Sequence[Invoice]) -> None:
        """Replace that account's invoices (a refresh; other accounts are untouched)."""
        self.set_prepared(prepare_account(account, invoices))

    def set_prepared(self, prepared: PreparedAccount) -> None:
        """Replace an account's invoices with ones :func:`prepare_account` made ready.

        Cheap: the costly part (sorting, search texts) was done by ``prepare_account``,
        which can run in a thread so that a 100 000-invoice account lands without a stall.
        """
        account = prepared.account
        self._entries[account] = prepared.entries
        self._account_keys[account] = {}
        self._text_widths[account] = prepared.natural
        self._data_changed()

    def remove_account(self, account: str) -> None:
        """Forget that account's invoices (no-op when it has none)."""
        if self._entries.pop(account, None) is not None:
            self._account_keys.pop(account, None)
            self._text_widths.pop(account, None)
            self._data_changed()

    @property
    def account_names(self) -> list[str]:
        """Accounts that have invoices here, in the order they were first set."""
        return list(self._entries)

    def natural_widths(self) -> dict[str, int]:
        """Longest text of each flex column over every invoice (for ``fit_columns``)."""
        widths: dict[str, int] = {}
        for per_account in self._text_widths.values():
            for key, width in per_account.items():
                widths[key] = max(widths.get(key, 0), width)
        return widths

    @property
    def total_count(self) -> int:
        """Number of invoices of every account, regardless of filters."""
        return sum(len(entries) for entries in self._entries.values())

    def years(self) -> list[int]:
        """Years with at least one invoice (by issue date), ascending."""
        return sorted({y for y, _ in self.months()})

    def months(self) -> list[tuple[int, int]]:
        """(year, month) pairs with at least one invoice (by issue date), ascending."""
        return sorted({
            (inv.issued.year, inv.issued.month)
            for inv in self._all_invoices() if inv.issued is not None
        })

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
        """Filter by words (case-insensitive substrings, all must match) over number, label,
        status, account and line descriptions."""
        self.query = text
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
            self._invalidate_rows()

    # -- results -------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[Invoice]:
        """The visible invoices: filtered, then sorted."""
        if self._rows is None:
            self._compute_rows()
        assert self._rows is not None
        return self._rows

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
        # Linear scans (milliseconds for 100 000): cheaper than indexing every sort order.
        for index, inv in enumerate(rows):
            if inv.id == invoice_id and inv.account == account:
                return index
        assert self._universe is not None
        for position, inv in enumerate(self._universe):
            if inv.id == invoice_id and inv.account == account:
                return min(bisect_left(self._positions, position), len(rows) - 1)
        return None

    def totals(self) -> dict[str, MoneyTotals]:
        """Billed, due and estimated per currency over the visible rows (see
        :func:`invoice_tui.meaning.money_totals`); never a sum across currencies."""
        if self._totals is None:
            self._totals = money_totals(self.rows)
        return self._totals

    def status_names(self) -> list[str]:
        """Distinct statuses present (case-folded), sorted — for a "filter by status" list."""
        return sorted({
            inv.status.casefold() for inv in self._all_invoices()
        })

    # -- internals -----------------------------------------------------------------------

    def _data_changed(self) -> None:
        self._base_order = None
        self._orders = {}
        self._universe = None
        self._invalidate_rows()

    def _filter_changed(self) -> None:
        self._rows = None
        self._totals = None
        self.version += 1

    def _invalidate_rows(self) -> None:
        self._applied = None  # the previous result is no superset of the new one
        self._filter_changed()

    def _current_filter(self) -> _Filter:
        folded = self.query.casefold()
        return _Filter(self.accounts, self.statuses, self.period, tuple(folded.split()), folded)

    def _ensure_universe(self) -> list[Invoice]:
        if self._universe is not None:
            return self._universe
        if self._base_order is None:
            # The tie order (issued desc, undated last; account; id). Each account's run is
            # already in it, so this sort is a cheap merge of the runs.
            self._base_order = sorted(chain.from_iterable(self._entries.values()),
                                      key=itemgetter(0))
            self._sort_keys = {}
        order = (self.sort_key, self.sort_reverse)
        if order not in self._orders:
            self._orders[order] = self._sorted_universe()
            while len(self._orders) > _KEPT_ORDERS:
                del self._orders[next(iter(self._orders))]  # the oldest
        self._universe, self._universe_haystacks = self._orders[order]
        return self._universe

    def _sorted_universe(self) -> tuple[list[Invoice], list[str]]:
        base = self._base_order
        assert base is not None
        keys = self._sort_keys.get(self.sort_key)
        if keys is None:  # per column and data change; per account, only refreshed ones
            by_account = {name: self._column_keys(name) for name in self._entries}
            keys = [by_account[entry[3]][entry[4]] for entry in base]
            self._sort_keys[self.sort_key] = keys
        order = [index for index, value in enumerate(keys) if value is not None]
        # sort() with reverse=True is still stable, so ties keep the base order both ways.
        order.sort(key=keys.__getitem__, reverse=self.sort_reverse)
        order.extend(index for index, value in enumerate(keys) if value is None)
        return [base[index][1] for index in order], [base[index][2] for index in order]

    def _column_keys(self, account: str) -> list[Any]:
        cached = self._account_keys[account]
        keys = cached.get(self.sort_key)
        if keys is None:
            key = column(self.sort_key).sort
            keys = cached[self.sort_key] = [key(entry[1]) for entry in self._entries[account]]
        return keys

    def _all_invoices(self) -> Iterator[Invoice]:
        return (entry[1] for entries in self._entries.values() for entry in entries)

    def _compute_rows(self) -> None:
        universe = self._ensure_universe()
        wanted = self._current_filter()
        if self._applied is not None and wanted.within(self._applied):
            candidates: Sequence[int] = self._positions  # refine the previous result
        else:
            candidates = range(len(universe))
        self._positions = self._scan(candidates, wanted)
        if isinstance(self._positions, range):  # nothing filtered: no copy of 100 000 rows
            self._rows = universe
        else:
            self._rows = [universe[pos] for pos in self._positions]
        self._applied = wanted

    def _scan(self, candidates: Sequence[int], wanted: _Filter) -> Sequence[int]:
        universe, haystacks = self._universe, self._universe_haystacks
        assert universe is not None
        if wanted.accounts is None and wanted.statuses is None and wanted.period.kind == "all" \
                and not wanted.tokens:
            return candidates
        positions = list(candidates)
        if wanted.accounts is not None:
            accounts = wanted.accounts
            positions = [p for p in positions if universe[p].account in accounts]
        if wanted.statuses is not None:
            statuses = wanted.statuses
            positions = [p for p in positions if universe[p].status.casefold() in statuses]
        if wanted.period.kind != "all":
            contains = wanted.period.contains
            positions = [p for p in positions if contains(universe[p].issued)]
        for token in wanted.tokens:
            positions = [p for p in positions if token in haystacks[p]]
        return positions

