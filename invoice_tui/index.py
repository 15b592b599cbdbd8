"""The TUI's read side of the invoice store: a compact index per account, rows on demand.

Building every stored invoice as an :class:`~invoice_tui.model.Invoice` costs seconds and
~190 MB at 100 000 invoices. The table needs far less: what filtering, sorting, counting
and the totals read. An :class:`AccountIndex` keeps exactly that, column by column
(parallel lists; repeated words and dates shared). The few rows on screen are fetched by
primary key (``pk``, stable across refreshes) when they are drawn (:class:`StoreReader`);
an invoice's lines come from :meth:`~invoice_tui.store.InvoiceStore.lines` when its
detail opens.

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
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import accumulate, compress, repeat
from pathlib import Path
from typing import Any, overload

from invoice_tui.connections import CountedConnection
from invoice_tui.meaning import MoneyFacts
from invoice_tui.model import Invoice

__all__ = [
    "AccountIndex", "Extras", "FirstRows", "FirstRowsRead", "KeySource", "SearchTexts",
    "StoreReader", "connect_reader", "load_account", "load_extras", "parse_amount",
    "parse_amounts", "parse_date", "snapshot",
]

_SEP = "\x1f"  # the unit separator: sanitized text never holds a control character
_SEP_BYTES = _SEP.encode()

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
_NOT_IN_AMOUNTS = re.compile(r"[^0-9.\x1f-]")  # in joined plain amounts (and separators)


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


def parse_amounts(texts: list[str], joined: str) -> list[Decimal | None]:
    """:func:`parse_amount` of each text (``""``: NULL), ``joined`` being them joined by the
    separator: when that holds nothing but digits, points and minus signs, Decimal reads
    the lot at C speed (it refuses "1.2.3" or "--1", which sends us down the slow path)."""
    if _NOT_IN_AMOUNTS.search(joined) is None and max(map(len, texts), default=0) <= 81:
        try:
            if "" not in texts:
                return list(map(Decimal, texts))
            return [Decimal(text) if text else None for text in texts]
        except InvalidOperation:
            pass
    return [parse_amount(text) for text in texts]


def _text(value: object) -> str:
    return value if type(value) is str else "" if value is None else str(value)


def _optional(value: object) -> str | None:
    return value if value is None or type(value) is str else str(value)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# --- search texts ---------------------------------------------------------------------------

# A token in more than about half the texts is checked text by text (a few hundred ns
# each); rarer ones are found by one scan of the blob (about as much per text found).
_DENSE = 2
_ALL_BYTES = bytes(range(256))


class SearchTexts(Sequence[bytes]):
    """Search texts (UTF-8, case-folded: ``view.search_text``) as one blob, each text
    followed by the unit separator: text ``i`` is ``blob[starts[i]:starts[i + 1] - 1]``.

    One bytes object and an array of offsets, not an object per invoice: a filter token is
    looked for in contiguous memory at C speed (``bytes.find``, ``re``), and the offsets
    say which text each match is in (:func:`bisect.bisect_right`). No filter token holds
    the separator (``str.split`` takes it for whitespace), so no match runs from one text
    into the next, even when a text of a damaged file holds a separator itself.
    """

    __slots__ = ("_blob", "_ends", "_pure", "_starts")

    def __init__(self, blob: bytes, starts: array[int]) -> None:
        self._blob = blob
        self._starts = starts
        self._ends = memoryview(starts)[1:]  # where each text's find() may stop
        # Whether no text holds a separator: then one regex match per text is enough.
        self._pure = blob.count(_SEP_BYTES) == len(self)

    @classmethod
    def of(cls, texts: Iterable[bytes]) -> SearchTexts:
        """The texts in this order."""
        texts = list(texts)
        return cls.joined(_SEP_BYTES.join([*texts, b""]), map(len, texts))

    @classmethod
    def joined(cls, blob: bytes, lengths: Iterable[int]) -> SearchTexts:
        """From ``blob``: texts of these byte ``lengths``, each followed by a separator."""
        return cls(blob, array("q", accumulate(map((1).__add__, lengths), initial=0)))

    @classmethod
    def concat(cls, parts: Sequence[SearchTexts]) -> SearchTexts:
        """These texts one after the other (every account's, for the view)."""
        if len(parts) == 1:
            return parts[0]
        starts, shift = array("q", [0]), 0
        for part in parts:
            starts.extend(map(shift.__add__, part._starts[1:]))
            shift += len(part._blob)
        return cls(b"".join(part._blob for part in parts), starts)

    def __len__(self) -> int:
        return len(self._starts) - 1

    @overload
    def __getitem__(self, item: int) -> bytes: ...

    @overload
    def __getitem__(self, item: slice) -> list[bytes]: ...

    def __getitem__(self, item: int | slice) -> bytes | list[bytes]:
        if isinstance(item, slice):
            return [self[i] for i in range(*item.indices(len(self)))]
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError(item)
        return self._blob[self._starts[item]:self._starts[item + 1] - 1]

    def flags(self, token: bytes, items: Sequence[int]) -> Iterator[bool]:
        """Whether each of the texts ``items`` (numbers, in any order) holds ``token``."""
        return map((-1).__lt__, map(self._blob.find, repeat(token),
                                    map(self._starts.__getitem__, items),
                                    map(self._ends.__getitem__, items)))

    def common(self, token: bytes) -> bool:
        """Whether ``token`` is likely in more than one text of ``_DENSE`` (by its count in
        a sixteenth of the blob, in 16 places: the texts of a stretch of invoice numbers or
        dates may look alike): then :meth:`mask` is quicker than :meth:`containing`."""
        blob, step = self._blob, len(self._blob) // 16
        if step < 4096:  # a small blob: count it all
            return blob.count(token) * _DENSE > len(self)
        found = sum(map(blob.count, repeat(token, 16), range(0, 16 * step, step),
                        range(step // 16, 17 * step, step)))
        return found * 16 * _DENSE > len(self)

    def mask(self, token: bytes) -> Sequence[object]:
        """For each text in order, something true if it holds ``token``, false if not."""
        if len(token) == 1 and self._pure:
            # One byte (the first key typed): every other byte deleted, then split at the
            # separators, all in C — half the cost of a find() per text.
            return self._blob.translate(None, _ALL_BYTES.translate(None, token + _SEP_BYTES)
                                        ).split(_SEP_BYTES)[:-1]
        return bytes(map((-1).__lt__, map(self._blob.find, repeat(token),
                                          self._starts, self._ends)))

    def containing(self, token: bytes) -> list[int]:
        """The numbers of the texts holding ``token``, ascending: one scan of the blob."""
        if not self._pure or self.common(token):
            return list(compress(range(len(self)), self.mask(token)))
        # The rest of a text after a match is part of the match: the next is in a later text.
        matches = re.finditer(re.escape(token) + b"[^\x1f]*", self._blob)
        return list(map((-1).__add__, map(bisect_right, repeat(self._starts),
                                          map(re.Match.start, matches))))


# --- connections ----------------------------------------------------------------------------


def connect_reader(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to the store at ``path``; ``None`` while there is none yet
    (no file, or no schema in it yet: the store builds it when it opens, and moves a file
    of another version aside first).

    A damaged file raises ``sqlite3.DatabaseError``, which callers report as one line
    (the store moves a broken file aside when it next opens it).
    """
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                           check_same_thread=False, isolation_level=None,
                           factory=CountedConnection)
    # Text that is not UTF-8 (a damaged file) would fail the whole read: decoded with
    # U+FFFD instead, and shown sanitized as any text.
    conn.text_factory = _decode
    try:
        conn.execute("PRAGMA query_only = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:  # no schema yet
            conn.close()
            return None
    except BaseException:
        conn.close()
        raise
    return conn


# --- the index ------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class AccountIndex:
    """One account's stored invoices as the table needs them: parallel lists.

    The lists are in the order the store keeps the rows (by pk): later reads line up
    with them as they come, nothing is moved. ``order`` is the tie order (newest issue
    date first, undated last, then id), the table's default order and every sort's
    tie-break, as positions in those lists. ``days`` are proleptic ordinals of the issue
    date (0: undated), so a period is a range of integers. ``search`` and ``sort_keys``
    (per column key, one per invoice, ``None`` for a missing value) come with
    :func:`load_extras`, after counting and totals.
    """

    account: str
    pks: Sequence[int]  # an array: 8 bytes each, not a 32-byte int object
    ids: list[str]
    days: Sequence[int]  # an array too
    providers: list[str]
    statuses: list[str]
    currencies: list[str]
    totals: list[Decimal | None]
    amounts_due: list[Decimal | None]
    order: Sequence[int] = field(default_factory=list)  # an array of positions
    longest_title: int = 0
    key: str | None = None  # the account's identity in the store, when it was read by it
    search: SearchTexts | None = None  # UTF-8, case-folded (view.search_text)
    sort_keys: dict[str, list[Any]] = field(default_factory=dict)
    # The pks as the store's scan gave them: a later scan that gives the same lines up.
    scan_pks: str = field(default="", repr=False)

    def __len__(self) -> int:
        return len(self.pks)

    def money_facts(self) -> Iterator[MoneyFacts]:
        """Every invoice's :data:`~invoice_tui.meaning.MoneyFacts`, for ``money_totals``."""
        return zip(self.providers, self.statuses, self.currencies, self.totals,
                   self.amounts_due, strict=True)


def _scan(expressions: Sequence[str], extra: str = "") -> str:
    # One pass over the account's rows; each expression's values one joined string. NOT
    # INDEXED: always the table itself, in rowid (pk) order, so two scans line up. The
    # search texts come as UTF-8 bytes: half the memory of str for text that is not all
    # Latin-1 ("—", "東京" make a str 2 or 4 bytes a character).
    joined = "".join(f", CAST(group_concat({expression}, ?1) AS BLOB)" if expression == "search"
                     else f", group_concat({expression}, ?1)" for expression in expressions)
    return (f"SELECT count(*), group_concat(pk, ?1){joined}{extra} "
            "FROM invoices NOT INDEXED WHERE (account_key = ?3 OR ?3 IS NULL) AND account = ?2")


# NULL is "" in a joined column, and a NULL where the schema has NOT NULL (a damaged file)
# drops out of group_concat: the lengths then differ and the slow path reads tuples.
_INDEX_SQL = _scan(
    ("id", "coalesce(issued, '')", "status", "coalesce(total, '')",
     "coalesce(amount_due, '')"),
    # An account has one provider and (nearly always) one currency: a list of one value
    # then, unless these say otherwise. The title's length sizes the invoice column.
    ", min(provider), max(provider), min(currency), max(currency), "
    "max(length(coalesce(nullif(number, ''), nullif(label, ''), id)))")
_PER_ROW_SQL = _scan(("provider", "currency"))


def load_account(conn: sqlite3.Connection, account: str, key: str | None = None
                 ) -> AccountIndex:
    """Read one account's compact index (see :class:`AccountIndex`; no search texts yet).

    ``key`` is the account's identity in the store (``store.account_key``): rows a former
    identity of the same name left (another base URL, another key file) are not its own.
    """
    row = conn.execute(_INDEX_SQL, (_SEP, account, key)).fetchone()
    count = row[0]
    if not count:
        return AccountIndex(account, array("q"), [], array("i"), [], [], [], [], [],
                            array("i"), key=key)
    (scan_pks, ids, issued, statuses, totals, dues,
     provider, last_provider, currency, last_currency, longest) = row[1:]
    columns = [text.split(_SEP) for text in (scan_pks, ids, issued, statuses, totals, dues)]
    per_row = None
    if provider != last_provider or currency != last_currency:
        per_row = conn.execute(_PER_ROW_SQL, (_SEP, account, key)).fetchone()
        if per_row[1] != scan_pks:
            return _load_account_slowly(conn, account, key)
        columns += [text.split(_SEP) for text in per_row[2:]]
    if any(len(column) != count for column in columns):  # a separator inside a value
        return _load_account_slowly(conn, account, key)
    pks_t, ids_t, issued_t, statuses_t, totals_t, dues_t = columns[:6]
    dates = {text: (day.toordinal() if (day := parse_date(text)) else 0)
             for text in set(issued_t)}
    days = array("i", map(dates.__getitem__, issued_t))
    # The tie order: by id, then (stably, reverse too) by issue date, newest first; undated
    # (0) last.
    order = sorted(range(count), key=ids_t.__getitem__)
    order.sort(key=days.__getitem__, reverse=True)
    shared: dict[str, str] = {}

    def words(texts: list[str]) -> list[str]:  # repeated words: one string each
        return list(map(shared.setdefault, texts, texts))

    return AccountIndex(
        account=account,
        pks=array("q", map(int, pks_t)),
        ids=ids_t,
        days=days,
        providers=words(columns[6]) if per_row else [_text(provider)] * count,
        statuses=words(statuses_t),
        currencies=words(columns[7]) if per_row else [_text(currency)] * count,
        totals=parse_amounts(totals_t, totals),
        amounts_due=parse_amounts(dues_t, dues),
        order=array("i", order),
        longest_title=int(longest or 0),
        key=key,
        scan_pks=scan_pks,
    )


def _load_account_slowly(conn: sqlite3.Connection, account: str, key: str | None
                         ) -> AccountIndex:
    # A value holds the separator (a damaged or hand-edited file): a tuple per row instead.
    rows = conn.execute(
        "SELECT pk, id, issued, provider, status, currency, total, amount_due, "
        "length(coalesce(nullif(number, ''), nullif(label, ''), id)) "
        "FROM invoices NOT INDEXED WHERE (account_key = ?2 OR ?2 IS NULL) AND account = ?1",
        (account, key)).fetchall()
    day = {text: (d.toordinal() if (d := parse_date(text)) else 0)
           for text in {r[2] for r in rows}}
    order = sorted(range(len(rows)), key=lambda i: (-day[rows[i][2]], _text(rows[i][1])))
    return AccountIndex(
        account=account,
        pks=array("q", (r[0] for r in rows)),
        ids=[_text(r[1]) for r in rows],
        days=array("i", (day[r[2]] for r in rows)),
        providers=[_text(r[3]) for r in rows],
        statuses=[_text(r[4]) for r in rows],
        currencies=[_text(r[5]) for r in rows],
        totals=[parse_amount(r[6]) for r in rows],
        amounts_due=[parse_amount(r[7]) for r in rows],
        order=array("i", order),
        longest_title=max((r[8] or 0 for r in rows), default=0),
        key=key,
        scan_pks=_SEP.join(str(r[0]) for r in rows),
    )


#: How a column's sort keys are read: an SQL expression over the stored row (TEXT; NULL
#: as ``""``) and a function making the keys of a list of its values (``None``: missing).
KeySource = tuple[str, Callable[[list[str]], list[Any]]]

#: What the table shows before any index is read: the newest (pk, invoice) rows of some
#: accounts, and how many invoices they have (:meth:`StoreReader.first_rows`).
FirstRows = tuple[list[tuple[int, Invoice]], int]

#: What :func:`load_extras` reads: the search texts (``None`` when not asked for) and sort
#: keys by column, each aligned with the index.
Extras = tuple[SearchTexts | None, dict[str, list[Any]]]


def load_extras(conn: sqlite3.Connection, index: AccountIndex, keys: Mapping[str, KeySource],
                *, search: bool = True) -> Extras:
    """The index's search texts and the sort keys of ``keys``, aligned with it.

    Read in the index's :func:`snapshot`, the rows line up with it as they come; read
    later, they are matched by pk (an invoice gone since gets ``""`` / ``None``).
    """
    expressions = [*(("search",) if search else ()), *(expr for expr, _ in keys.values())]
    if not expressions:
        nothing: Extras = (None, {})
        return nothing
    row = conn.execute(_scan(expressions), (_SEP, index.account, index.key)).fetchone()
    count, scan_pks, joined = row[0], row[1] or "", row[2:]
    values: list[list[Any]] = [
        (text.split(_SEP_BYTES) if type(text) is bytes else text.split(_SEP)) if count else []
        for text in joined]
    blob = joined[0] if search and count else None  # the search texts, joined already
    if any(len(column) != count for column in values):  # a separator inside a value
        blob = None
        selected = ", ".join("CAST(search AS BLOB)" if e == "search" else e for e in expressions)
        rows = conn.execute(f"SELECT pk, {selected} FROM invoices NOT INDEXED "
                            "WHERE (account_key = ?2 OR ?2 IS NULL) AND account = ?1",
                            (index.account, index.key)).fetchall()
        scan_pks = _SEP.join(str(r[0]) for r in rows)
        values = [[(r[i] or b"") if expressions[i - 1] == "search" else _text(r[i])
                   for r in rows] for i in range(1, len(expressions) + 1)]
    aligned = scan_pks == index.scan_pks
    if not aligned:  # the store changed since the index was read: match by pk
        at = {int(pk): i for i, pk in enumerate(scan_pks.split(_SEP))} if scan_pks else {}
        wanted = [at.get(pk, -1) for pk in index.pks]

    def place(column: list[Any], missing: object) -> list[Any]:
        if aligned:
            return column
        return [column[i] if i >= 0 else missing for i in wanted]

    texts = None
    if search:
        split = values.pop(0)
        texts = (SearchTexts.joined(blob + _SEP_BYTES, map(len, split))
                 if aligned and type(blob) is bytes else SearchTexts.of(place(split, b"")))
    made: dict[str, list[Any]] = {}
    for (name, (_, make)), column in zip(keys.items(), values, strict=True):
        made[name] = place(make(column), None)
    return texts, made


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction: every read inside sees the same state of the store, whatever
    a sync writes meanwhile (WAL readers never wait for the writer)."""
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # it begins here
        yield conn
    finally:
        conn.execute("COMMIT")


# --- rows on demand -------------------------------------------------------------------------

_HEADER_FIELDS = (
    "account", "provider", "id", "number", "label", "issued", "due", "period_start",
    "period_end", "status", "currency", "subtotal", "discount", "tax", "total", "amount_due",
    "tax_rate", "url", "pdf_url", "totals_computed", "estimate_incomplete",
)
_HEADER_SQL = f"SELECT pk, {', '.join(_HEADER_FIELDS)} FROM invoices WHERE pk IN "
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
    These reads happen while the table draws, so a store that fails under them (a file
    damaged meanwhile) reads as missing rows, not an exception: the view then shows what
    its index knows, and the next read of the store says what is wrong.
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
        found: dict[int, Invoice] = {}
        with self._failing_as_missing():
            conn = self._connection()
            for start in range(0, len(pks), 500):  # SQLite's limit on bound parameters
                if conn is None:
                    break
                chunk = pks[start:start + 500]
                sql = f"{_HEADER_SQL}({', '.join('?' * len(chunk))})"
                found.update((row[0], _header(row)) for row in conn.execute(sql, chunk))
        return found

    @contextmanager
    def _failing_as_missing(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error:
            self.close()  # reopened on the next read

    def first_rows(self, accounts: Sequence[str], limit: int, *,
                   keys: Sequence[str] | None = None) -> FirstRows:
        """The newest ``limit`` (pk, invoice) of these accounts (the table's default order, by
        the store's index) and how many invoices they have: what to show before any index.

        ``keys``: the accounts' identities in the store (see :func:`load_account`).
        """
        conn = self._connection()
        if conn is None or not accounts:
            return [], 0
        column, values = ("account_key", keys) if keys is not None else ("account", accounts)
        where = f"WHERE {{}} IN ({', '.join('?' * len(values))})"
        with snapshot(conn):
            # Counted by the key's index alone (~10 ms at 100 000).
            count = conn.execute(f"SELECT count(*) FROM invoices {where.format(column)}",
                                 values).fetchone()[0]
            # The newest rows: along the issue date's index, stopping after ``limit``
            # ("+": not by the key's index, which would sort every row of the accounts:
            # 0.3 s at 100 000, not milliseconds). That walk reads about limit × (rows in
            # the store / rows of these accounts) entries, so for accounts holding few of
            # the store's rows (another account's 100 000; none at all: the whole index,
            # 70 ms) their rows are found by the key's index and sorted instead: about
            # ``count`` rows. Whichever reads fewer (``max(pk)`` bounds the store's rows).
            store_rows = conn.execute("SELECT max(pk) FROM invoices").fetchone()[0] or 0
            by_key = count * count <= limit * store_rows
            first = _FIRST_SQL.format(where=where.format(column if by_key else "+" + column))
            rows = conn.execute(first, (*values, limit)).fetchall() if count else []
        return [(row[0], _header(row)) for row in rows], int(count)

    def extras(self, index: AccountIndex, keys: Mapping[str, KeySource], *,
               search: bool = False) -> Extras:
        """:func:`load_extras` now (what the index was read without), matched by pk."""
        with self._failing_as_missing():
            conn = self._connection()
            if conn is not None:
                return load_extras(conn, index, keys, search=search)
        return (SearchTexts.of([b""] * len(index)) if search else None), {
            name: [None] * len(index) for name in keys}

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FirstRowsRead:
    """:meth:`StoreReader.first_rows` in a thread of its own, begun when this is made.

    Made as soon as the store is open, the read (file I/O, and SQLite's work, which runs
    without the GIL) overlaps with starting the UI instead of delaying its first frame;
    :meth:`result` waits for it. Its own connection, closed when the read is done.
    """

    def __init__(self, path: Path, accounts: Sequence[str], limit: int, *,
                 keys: Sequence[str] | None = None) -> None:
        self.path = path
        self.accounts = tuple(accounts)
        self.keys = tuple(keys) if keys is not None else None
        self.limit = limit
        self._result: FirstRows | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._read, name="invoice-tui first rows",
                                        daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with StoreReader(self.path) as reader:
                self._result = reader.first_rows(self.accounts, self.limit, keys=self.keys)
        except Exception as error:  # noqa: BLE001 - raised again by result(), in the caller
            self._error = error

    def result(self) -> FirstRows:
        """The first rows and the count (as :meth:`StoreReader.first_rows`), once read; what
        the read raised (``sqlite3.Error`` for a damaged store) is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
