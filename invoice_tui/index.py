"""The TUI's read side of the invoice store: a compact index per account, rows on demand.

Building every stored invoice as an :class:`~invoice_tui.model.Invoice` costs seconds and
~190 MB at 100 000 invoices. The table needs far less: what filtering, sorting, counting
and the totals read. An :class:`AccountIndex` keeps exactly that, column by column
(parallel lists; repeated words and dates shared), in the account's tie order. The few
rows on screen are fetched by primary key (``pk``, stable across refreshes) when they are
drawn (:class:`StoreReader`); an invoice's lines when its detail opens.

Reading is in two steps, so that counting and totals do not wait for the rest:
:func:`load_account` (what counts, totals, the default order and the account, status and
period filters need), then :func:`load_extras` (the search texts and the sort keys of the
columns the index does not hold). Each column is read as one ``group_concat`` string
split in C, about half the cost of fetching a tuple per row.

The database is a file, so nothing in it is trusted: an amount that is not a plain
decimal, a date that is not a date, becomes a missing value, never an exception; text is
sanitized where it is shown (``view.cell_text``, the detail screen), as server text is.
Plain ``sqlite3`` on read-only connections: the store (``invoice_tui.store``) writes.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from invoice_tui.meaning import MoneyFacts
from invoice_tui.model import AccountSummary, Invoice, Line, Tax
from invoice_tui.store import SCHEMA_VERSION

__all__ = [
    "AccountIndex", "Extras", "StoreReader", "StoredAccount", "TextColumns", "connect_reader",
    "load_account", "load_account_states", "load_extras", "parse_amount", "parse_date",
    "snapshot",
]

_T = TypeVar("_T")
_SEP = "\x1f"  # the unit separator: sanitized text never holds a control character

# --- values read from the file ------------------------------------------------------------


@lru_cache(maxsize=8192)
def parse_date(value: object) -> dt.date | None:
    """A stored ``YYYY-MM-DD`` as a date; anything else (``NULL``, garbage) as ``None``."""
    if type(value) is not str or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?")
_PLAIN_AMOUNTS = re.compile(r"(?:-?[0-9]{1,40}(?:\.[0-9]{1,40})?)?(?:\x1f(?:-?[0-9]{1,40}"
                            r"(?:\.[0-9]{1,40})?)?)*")


def parse_amount(value: object) -> Decimal | None:
    """A stored amount (exact decimal TEXT) as a ``Decimal``; anything else as ``None``.

    Only plain decimals of at most 40 digits each side, as the parsers write them: not
    ``NaN``/``Infinity`` (no ordering, no sum) nor ``1E+999999`` (a sum would overflow).
    """
    if type(value) is not str:
        return None
    if _PLAIN_AMOUNT.fullmatch(value) is None:
        if not value or "E" not in value.upper():
            return None
        try:  # str(Decimal) writes tiny or zero amounts in exponent form ("0E-8")
            amount = Decimal(value)
        except InvalidOperation:
            return None
        return amount if amount.is_finite() and -40 <= amount.adjusted() <= 40 else None
    return Decimal(value)


def _amounts(joined: str, count: int) -> list[Decimal | None]:
    # The common case at C speed: every value a plain decimal or empty (NULL).
    texts = joined.split(_SEP) if count else []
    if _PLAIN_AMOUNTS.fullmatch(joined) is not None:
        return [Decimal(text) if text else None for text in texts]
    return [parse_amount(text) for text in texts]


def _text(value: object) -> str:
    return value if type(value) is str else "" if value is None else str(value)


def _optional(value: object) -> str | None:
    return value if value is None or type(value) is str else str(value)


# --- connections ----------------------------------------------------------------------------


def connect_reader(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to the store at ``path``; ``None`` while there is none yet
    (no file, or not yet or no longer our schema: the store builds it when it opens).

    A damaged file raises ``sqlite3.DatabaseError``, which callers report as one line
    (the store moves a broken file aside when it next opens it).
    """
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                           check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA query_only = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            conn.close()
            return None
    except BaseException:
        conn.close()
        raise
    return conn


# --- the index ------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class AccountIndex:
    """One account's stored invoices as the table needs them: parallel lists, in tie order.

    The tie order (newest issue date first, undated last, then id) is the table's default
    order and every sort's tie-break. ``days`` are proleptic ordinals of the issue date
    (0: undated), so a period is a range of integers. ``search`` and ``sort_keys`` (per
    column key, one per invoice, ``None`` for a missing value) come with
    :func:`load_extras`, after counting and totals.
    """

    account: str
    pks: list[int]
    ids: list[str]
    days: list[int]
    providers: list[str]
    statuses: list[str]
    currencies: list[str]
    totals: list[Decimal | None]
    amounts_due: list[Decimal | None]
    longest_title: int = 0
    search: list[str] | None = None
    sort_keys: dict[str, list[Any]] = field(default_factory=dict)
    # Where each invoice of the store's scan (in pk order) sits in the tie order, and that
    # scan's pks as read: later reads in pk order are placed with it, or found out as stale.
    scan_order: list[int] = field(default_factory=list, repr=False)
    scan_pks: str = field(default="", repr=False)

    def __len__(self) -> int:
        return len(self.pks)

    def money_facts(self) -> Iterator[MoneyFacts]:
        """Every invoice's :data:`~invoice_tui.meaning.MoneyFacts`, for ``money_totals``."""
        return zip(self.providers, self.statuses, self.currencies, self.totals,
                   self.amounts_due, strict=True)


def _scan(columns: Sequence[str], extra: str = "") -> str:
    # One pass over the account's rows in pk (rowid) order; each column one joined string
    # (NULL as ""). The subquery's ORDER BY pk keeps SQLite from walking an index instead
    # (another order); a rowid table is already in that order, so nothing is sorted.
    selected = ", ".join(dict.fromkeys(("pk", *columns)))
    joined = "".join(f", group_concat(coalesce({column}, ''), ?1)" for column in columns)
    return (f"SELECT count(*), group_concat(pk, ?1){joined}{extra} FROM "
            f"(SELECT {selected} FROM invoices WHERE account = ?2 ORDER BY pk)")


# The title's length (number, else label, else id) sizes the invoice column.
_TITLE_LENGTH = ", max(length(coalesce(nullif(number, ''), nullif(label, ''), id)))"
_INDEX_SQL = _scan(("id", "issued", "provider", "status", "currency", "total", "amount_due"),
                   _TITLE_LENGTH).replace("SELECT pk, id,", "SELECT pk, number, label, id,", 1)


def load_account(conn: sqlite3.Connection, account: str) -> AccountIndex:
    """Read one account's compact index (see :class:`AccountIndex`; no search texts yet)."""
    row = conn.execute(_INDEX_SQL, (_SEP, account)).fetchone()
    count = row[0]
    if not count:
        return AccountIndex(account, [], [], [], [], [], [], [], [])
    scan_pks, ids, issued, providers, statuses, currencies, totals, dues, longest = row[1:]
    columns = [text.split(_SEP) for text in (ids, issued, providers, statuses, currencies)]
    if any(len(column) != count for column in columns):  # a separator inside a value
        return _load_account_slowly(conn, account)
    ids_l, issued_l, providers_l, statuses_l, currencies_l = columns
    dates = {text: (day.toordinal() if (day := parse_date(text)) else 0)
             for text in set(issued_l)}
    days = list(map(dates.__getitem__, issued_l))
    # The tie order: by id, then (stably) by issue date, newest first; undated (0) last.
    order = sorted(range(count), key=ids_l.__getitem__)
    negated = [-day for day in days]
    order.sort(key=negated.__getitem__)
    shared: dict[str, str] = {}
    pks = [int(pk) for pk in scan_pks.split(_SEP)]
    return AccountIndex(
        account=account,
        pks=_placed(pks, order),
        ids=_placed(ids_l, order),
        days=_placed(days, order),
        providers=_placed(list(map(shared.setdefault, providers_l, providers_l)), order),
        statuses=_placed(list(map(shared.setdefault, statuses_l, statuses_l)), order),
        currencies=_placed(list(map(shared.setdefault, currencies_l, currencies_l)), order),
        totals=_placed(_amounts(totals, count), order),
        amounts_due=_placed(_amounts(dues, count), order),
        longest_title=int(longest or 0),
        scan_order=order,
        scan_pks=scan_pks,
    )


def _placed(values: list[_T], order: list[int]) -> list[_T]:
    return list(map(values.__getitem__, order))


def _load_account_slowly(conn: sqlite3.Connection, account: str) -> AccountIndex:
    # A value holds the separator (a damaged or hand-edited file): a tuple per row instead.
    rows = conn.execute(
        "SELECT pk, id, issued, provider, status, currency, total, amount_due, "
        "length(coalesce(nullif(number, ''), nullif(label, ''), id)) "
        "FROM invoices WHERE account = ? ORDER BY pk", (account,)).fetchall()
    day = {text: (d.toordinal() if (d := parse_date(text)) else 0)
           for text in {r[2] for r in rows}}
    order = sorted(range(len(rows)), key=lambda i: (-day[rows[i][2]], _text(rows[i][1])))
    ordered = [rows[i] for i in order]
    return AccountIndex(
        account=account,
        pks=[r[0] for r in ordered],
        ids=[_text(r[1]) for r in ordered],
        days=[day[r[2]] for r in ordered],
        providers=[_text(r[3]) for r in ordered],
        statuses=[_text(r[4]) for r in ordered],
        currencies=[_text(r[5]) for r in ordered],
        totals=[parse_amount(r[6]) for r in ordered],
        amounts_due=[parse_amount(r[7]) for r in ordered],
        longest_title=max((r[8] or 0 for r in rows), default=0),
        scan_order=order,
        scan_pks=_SEP.join(str(r[0]) for r in rows),
    )


#: Stored columns, joined into one tuple of their TEXT values per invoice, from which a
#: sort key is made (``view`` knows which columns a table column sorts by).
TextColumns = tuple[str, ...]


#: What :func:`load_extras` reads: the search texts (``None`` when not asked for) and sort
#: keys by column, each aligned with the index.
Extras = tuple[list[str] | None, dict[str, list[Any]]]


def load_extras(conn: sqlite3.Connection, index: AccountIndex,
                keys: Mapping[str, tuple[TextColumns, Callable[[tuple[str, ...]], object]]],
                *, search: bool = True) -> Extras | None:
    """The index's search texts and the sort keys of ``keys`` (name → columns, key function).

    Each key function gets the named columns' stored TEXT (``""`` for NULL) of one
    invoice and returns its sort key (``None``: missing). ``None`` when the account changed
    in the store since the index was read (read both in one :func:`snapshot`), or when a
    value holds the separator: what is missing is then read when needed.
    """
    columns = [*(("search",) if search else ()),
               *dict.fromkeys(c for names, _ in keys.values() for c in names)]
    if not columns:
        return None, {}
    row = conn.execute(_scan(columns), (_SEP, index.account)).fetchone()
    if row[0] != len(index) or (row[1] or "") != index.scan_pks:
        return None
    split = {name: (text or "").split(_SEP) if row[0] else []
             for name, text in zip(columns, row[2:], strict=True)}
    if any(len(values) != row[0] for values in split.values()):
        return None
    order = index.scan_order
    made: dict[str, list[Any]] = {}
    for name, (names, make_key) in keys.items():
        values = zip(*(split[c] for c in names), strict=True)
        made[name] = _placed([make_key(value) for value in values], order)
    return (_placed(split["search"], order) if search else None), made


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction: every read inside sees the same state of the store, whatever
    a sync writes meanwhile (WAL readers never wait for the writer)."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """What the store says of an account's last complete sync."""

    synced_at: dt.datetime | None
    invoice_count: int
    summary: AccountSummary


def load_account_states(conn: sqlite3.Connection) -> dict[str, StoredAccount]:
    """The ``accounts`` rows by account name (the latest complete sync when a name has
    several). Interim: the store's ``account_states`` reads the same; use it once it lands."""
    states: dict[str, StoredAccount] = {}
    for name, synced_at, count, plan_price, plan_currency, balance, balance_currency in \
            conn.execute("SELECT name, synced_at, invoice_count, plan_price, plan_currency, "
                         "balance, balance_currency FROM accounts ORDER BY synced_at"):
        try:
            when = dt.datetime.fromisoformat(synced_at) if type(synced_at) is str else None
        except ValueError:
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        states[_text(name)] = StoredAccount(
            when, count if type(count) is int else 0,
            AccountSummary(parse_amount(plan_price), _optional(plan_currency),
                           parse_amount(balance), _optional(balance_currency)))
    return states


# --- rows on demand -------------------------------------------------------------------------

_HEADER_FIELDS = (
    "account", "provider", "id", "number", "label", "issued", "due", "period_start",
    "period_end", "status", "currency", "subtotal", "discount", "tax", "total", "amount_due",
    "tax_rate", "url", "pdf_url", "totals_computed", "estimate_incomplete",
)
_HEADER_SQL = f"SELECT pk, {', '.join(_HEADER_FIELDS)} FROM invoices WHERE pk IN "
_LINE_SQL = ('SELECT position, kind, description, quantity, unit_price, amount, tax, net, '
             'gross, currency, period_start, period_end, consumption, "limit", lookup_key '
             'FROM lines WHERE invoice_pk = ? ORDER BY position')
_TAX_SQL = ("SELECT line_position, name, rate, amount, level, category, taxable, currency "
            "FROM taxes WHERE invoice_pk = ? ORDER BY line_position, position")
_FIRST_SQL = (f"SELECT pk, {', '.join(_HEADER_FIELDS)} FROM invoices {{where}} "
              "ORDER BY issued DESC, account, id LIMIT ?")


def _header(row: Sequence[object]) -> Invoice:
    """An invoice header (``lines=()``) from a row of ``pk`` + :data:`_HEADER_FIELDS`."""
    (_, account, provider, invoice_id, number, label, issued, due, period_start, period_end,
     status, currency, subtotal, discount, tax, total, amount_due, tax_rate, url, pdf_url,
     totals_computed, estimate_incomplete) = row
    return Invoice(
        account=_text(account), provider=_text(provider), id=_text(invoice_id),
        currency=_text(currency), status=_text(status), number=_optional(number),
        label=_optional(label), issued=parse_date(issued), due=parse_date(due),
        period_start=parse_date(period_start), period_end=parse_date(period_end),
        subtotal=parse_amount(subtotal), discount=parse_amount(discount),
        tax=parse_amount(tax), total=parse_amount(total), amount_due=parse_amount(amount_due),
        tax_rate=parse_amount(tax_rate), url=_optional(url), pdf_url=_optional(pdf_url),
        totals_computed=bool(totals_computed), estimate_incomplete=bool(estimate_incomplete),
    )


class StoreReader:
    """Invoice headers by ``pk`` and lines by invoice, read from the store when needed.

    One read-only connection, opened on first use and used from one thread at a time
    (the UI's): a screenful of rows is one ``WHERE pk IN (…)`` query of a millisecond.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            self._conn = connect_reader(self.path)
        return self._conn

    def close(self) -> None:
        """Close the connection (it reopens on the next read)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def headers(self, pks: Sequence[int]) -> dict[int, Invoice]:
        """The invoices with these pks (``lines=()``); a pk no longer stored is left out."""
        conn = self._connection()
        if conn is None or not pks:
            return {}
        found: dict[int, Invoice] = {}
        for start in range(0, len(pks), 500):  # SQLite's limit on bound parameters
            chunk = pks[start:start + 500]
            sql = f"{_HEADER_SQL}({', '.join('?' * len(chunk))})"
            found.update((row[0], _header(row)) for row in conn.execute(sql, chunk))
        return found

    def first_rows(self, accounts: Sequence[str], limit: int
                   ) -> tuple[list[tuple[int, Invoice]], int]:
        """The newest ``limit`` (pk, invoice) of these accounts (the table's default order, by
        the store's index) and how many invoices they have: what to show before any index."""
        conn = self._connection()
        if conn is None or not accounts:
            return [], 0
        where = f"WHERE account IN ({', '.join('?' * len(accounts))})"
        with snapshot(conn):
            rows = conn.execute(_FIRST_SQL.format(where=where), (*accounts, limit)).fetchall()
            count = conn.execute(f"SELECT count(*) FROM invoices {where}", accounts).fetchone()[0]
        return [(row[0], _header(row)) for row in rows], int(count)

    def column_text(self, account: str, columns: TextColumns) -> dict[int, tuple[str, ...]]:
        """Per pk of the account, the named columns' stored TEXT (``""`` for NULL)."""
        conn = self._connection()
        if conn is None:
            return {}
        selected = ", ".join(f"coalesce({c}, '')" for c in columns)
        return {row[0]: tuple(map(_text, row[1:])) for row in conn.execute(
            f"SELECT pk, {selected} FROM invoices WHERE account = ?", (account,))}

    def lines(self, pk: int) -> tuple[Line, ...]:
        """The invoice's line items with their taxes, in order (``()`` when it is gone).

        Interim: the store's ``lines()`` reads the same tables; use it once it lands.
        """
        conn = self._connection()
        if conn is None:
            return ()
        taxes: dict[int, list[Tax]] = {}
        for position, *values in conn.execute(_TAX_SQL, (pk,)):
            name, rate, amount, level, category, taxable, currency = values
            taxes.setdefault(position, []).append(Tax(
                name=_optional(name), rate=parse_amount(rate), amount=parse_amount(amount),
                level=_optional(level), category=_optional(category),
                taxable=parse_amount(taxable), currency=_optional(currency)))
        lines = []
        for position, *values in conn.execute(_LINE_SQL, (pk,)):
            (kind, description, quantity, unit_price, amount, tax, net, gross, currency,
             period_start, period_end, consumption, limit, lookup_key) = values
            lines.append(Line(
                kind=_text(kind), description=_text(description),
                quantity=parse_amount(quantity), unit_price=parse_amount(unit_price),
                amount=parse_amount(amount), tax=parse_amount(tax), net=parse_amount(net),
                gross=parse_amount(gross), currency=_optional(currency),
                period_start=parse_date(period_start), period_end=parse_date(period_end),
                consumption=parse_amount(consumption), limit=parse_amount(limit),
                lookup_key=_optional(lookup_key), taxes=tuple(taxes.get(position, ())),
            ))
        return tuple(lines)
