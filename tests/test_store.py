"""The SQLite invoice store: exact round trips over real HTTP, crashes, two instances, bad files."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from invoice_factory import synthetic_invoices
from store_helpers import fill_store, new_store

import invoice_tui
from invoice_tui import cli
from invoice_tui.config import AccountConfig, Config, config_path
from invoice_tui.demo import DEMO_ACCOUNTS, DemoServer, Fault, demo_config, write_demo_config
from invoice_tui.demo.keys import private_key_pem
from invoice_tui.export import filter_by_month, sort_for_export
from invoice_tui.model import AccountSummary, Invoice, Line, Tax, invoice_to_dict
from invoice_tui.store import (
    DB_NAME,
    SCHEMA_VERSION,
    InvoiceStore,
    StoredAccount,
    StoreError,
    SyncWriter,
    account_key,
    open_store,
)
from invoice_tui.sync import (
    SyncEvent,
    SyncFailed,
    SyncProgress,
    SyncStored,
    SyncSucceeded,
    sync_account,
)

REPO = Path(invoice_tui.__file__).parent.parent
WHEN = dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer(today=dt.date(2026, 11, 15)) as running:
        yield running


@pytest.fixture
def demo(server: DemoServer, tmp_path: Path) -> Config:
    return demo_config(server, tmp_path / "keys")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[InvoiceStore]:
    with new_store(tmp_path) as opened:
        yield opened


def _account(name: str = "acct", provider: str = "unleash") -> AccountConfig:
    return AccountConfig(name=name, provider=provider,
                         options={"name": name, "provider": provider,
                                  "base_url": "https://example.com/x", "token": "user:secret-1"})


def _every_field_case() -> tuple[Invoice, ...]:
    """Invoices that use every field: None, odd Decimals, dates, flags, unicode, lines, taxes."""
    tax = Tax(name="VAT — Zürich", rate=Decimal("0.2"), amount=Decimal("16.00"), level="federal",
              category="telecom", taxable=Decimal("80.00"), currency="USD")
    lines = (
        Line(kind="service", description="Calls 東京 \"quoted\" \\ 'x'", amount=Decimal("80.00"),
             tax=Decimal("16.00"), net=Decimal("64.00"), gross=Decimal("80.00"), currency="USD",
             taxes=(tax, Tax())),
        Line(kind="usage", description="Frontend requests", quantity=Decimal("1E+6"),
             unit_price=Decimal("0.000001234500"), amount=Decimal("-0"), net=Decimal("-0.00"),
             currency="EUR", period_start=dt.date(2026, 9, 1), period_end=dt.date(2026, 9, 30),
             consumption=Decimal("123456789012345678901234.5"), limit=Decimal("1.5E-7"),
             lookup_key="frontend-😀"),
        Line(kind="main", description=""),
    )
    return (
        Invoice(account="acct", provider="unleash", id="https://x/i/1", currency="EUR",
                status="estimate", label="September 2026", issued=dt.date(2026, 10, 1),
                due=dt.date(2026, 10, 15), period_start=dt.date(2026, 9, 1),
                period_end=dt.date(2026, 9, 30), subtotal=Decimal("100.00"),
                discount=Decimal("0"), tax=Decimal("20.00"), total=Decimal("120.00"),
                amount_due=Decimal("120.00"), tax_rate=Decimal("19"), url="https://x/i/1",
                pdf_url="https://x/i/1.pdf", totals_computed=True, estimate_incomplete=True,
                lines=lines),
        Invoice(account="acct", provider="unleash", id="7", currency="JPY", status="new"),
        Invoice(account="acct", provider="unleash", id="8", currency="USD", status="paid",
                issued=dt.date(2026, 10, 1), total=Decimal("0.00"), tax=Decimal("-1.10"),
                subtotal=Decimal("1.1E+2"), lines=lines[:1]),
    )


def _dicts(invoices: object) -> list[dict[str, object]]:
    return [invoice_to_dict(invoice) for invoice in invoices]  # type: ignore[attr-defined]


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(_connect(path)) as connection:
        return connection.execute(sql).fetchall()


# --- round trips -----------------------------------------------------------------------

def test_every_field_round_trips_exactly(store: InvoiceStore) -> None:
    account = _account()
    invoices = _every_field_case()
    fill_store(store, account, invoices, WHEN,
               AccountSummary(Decimal("1875.00"), "USD", Decimal("-0.10"), "USD"))
    streamed = list(store.iter_invoices([account]))
    assert streamed == sort_for_export(invoices)
    # Equal Decimals can differ in digits: the exact text and exponent must survive too.
    assert _dicts(streamed) == _dicts(sort_for_export(invoices))
    assert [repr(i) for i in streamed] == [repr(i) for i in sort_for_export(invoices)]
    headers = store.load_headers(account)
    assert sorted(headers.invoices, key=lambda i: i.id) == sorted(
        (dataclasses.replace(i, lines=()) for i in invoices), key=lambda i: i.id)
    assert "calls 東京" in headers.search[headers.invoices.index(
        dataclasses.replace(invoices[0], lines=()))]
    for invoice in invoices:
        assert repr(store.lines(account, invoice.id)) == repr(invoice.lines)
    assert store.lines(account, "no such id") == ()
    assert store.account_states([account, _account("never")]) == {
        "acct": StoredAccount(WHEN, 3, AccountSummary(Decimal("1875.00"), "USD",
                                                      Decimal("-0.10"), "USD")),
        "never": StoredAccount(),
    }
    rows = _rows(store.path, "SELECT quantity, amount, net, \"limit\" FROM lines "
                             "WHERE kind = 'usage'")
    assert rows == [("1E+6", "-0", "-0.00", "1.5E-7")]  # str(Decimal), as the model has it


async def test_a_real_sync_round_trips_exactly(demo: Config, store: InvoiceStore) -> None:
    """Over real HTTP: the emulator's invoices (rows with taxes, usage lines) survive exactly."""
    for account in demo.accounts:
        outcome = await sync_account(account, demo.settings, store=store)
        assert isinstance(outcome, SyncSucceeded) and outcome.invoices
        assert outcome.warnings == ()
        expected = sort_for_export(outcome.invoices)
        streamed = list(store.iter_invoices([account]))
        assert _dicts(streamed) == _dicts(expected) and streamed == expected
        headers = store.load_headers(account)
        assert set(headers.invoices) == {dataclasses.replace(i, lines=()) for i in expected}
        some = expected[len(expected) // 2]
        assert store.lines(account, some.id) == some.lines
        assert store.account_states([account])[account.name] == StoredAccount(
            outcome.synced_at, len(outcome.invoices), outcome.summary)
        without_lines = list(store.iter_invoices([account], lines=False))
        assert without_lines == [dataclasses.replace(i, lines=()) for i in expected]


def test_iter_invoices_orders_and_filters_like_the_export(store: InvoiceStore) -> None:
    invoices = synthetic_invoices(600)  # five accounts, some undated
    by_account: dict[str, list[Invoice]] = {}
    for invoice in invoices:
        by_account.setdefault(invoice.account, []).append(invoice)
    accounts = [AccountConfig(name, group[0].provider, {"name": name})
                for name, group in by_account.items()]
    for account in accounts:
        fill_store(store, account, by_account[account.name], WHEN)
    assert list(store.iter_invoices(accounts)) == sort_for_export(invoices)
    assert list(store.iter_invoices(accounts[:2])) == sort_for_export(
        by_account[accounts[0].name] + by_account[accounts[1].name])
    for since, until in [((2024, 2), (2024, 12)), ((2025, 12), None), (None, (2023, 1))]:
        assert list(store.iter_invoices(accounts, since=since, until=until)) == \
            sort_for_export(filter_by_month(invoices, since, until))
    assert list(store.iter_invoices([])) == []


def test_export_offline_equals_online_in_every_format(
        server: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    write_demo_config(server, config_path())
    for args in (["--format", "json"], ["--format", "csv"], ["--format", "csv", "--lines"]):
        assert cli.main(["export", *args]) == 0
        online = capsys.readouterr().out
        assert cli.main(["export", "--offline", *args]) == 0
        assert capsys.readouterr().out == online and online.count("\n") > 50


# --- writing during a sync -----------------------------------------------------------------

def test_pks_stay_stable_and_a_finished_sync_drops_what_it_did_not_see(
        store: InvoiceStore) -> None:
    account = _account()
    first = _every_field_case()
    fill_store(store, account, first, WHEN)
    pks = dict(_rows(store.path, "SELECT id, pk FROM invoices"))
    changed = dataclasses.replace(first[0], status="paid", lines=first[0].lines[1:])
    fill_store(store, account, (changed, first[2]), WHEN + dt.timedelta(hours=1))
    assert dict(_rows(store.path, "SELECT id, pk FROM invoices")) == {
        first[0].id: pks[first[0].id], first[2].id: pks[first[2].id]}
    assert store.lines(account, changed.id) == changed.lines
    # The replaced line's taxes went with it; the other invoice's two stay.
    assert _rows(store.path, "SELECT count(*) FROM taxes") == [(2,)]
    assert store.account_states([account])["acct"].invoice_count == 2
    assert _rows(store.path, "SELECT count(*) FROM syncs") == [(0,)]
    assert _rows(store.path, "SELECT count(*) FROM sync_seen") == [(0,)]


def test_a_dropped_invoice_takes_its_lines_and_taxes_along(store: InvoiceStore) -> None:
    # The writer's connection has foreign keys off (its deletes are its own): nothing of a
    # dropped invoice may stay behind, and nothing of another account goes.
    account, other = _account(), _account("other")
    first = _every_field_case()
    fill_store(store, other, [dataclasses.replace(i, account="other") for i in first], WHEN)
    fill_store(store, account, first, WHEN)
    fill_store(store, account, first[1:], WHEN + dt.timedelta(hours=1))  # first[0] is gone
    assert [i.id for i in store.iter_invoices([account])] == [first[2].id, first[1].id]
    assert _rows(store.path, "SELECT count(*) FROM lines l LEFT JOIN invoices i "
                             "ON i.pk = l.invoice_pk WHERE i.pk IS NULL") == [(0,)]
    assert _rows(store.path, "SELECT count(*) FROM taxes t LEFT JOIN lines l "
                             "ON (l.invoice_pk, l.position) = (t.invoice_pk, t.line_position) "
                             "WHERE l.invoice_pk IS NULL") == [(0,)]
    assert _dicts(store.iter_invoices([other])) == _dicts(
        sort_for_export(dataclasses.replace(i, account="other") for i in first))
    assert _rows(store.path, "PRAGMA foreign_key_check") == []


def test_a_refresh_clears_what_the_new_values_leave_out(store: InvoiceStore) -> None:
    # A batch binds only the columns some invoice of it fills: an upsert must still
    # clear a value the refreshed invoice no longer has, and fill one it gained.
    account = _account()
    full, bare, _ = _every_field_case()
    fill_store(store, account, [full], WHEN)
    emptied = Invoice(account=full.account, provider=full.provider, id=full.id,
                      currency=full.currency, status=full.status,
                      lines=(Line(kind="main", description="only"),))
    fill_store(store, account, [emptied, bare], WHEN + dt.timedelta(hours=1))
    assert _dicts(store.iter_invoices([account])) == _dicts(sort_for_export([emptied, bare]))
    fill_store(store, account, [full, bare], WHEN + dt.timedelta(hours=2))
    assert _dicts(store.iter_invoices([account])) == _dicts(sort_for_export([full, bare]))


def test_abandon_keeps_every_row_and_drops_the_bookkeeping(store: InvoiceStore) -> None:
    account = _account()
    invoices = _every_field_case()
    fill_store(store, account, invoices[:2], WHEN)
    writer = store.begin_sync(account)
    writer.add([dataclasses.replace(invoices[0], status="paid"), invoices[2]])
    writer.abandon()
    writer.abandon()  # idempotent
    stored = {i.id: i for i in store.iter_invoices([account])}
    # Nothing committed before is lost, and what the failed sync wrote is real and newer.
    assert set(stored) == {i.id for i in invoices}
    assert stored[invoices[0].id].status == "paid"
    assert store.account_states([account])["acct"] == StoredAccount(WHEN, 2, AccountSummary())
    assert _rows(store.path, "SELECT count(*) FROM syncs") == [(0,)]
    with pytest.raises(StoreError, match="already ended"):
        writer.add(invoices[:1])


def test_a_finish_spares_rows_a_running_sync_wrote(store: InvoiceStore) -> None:
    account = _account()
    one, two, three = _every_field_case()
    early, late = store.begin_sync(account), store.begin_sync(account)
    early.add([one])
    late.add([one, two, three])  # a second instance, which saw more
    early.finish(AccountSummary(), WHEN)
    assert {i.id for i in store.iter_invoices([account])} == {one.id, two.id, three.id}
    late.finish(AccountSummary(), WHEN)
    assert store.account_states([account])["acct"].invoice_count == 3


@pytest.mark.parametrize("running", ["another account", "the same account"])
def test_rows_an_ended_sync_wrote_never_pass_for_a_running_syncs(
        store: InvoiceStore, running: str) -> None:
    # Sync ids were SQLite rowids, handed out again once the syncs table was empty: the
    # next sync (of any account) got the id an ended sync had stamped on its rows, and a
    # refresh of the account then spared those rows as "a running sync's" (a CI failure).
    account = _account()
    old, new, _ = _every_field_case()
    fill_store(store, account, (old,), WHEN)
    other = store.begin_sync(_account("other") if running == "another account" else account)
    writer = store.begin_sync(account)
    writer.add([new])
    writer.finish(AccountSummary(), WHEN + dt.timedelta(hours=1))
    assert [i.id for i in store.iter_invoices([account])] == [new.id]
    other.abandon()


def _as_version_1(path: Path) -> None:
    """Give a store the sync tables of schema version 1 (ids reused once the table empties)."""
    with contextlib.closing(_connect(path)) as connection:
        connection.executescript("""
            BEGIN;
            DROP TABLE sync_seen; DROP TABLE syncs; DELETE FROM sqlite_sequence;
            CREATE TABLE syncs (sync_id INTEGER PRIMARY KEY, account_key TEXT NOT NULL,
                                pid INTEGER NOT NULL, started_at TEXT NOT NULL);
            CREATE TABLE sync_seen (sync_id INTEGER NOT NULL, invoice_pk INTEGER NOT NULL,
                                    PRIMARY KEY (sync_id, invoice_pk)) WITHOUT ROWID;
            PRAGMA user_version = 1;
            COMMIT;""")


def test_a_version_1_store_is_upgraded_in_place_keeping_its_invoices(tmp_path: Path) -> None:
    account = _account()
    invoices = _every_field_case()
    with new_store(tmp_path) as store:
        for hour in range(3):  # its rows carry sync ids up to 3
            fill_store(store, account, invoices, WHEN + dt.timedelta(hours=hour))
        path = store.path
    _as_version_1(path)
    opened = open_store(path.parent)
    assert opened.warnings == ()
    with opened.store as store:
        assert _rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        assert {i.id for i in store.iter_invoices([account])} == {i.id for i in invoices}
        assert store.begin_sync(_account("other")).sync_id > max(
            sync_id for (sync_id,) in _rows(path, "SELECT sync_id FROM invoices"))
    assert "AUTOINCREMENT" in _rows(path, "SELECT sql FROM sqlite_schema "
                                          "WHERE name = 'syncs'")[0][0]


def test_duplicate_ids_keep_the_first_and_are_counted(store: InvoiceStore) -> None:
    account = _account()
    first = _every_field_case()[1]
    writer = store.begin_sync(account)
    assert writer.add([first, dataclasses.replace(first, status="other")]) == 1
    assert writer.add([dataclasses.replace(first, status="third")]) == 0
    assert writer.duplicates == 2
    writer.finish(AccountSummary(), WHEN)
    assert [i.status for i in store.iter_invoices([account])] == ["new"]
    with pytest.raises(ValueError, match="of 'other'"):
        store.begin_sync(account).add([dataclasses.replace(first, account="other")])


def test_stale_syncs_of_dead_processes_are_swept_on_open(tmp_path: Path) -> None:
    account = _account()
    with new_store(tmp_path) as store:
        fill_store(store, account, _every_field_case(), WHEN)
        alive = store.begin_sync(account)
        with contextlib.closing(_connect(store.path)) as connection:
            connection.execute("INSERT INTO syncs (account_key, pid, started_at) "
                               "VALUES (?, 999999999, '2026-01-01')", (account_key(account),))
            connection.execute("INSERT INTO sync_seen SELECT sync_id, 1 FROM syncs "
                               "WHERE pid = 999999999")
        with new_store(tmp_path) as again:
            assert _rows(again.path, "SELECT pid FROM syncs") == [(os.getpid(),)]  # ours lives
            assert _rows(again.path, "SELECT count(*) FROM sync_seen") == [(0,)]
        alive.abandon()


async def test_a_failed_sync_leaves_the_previous_rows(
        server: DemoServer, demo: Config, store: InvoiceStore) -> None:
    account = demo.account("vox-main")
    settings = dataclasses.replace(demo.settings, page_size=5, concurrency=1, max_retries=0)
    good = await sync_account(account, settings, store=store)
    assert isinstance(good, SyncSucceeded)
    before = _dicts(store.iter_invoices([account]))
    state = store.account_states([account])

    pages: list[SyncProgress] = []
    broken: list[bool] = []

    def fail_after_the_first_batch(event: SyncEvent) -> None:
        # Some pages are in (stored, as a rule): now the server breaks. Under load the
        # store's thread may lag behind the fetch, so the third page breaks it at the
        # latest: the sync must fail, whether or not a batch was committed first.
        if isinstance(event, SyncProgress):
            pages.append(event)
        if not broken and (isinstance(event, SyncStored) or len(pages) >= 3):
            broken.append(True)
            server.add_fault(Fault("vox_error", account="vox-main", code=104, times=-1))

    server.latency_ms = 20  # the pages come slower than a batch is stored
    try:
        failed = await sync_account(account, settings, store=store,
                                    on_event=fail_after_the_first_batch)
    finally:
        server._faults.clear()
        server.latency_ms = 0
    assert isinstance(failed, SyncFailed) and "104" in failed.error.reason
    assert _dicts(store.iter_invoices([account])) == before
    assert store.account_states([account]) == state
    assert _rows(store.path, "SELECT count(*) FROM syncs") == [(0,)]


async def test_a_cancelled_sync_keeps_the_rows_and_cleans_up(
        server: DemoServer, demo: Config, store: InvoiceStore) -> None:
    account = demo.account("vox-main")
    settings = dataclasses.replace(demo.settings, page_size=5, concurrency=1)
    await sync_account(account, settings, store=store)
    before = _dicts(store.iter_invoices([account]))
    stored = asyncio.Event()
    server.latency_ms = 20
    try:
        task = asyncio.create_task(sync_account(
            account, settings, store=store,
            on_event=lambda e: stored.set() if isinstance(e, SyncStored) else None))
        await stored.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        server.latency_ms = 0
    assert _dicts(store.iter_invoices([account])) == before
    assert _rows(store.path, "SELECT count(*) FROM syncs") == [(0,)]


async def test_a_store_that_cannot_be_written_is_a_warning_not_a_failed_sync(
        demo: Config, store: InvoiceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: SyncWriter, invoices: object) -> int:
        raise StoreError("could not write the invoice store (disk I/O error)", "free space")

    monkeypatch.setattr(SyncWriter, "add", disk_full)
    outcome = await sync_account(demo.account("unleash-acme"), demo.settings, store=store)
    assert isinstance(outcome, SyncSucceeded) and outcome.invoices
    assert outcome.warnings == ("not saved for offline use: could not write the invoice store "
                                "(disk I/O error) — free space",)
    assert not store.account_states(demo.accounts)["unleash-acme"].synced
    assert _rows(store.path, "SELECT count(*) FROM syncs") == [(0,)]


def test_reads_from_other_threads_while_a_sync_writes(store: InvoiceStore) -> None:
    account = _account()
    invoices = [dataclasses.replace(invoice, account="acct", provider="unleash")
                for invoice in synthetic_invoices(400)]
    writer = store.begin_sync(account)
    writer.add(invoices[:200])
    counts: list[int] = []

    def read() -> None:
        counts.append(len(store.load_headers(account).invoices))

    import threading

    reader = threading.Thread(target=read)
    reader.start()
    reader.join()
    writer.add(invoices[200:])
    writer.finish(AccountSummary(), WHEN)
    assert counts == [200]  # what was committed, while the sync still ran
    assert len(store.load_headers(account).invoices) == 400


# --- opening: bad files, old cache, modes, secrets ---------------------------------------------

def _filled(tmp_path: Path) -> Path:
    with new_store(tmp_path) as store:
        fill_store(store, _account(), _every_field_case(), WHEN)
        return store.path


def _truncate(path: Path) -> None:
    with contextlib.closing(_connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage, not SQLite\xff" * 500)


def _future_version(path: Path) -> None:
    with contextlib.closing(_connect(path)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


def _someone_elses(path: Path) -> None:
    for name in os.listdir(path.parent):
        os.unlink(path.parent / name)
    with contextlib.closing(_connect(path)) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")


def _corrupt_page(path: Path) -> None:
    # Valid header, a damaged b-tree page: only an integrity check finds it.
    with contextlib.closing(_connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute("SELECT rootpage FROM sqlite_schema "
                                  "WHERE name = 'invoices_by_issued'").fetchone()[0]
    with path.open("r+b") as handle:
        handle.seek((root - 1) * page_size + 8)
        handle.write(b"\xff" * 64)


@pytest.mark.parametrize("damage, why", [
    (_garbage, "DatabaseError: file is not a database"),
    (_truncate, "malformed"),
    (_future_version,
     f"schema version {SCHEMA_VERSION + 1}, this invoice-tui uses {SCHEMA_VERSION}"),
    (_someone_elses, "not an invoice-tui store"),
    (_corrupt_page, "integrity check failed"),
])
def test_a_bad_file_is_moved_aside_with_one_warning_and_rebuilt(
        tmp_path: Path, damage: object, why: str) -> None:
    path = _filled(tmp_path)
    damage(path)  # type: ignore[operator]
    damaged = path.read_bytes()
    opened = open_store(path.parent)
    (warning,) = opened.warnings
    assert warning.startswith(f"store: {path} could not be used (") and why in warning
    assert "\n" not in warning and "moved aside to invoices.sqlite3.broken-" in warning
    (broken,) = path.parent.glob(f"{DB_NAME}.broken-*[0-9]Z")
    assert broken.name in warning and broken.read_bytes() == damaged
    with opened.store as store:
        assert store.account_states([_account()])["acct"] == StoredAccount()
        fill_store(store, _account(), _every_field_case(), WHEN)  # usable again
        assert _rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert open_store(path.parent).warnings == ()


def test_a_deferred_check_marks_a_damaged_store_for_the_next_open(tmp_path: Path) -> None:
    path = _filled(tmp_path)
    _corrupt_page(path)
    opened = open_store(path.parent, quick_check=False)  # what the TUI does before drawing
    assert opened.warnings == ()
    with opened.store as store:
        (warning,) = store.verify()
        assert warning.startswith(f"store: {path} integrity check failed: ")
        assert "moved aside at the next start" in warning
    again = open_store(path.parent, quick_check=False)
    (moved,) = again.warnings
    assert "could not be used (integrity check failed" in moved
    again.store.close()
    assert not [p for p in path.parent.iterdir() if "check" in p.name]  # the marker is gone
    with open_store(path.parent, quick_check=False).store as store:
        assert store.verify() == ()


def test_the_broken_copy_keeps_its_wal(tmp_path: Path) -> None:
    path = _filled(tmp_path)
    holder = _connect(path)  # keeps the WAL file from being checkpointed away
    holder.execute("PRAGMA user_version = 99")
    opened = open_store(path.parent)
    holder.close()
    opened.store.close()
    (broken,) = path.parent.glob(f"{DB_NAME}.broken-*[0-9]Z")
    assert Path(f"{broken}-wal").exists()


def test_an_old_cache_is_removed_with_one_note(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "vox-main-0123456789abcdef.json").write_text('{"version": 2}\n')
    (cache / "acme-fedcba9876543210.json").write_text('{"version": 1, "invoices": []}')
    keep = {"notes.json": "{}", "x-0123456789abcdef.json": "[]", "other.txt": "{\"version\": "}
    for name, text in keep.items():
        (cache / name).write_text(text)
    opened = open_store(cache)
    assert opened.warnings == (f"store: old cache removed (2 files in {cache}); it is only a "
                               "cache — the next sync refetches",)
    opened.store.close()
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(DB_NAME)) == \
        sorted(keep)
    assert open_store(cache).warnings == ()


def test_modes_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "cache"
    with open_store(directory).store as store:
        fill_store(store, _account(), _every_field_case(), WHEN)
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        files = sorted(directory.iterdir())
        assert [p.name for p in files] == [DB_NAME, f"{DB_NAME}-shm", f"{DB_NAME}-wal"]
        assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    os.chmod(directory / DB_NAME, 0o644)  # made readable by hand: tightened again
    open_store(directory).store.close()
    assert stat.S_IMODE((directory / DB_NAME).stat().st_mode) == 0o600


def test_a_directory_that_cannot_hold_a_store_falls_back_to_a_temporary_one(
        tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    opened = open_store(blocker / "cache")
    (warning,) = opened.warnings
    assert warning.startswith(f"store: cannot use {blocker / 'cache' / DB_NAME} (")
    assert "kept for this run only" in warning
    with opened.store as store:
        fill_store(store, _account(), _every_field_case(), WHEN)
        assert len(list(store.iter_invoices([_account()]))) == 3
    assert not store.path.parent.exists()  # the temporary store is gone with it


async def test_no_secret_reaches_the_database(demo: Config, store: InvoiceStore) -> None:
    for account in demo.accounts:
        assert isinstance(await sync_account(account, demo.settings, store=store),
                          SyncSucceeded)
    data = b"".join(p.read_bytes() for p in store.path.parent.iterdir())
    assert len(data) > 100_000
    secrets = ["eyJ", "PRIVATE KEY", "Bearer"]
    for demo_account in DEMO_ACCOUNTS:
        secrets += [t for t in (demo_account.token, demo_account.client_token) if t]
        if demo_account.provider == "voximplant":
            secrets += private_key_pem(demo_account.name).splitlines()[1:3]
    for secret in secrets:
        assert secret.encode() not in data, secret


def test_account_key_has_no_secret_and_differs_per_identity() -> None:
    account = _account()
    key = account_key(account)
    assert len(key) == 16 and "secret" not in key
    moved = AccountConfig("acct", "unleash", {**account.options, "base_url": "https://e.com/y"})
    assert account_key(moved) != key
    # The token is not part of the identity: rotating it keeps the stored invoices.
    rotated = AccountConfig("acct", "unleash", {**account.options, "token": "user:secret-2"})
    assert account_key(rotated) == key


# --- the README's queries ----------------------------------------------------------------

def _readme_queries() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The invoice store\n", 1)[1]
    section = re.split(r"^#{2,3} ", section, maxsplit=1, flags=re.MULTILINE)[0]
    return re.findall(r"^```sql\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


async def test_every_query_of_the_readme_runs_on_a_synced_store(
        demo: Config, store: InvoiceStore) -> None:
    """The README's store section shows queries users will copy: each one must work."""
    for account in demo.accounts:
        assert isinstance(await sync_account(account, demo.settings, store=store),
                          SyncSucceeded)
    spend, overdue, biggest = queries = _readme_queries()
    with contextlib.closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as db:
        results = [db.execute(query).fetchall() for query in queries]
    assert all(results), [query for query, rows in zip(queries, results, strict=True)
                          if not rows]
    months = {row[0] for row in results[0]}
    assert all(re.fullmatch(r"\d{4}-\d{2}", month) for month in months) and len(months) > 12
    assert all(re.fullmatch(r"-?\d+\.\d\d", row[3]) for row in results[0])
    assert {row[4] for row in results[1]} & {"past-due"}
    amounts = [Decimal(row[4]) for row in results[2]]
    assert len(amounts) == 10 and amounts == sorted(amounts, reverse=True)
    assert "total(" in spend and "printf('%.2f'" in spend and "CAST(" in biggest
    assert "due < date('now')" in overdue


# --- crashes and concurrency, in child processes -------------------------------------------

def _export_process(config: Path, cache: Path, *more: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "invoice_tui", "export", "--config", str(config),
         "--cache-dir", str(cache), "--output", os.devnull, *more],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _integrity(path: Path) -> list[tuple[object, ...]]:
    return _rows(path, "PRAGMA integrity_check")


def test_kill_9_mid_sync_loses_nothing_committed_before(tmp_path: Path) -> None:
    with DemoServer(invoice_count=3000, count_cap=20, today=dt.date(2026, 11, 15)) as server:
        config = write_demo_config(server, tmp_path / "config.toml")
        cache = tmp_path / "cache"
        first = _export_process(config.path or Path(), cache, "--account", "vox-main")
        assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
        path = cache / DB_NAME
        before = _rows(path, "SELECT * FROM invoices ORDER BY pk")
        lines = _rows(path, "SELECT * FROM lines ORDER BY invoice_pk, position")
        account_row = _rows(path, "SELECT * FROM accounts")
        assert len(before) == server.voximplant_invoice_count("vox-main") == 3000

        server.latency_ms = 5
        second = _export_process(config.path or Path(), cache, "--account", "vox-main")
        try:
            for _ in range(3000):  # until the second sync has committed some pages
                if _rows(path, "SELECT count(*) FROM sync_seen")[0][0] > 0:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the second sync never wrote a page")
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait(timeout=30)
        assert second.returncode == -signal.SIGKILL

    assert _integrity(path) == [("ok",)]
    opened = open_store(cache)
    assert opened.warnings == ()
    with opened.store:
        # The killed sync's bookkeeping is swept; every row the first sync left is there.
        assert _rows(path, "SELECT count(*) FROM syncs") == [(0,)]
        assert _rows(path, "SELECT * FROM accounts") == account_row
        after = _rows(path, "SELECT * FROM invoices ORDER BY pk")
        # Upserted by the killed sync at most: the same invoices, only the sync_id differs.
        assert [row[:-1] for row in after] == [row[:-1] for row in before]
        assert _rows(path, "SELECT * FROM lines ORDER BY invoice_pk, position") == lines


def test_two_instances_syncing_at_once_leave_a_consistent_store(tmp_path: Path) -> None:
    with DemoServer(invoice_count=1500, count_cap=50, today=dt.date(2026, 11, 15)) as server:
        config = write_demo_config(server, tmp_path / "config.toml")
        cache = tmp_path / "cache"
        runs = [_export_process(config.path or Path(), cache) for _ in range(2)]
        for run in runs:
            assert run.wait(timeout=300) == 0, run.stderr.read() if run.stderr else ""
        expected = {account.name: server.voximplant_invoice_count(account.name)
                    for account in config.accounts if account.provider == "voximplant"}
    path = cache / DB_NAME
    assert _integrity(path) == [("ok",)]
    counts = dict(_rows(path, "SELECT account, count(*) FROM invoices GROUP BY account"))
    assert {name: counts[name] for name in expected} == expected
    assert set(counts) == {account.name for account in config.accounts}
    assert _rows(path, "SELECT count(*) - count(DISTINCT account_key || id) FROM invoices") \
        == [(0,)]
    assert dict(_rows(path, "SELECT name, invoice_count FROM accounts")) == counts
    assert _rows(path, "SELECT count(*) FROM syncs") == [(0,)]
    assert _rows(path, "SELECT count(*) FROM lines l LEFT JOIN invoices i "
                       "ON i.pk = l.invoice_pk WHERE i.pk IS NULL") == [(0,)]
    # And the export from it is what a fresh fetch gives.
    with open_store(cache).store as store:
        stored = json.dumps(_dicts(store.iter_invoices(config.accounts)))
        assert len(stored) > 1000
