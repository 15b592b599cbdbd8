"""The TUI's read side of the store (``invoice_tui.index``) and the lazy view over it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from invoice_factory import make_invoice, synthetic_invoices
from store_fill import account_config, load_view, store_of, view_of

from invoice_tui.index import (
    StoreReader,
    connect_reader,
    load_account,
    load_extras,
    parse_amount,
    parse_date,
    snapshot,
)
from invoice_tui.meaning import money_facts, money_totals
from invoice_tui.model import Invoice, Line, Tax
from invoice_tui.view import COLUMNS, STORED_SORT_KEYS, InvoiceView, Period, column


def _tamper(path: Path) -> sqlite3.Connection:
    """A plain connection to change the file behind the store's back (damage, edits)."""
    return sqlite3.connect(path, isolation_level=None)


def _headers(invoices: list[Invoice]) -> list[Invoice]:
    return [dataclasses.replace(invoice, lines=()) for invoice in invoices]


def _expected(invoices: list[Invoice], view: InvoiceView) -> list[Invoice]:
    """The old full load's rows: every invoice in memory, filtered and sorted by the spec."""
    tokens = view.query.casefold().split()
    kept = [inv for inv in invoices
            if (view.accounts is None or inv.account in view.accounts)
            and (view.statuses is None or inv.status.casefold() in view.statuses)
            and view.period.contains(inv.issued)
            and all(any(t in field.casefold() for field in (
                inv.number or "", inv.label or "", inv.status, inv.account,
                *(line.description for line in inv.lines))) for t in tokens)]
    kept.sort(key=lambda inv: (-inv.issued.toordinal() if inv.issued else 0, inv.account, inv.id))
    if (view.sort_key, view.sort_reverse) == ("issued", True):
        return _headers(kept)
    key = column(view.sort_key).sort
    present = sorted((inv for inv in kept if key(inv) is not None), key=key,  # type: ignore
                     reverse=view.sort_reverse)
    return _headers(present + [inv for inv in kept if key(inv) is None])


@pytest.mark.parametrize("extras", [True, False], ids=["extras", "read-when-needed"])
def test_lazy_rows_equal_the_old_full_load_on_a_mixed_dataset(extras: bool) -> None:
    invoices = synthetic_invoices(3000, seed=11)
    view = view_of(*invoices, extras=extras)
    steps = [
        lambda: None,
        lambda: view.set_query("vox-00"),
        lambda: view.set_query("vox-001"),  # a refinement of the previous result
        lambda: view.set_query("東京"),
        lambda: view.set_query(""),
        lambda: view.set_period(Period("year", 2024)),
        lambda: view.set_statuses({"paid", "ESTIMATE", "new"}),
        lambda: view.set_accounts({"vox-jp", "unleash-acme"}),
        lambda: view.set_period(Period()),
        lambda: view.set_statuses(None),
        lambda: view.set_accounts(None),
    ]
    for step in steps:
        step()
        for col in COLUMNS:
            for reverse in (False, True):
                view.sort_by(col.key, reverse)
                assert list(view.rows) == _expected(invoices, view), (col.key, reverse)
        view.sort_by("issued", True)
        # The totals over the compact records are money_totals over the full invoices.
        visible = {(inv.account, inv.id) for inv in view.rows}
        assert view.totals() == money_totals(money_facts(inv) for inv in invoices
                                             if (inv.account, inv.id) in visible)


class CountingReader(StoreReader):
    """A store reader that counts the headers it reads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.read: list[int] = []

    def headers(self, pks):  # type: ignore[no-untyped-def]
        self.read.extend(pks)
        return super().headers(pks)


def test_rows_are_read_a_window_at_a_time_through_a_bounded_cache() -> None:
    path = store_of(synthetic_invoices(6000)).path
    reader = CountingReader(path)
    view = load_view(InvoiceView(reader), path)
    rows = view.rows
    assert len(rows) == 6000 and reader.read == []  # counting needs no row
    first = rows[0]
    assert 0 < len(reader.read) <= 200  # one window around the row looked at
    assert rows[0] is first and rows[5] and len(reader.read) <= 200  # the same window
    rows[-1]
    assert len(reader.read) <= 400
    for index in range(0, 6000, 50):  # a scroll through everything: the cache stays bounded
        rows[index]
    assert len(view._cache) <= 4096
    assert rows[-1] == rows[5999] and rows[:2] == [rows[0], rows[1]]
    with pytest.raises(IndexError):
        rows[6000]


def test_an_invoice_gone_from_the_store_shows_what_the_index_knew() -> None:
    invoice = make_invoice("vox", "1", number="VOX-1", total=Decimal("12.50"))
    view = view_of(invoice, make_invoice("vox", "2", issued=dt.date(2025, 1, 1)))
    assert view.source is not None
    conn = _tamper(view.source.path)  # type: ignore[attr-defined]
    conn.execute("DELETE FROM invoices WHERE id = '1'")  # a refresh removed it, not yet re-read
    conn.close()
    ghost = view.rows[0]
    assert (ghost.account, ghost.id, ghost.total, ghost.issued) == ("vox", "1", Decimal("12.50"),
                                                                   dt.date(2026, 1, 1))
    assert ghost.number is None and view.rows[1].id == "2"


def test_headers_round_trip_exactly_and_lines_come_from_the_store() -> None:
    invoice = Invoice(
        account="acme", provider="unleash", id="https://x/1", currency="EUR", status="paid",
        number=None, label="Oktober 2026 · Zürich", issued=dt.date(2026, 10, 1),
        due=dt.date(2026, 10, 15), period_start=dt.date(2026, 9, 1),
        period_end=dt.date(2026, 9, 30), subtotal=Decimal("100.10"),
        discount=Decimal("0E-8"), tax=Decimal("19.019"), total=Decimal("1.1911E+2"),
        amount_due=Decimal("-0.00"), tax_rate=Decimal("19"), url="https://x/1", pdf_url=None,
        totals_computed=True, estimate_incomplete=True,
        lines=(Line(kind="usage", description="API 東京", quantity=Decimal("3"),
                    unit_price=Decimal("1.5"), amount=Decimal("4.50"), net=Decimal("4.50"),
                    currency="EUR", period_start=dt.date(2026, 9, 1), consumption=Decimal(7),
                    limit=Decimal(5), lookup_key="api",
                    taxes=(Tax(name="VAT", rate=Decimal("0.19"), amount=Decimal("0.855"),
                               level="country", category="std", taxable=Decimal("4.50"),
                               currency="EUR"),
                           Tax(name="Levy", rate=Decimal("0.01")))),
               Line(kind="main", description="Seats")),
    )
    store = store_of([invoice])
    view = load_view(InvoiceView(StoreReader(store.path)), store.path)
    shown = view.rows[0]
    assert shown == dataclasses.replace(invoice, lines=())
    account = account_config("acme", "unleash")
    assert dataclasses.replace(shown, lines=store.lines(account, shown.id)) == invoice


def test_hostile_values_in_the_file_become_missing_values() -> None:
    assert parse_amount("12.34") == Decimal("12.34")
    assert parse_amount("0E-8") == Decimal("0E-8")
    for bad in ("NaN", "Infinity", "-inf", "1E+999999", "12,5", "", " 1", "1" * 41, None, 3,
                b"1"):
        assert parse_amount(bad) is None, bad
    assert parse_date("2026-02-28") == dt.date(2026, 2, 28)
    for bad in ("2026-02-30", "tomorrow", "", None, 20260101, "2026-2-1"):
        assert parse_date(bad) is None, bad
    path = store_of([make_invoice("vox", str(n), total=Decimal(n)) for n in range(1, 4)]).path
    conn = _tamper(path)
    conn.execute("UPDATE invoices SET total = 'NaN', issued = 'soon' WHERE id = '1'")
    conn.execute("UPDATE invoices SET total = x'00ff', status = 7 WHERE id = '2'")
    conn.execute("UPDATE invoices SET search = 'zz\x1fyy' WHERE id = '3'")  # the separator
    conn.close()
    reader = connect_reader(path)
    assert reader is not None
    index = load_account(reader, "vox")
    assert sorted(index.ids) == ["1", "2", "3"]
    assert dict(zip(index.ids, index.totals, strict=True)) == {
        "1": None, "2": None, "3": Decimal(3)}
    assert index.days[index.ids.index("1")] == 0 and index.statuses[index.ids.index("2")] == "7"
    search, keys = load_extras(reader, index, STORED_SORT_KEYS)  # a tuple per row, then
    assert search is not None and search[index.ids.index("3")] == b"zz\x1fyy"
    assert keys["total"][index.ids.index("1")] is None
    view = InvoiceView(StoreReader(path))
    view.set_index(index)
    view.set_query("zz")  # the search texts are read when needed
    assert [inv.id for inv in view.rows] == ["3"]
    view.set_query("")
    view.sort_by("total")
    assert [inv.id for inv in view.rows] == ["3", "2", "1"]  # missing last; "1" is undated
    reader.close()


def test_reads_in_one_snapshot_see_one_state_and_later_ones_match_by_pk() -> None:
    store = store_of([make_invoice("vox", str(n), total=Decimal(n)) for n in range(5)])
    path = store.path
    reader = connect_reader(path)
    assert reader is not None
    with snapshot(reader):
        index = load_account(reader, "vox")
        writer = store.begin_sync(account_config("vox", "voximplant"))  # a sync writes
        writer.add([make_invoice("vox", "new")])
        assert load_extras(reader, index, {})[0] is not None
        assert len(load_account(reader, "vox")) == 5  # still the state the snapshot began in
    assert len(load_account(reader, "vox")) == 6
    conn = _tamper(path)
    conn.execute("DELETE FROM invoices WHERE id = '2'")
    conn.close()
    search, keys = load_extras(reader, index, STORED_SORT_KEYS)  # read later: by pk
    assert search is not None and len(search) == len(keys["total"]) == 5
    by_id = dict(zip(index.ids, keys["total"], strict=True))
    assert by_id["2"] is None and by_id["3"] == 3 * 10**2 and search[index.ids.index("2")] == b""
    reader.close()


def test_no_store_or_no_schema_yet_reads_as_nothing(tmp_path: Path) -> None:
    assert connect_reader(tmp_path / "missing.sqlite3") is None
    assert StoreReader(tmp_path / "missing.sqlite3").first_rows(["a"], 10) == ([], 0)
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).execute("CREATE TABLE x (y)").close()  # a database, not ours yet
    assert connect_reader(empty) is None
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        connect_reader(garbage)


def test_first_rows_are_the_newest_in_the_default_order(tmp_path: Path) -> None:
    invoices = synthetic_invoices(200)
    reader = StoreReader(store_of(invoices).path)
    rows, count = reader.first_rows(["vox-main", "unleash-acme"], 5)
    mine = [inv for inv in invoices if inv.account in ("vox-main", "unleash-acme")]
    assert count == len(mine)
    expected = _expected(mine, InvoiceView())[:5]
    assert [invoice for _, invoice in rows] == expected


@pytest.mark.parametrize(("account", "mine"), [("small", 7), ("big", 300), ("none", 0)])
def test_first_rows_of_accounts_holding_few_or_most_of_the_store(
        tmp_path: Path, account: str, mine: int) -> None:
    # A few rows among many others are found by the account's index, most of the store
    # along the issue dates: either way the newest first, and the count.
    day = dt.date(2020, 1, 1)
    invoices = [make_invoice("big", f"b{n}", number=f"B-{n:03d}",
                             issued=day + dt.timedelta(days=n)) for n in range(300)]
    invoices += [make_invoice("small", f"s{n}", number=f"S-{n}",
                              issued=day + dt.timedelta(days=40 * n + 3)) for n in range(7)]
    reader = StoreReader(store_of(invoices).path)
    rows, count = reader.first_rows([account], 5)
    expected = _expected([inv for inv in invoices if inv.account == account], InvoiceView())
    assert count == mine
    assert [invoice for _, invoice in rows] == expected[:5]
    reader.close()



def test_more_pks_than_sqlite_binds_at_once() -> None:
    path = store_of(synthetic_invoices(1200)).path
    conn = connect_reader(path)
    assert conn is not None
    pks = [row[0] for row in conn.execute("SELECT pk FROM invoices")]
    conn.close()
    assert len(StoreReader(path).headers(pks)) == 1200


def test_a_store_damaged_while_open_reads_as_missing_rows_not_an_error() -> None:
    invoice = make_invoice("vox", "1", number="VOX-1", total=Decimal("4.20"))
    view = view_of(invoice)
    reader = view.source
    assert isinstance(reader, StoreReader)
    assert view.rows[0].number == "VOX-1"
    view.remove_account("vox")  # drop what is cached
    load_view(view, reader.path)
    reader.path.write_bytes(b"\0" * 8192)  # damaged in place while the table reads it
    reader.close()
    shown = view.rows[0]  # what the index knew, not a traceback
    assert (shown.id, shown.total, shown.number) == ("1", Decimal("4.20"), None)
    assert reader.headers([1]) == {}
