"""Pilot tests of the main screen reading the invoice store: the first rows before the index,
pages of a first sync as they land, refreshes that keep the cursor, lines on demand.

The emulator's slow pages show a first sync's rows as they land; ``PagedSync`` writes
through the store's own sync writer a page whenever the test lets it, for the states the
emulator cannot hold still at a chosen page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from invoice_factory import make_invoice
from store_fill import put, store_in
from ui_helpers import (
    ACCOUNTS,
    NOW,
    SIZE,
    TODAY,
    ScriptedSync,
    frozen_now,
    scripted_app,
    settle,
    wait_for_cache,
    widget_text,
)

from invoice_tui.config import AccountConfig, Settings
from invoice_tui.demo import demo_environment
from invoice_tui.index import AccountIndex
from invoice_tui.model import AccountSummary, Invoice, Line, Tax
from invoice_tui.providers import FetchProgress
from invoice_tui.store import InvoiceStore
from invoice_tui.sync import EventCallback, SyncOutcome, SyncProgress, SyncStarted, SyncSucceeded
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.screens import main as main_module
from invoice_tui.ui.screens.detail import InvoiceDetailScreen
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.widgets import invoice_table
from invoice_tui.ui.widgets.status_line import StatusLine

GUARD = 30.0  # seconds: against a hung test, never a timing assertion


def _main(app: Any) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def _until(pilot: Any, condition: Any) -> None:
    """Let the app run until ``condition()`` holds (reads of a first sync are throttled)."""
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await pilot.pause(0.05)


def _monthly(account: str, count: int, start: int = 0) -> list[Invoice]:
    provider = dict(ACCOUNTS)[account]  # the account's identity in the store includes it
    return [make_invoice(account, f"{account}-{n:03d}", number=f"N-{n:03d}", provider=provider,
                         issued=dt.date(2020, 1, 1) + dt.timedelta(days=30 * n),
                         total=Decimal(n)) for n in range(start, start + count)]


class PagedSync:
    """A sync that stores one page each time the test lets it (``next_page``), with the
    store's own writer, as ``sync_account`` does."""

    def __init__(self, pages: dict[str, list[list[Invoice]]]) -> None:
        self.pages = pages
        self.gates = {name: asyncio.Semaphore(0) for name in pages}

    def next_page(self, account: str) -> None:
        self.gates[account].release()

    async def __call__(self, account: AccountConfig, settings: Settings, *,
                       store: InvoiceStore | None = None,
                       on_event: EventCallback | None = None) -> SyncOutcome:
        assert store is not None
        emit = on_event or (lambda event: None)
        emit(SyncStarted(account.name))
        writer = store.begin_sync(account)
        stored: list[Invoice] = []
        for number, page in enumerate(self.pages[account.name], 1):
            await self.gates[account.name].acquire()
            await asyncio.to_thread(writer.add, page)
            stored += page
            emit(SyncProgress(account.name, FetchProgress(len(stored), number)))
        await asyncio.to_thread(writer.finish, AccountSummary(), NOW)
        return SyncSucceeded(account.name, tuple(stored), AccountSummary(), NOW)


async def test_rows_appear_during_a_first_sync_as_pages_land(tmp_path: Path) -> None:
    invoices = _monthly("vox-main", 30)
    pages = [invoices[:10], invoices[10:20], invoices[20:]]
    sync = PagedSync({"vox-main": pages, "acme": [[]]})
    app = scripted_app(tmp_path, ScriptedSync({}), *ACCOUNTS)
    app.sync = sync
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await wait_for_cache(main, pilot)
        sync.next_page("acme")
        assert "Syncing…" in widget_text(main.table)
        for shown in (10, 20):
            sync.next_page("vox-main")
            await _until(pilot, lambda n=shown: len(main.table.view.rows) == n)
            assert main.pane.states["vox-main"].phase == "syncing"  # before the sync is done
            assert f"{shown} of {shown} invoices" in widget_text(main.query_one(StatusLine))
        assert "N-019" in widget_text(main.table)  # the newest stored so far, on top
        sync.next_page("vox-main")
        await settle(app, pilot)
        assert main.pane.states["vox-main"].phase == "synced"
        assert len(main.table.view.rows) == 30
        assert main.table.view.rows[0].number == "N-029"


async def test_a_refresh_keeps_stored_rows_until_it_is_done(tmp_path: Path) -> None:
    # Re-reading 100 000 stored invoices every half second would slow a refresh down: only
    # a first sync shows its pages as they land; a refresh is read once, when done.
    with store_in(tmp_path / "cache") as store:
        put(store, _monthly("vox-main", 5))
    sync = PagedSync({"vox-main": [_monthly("vox-main", 3, 10), []], "acme": [[]]})
    app = scripted_app(tmp_path, ScriptedSync({}), *ACCOUNTS)
    app.sync = sync
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await wait_for_cache(main, pilot)
        sync.next_page("acme")
        sync.next_page("vox-main")  # written to the store; not re-read yet
        await pilot.pause(0.8)
        assert len(main.table.view.rows) == 5
        sync.next_page("vox-main")
        await settle(app, pilot)
        assert [inv.number for inv in main.table.view.rows] == ["N-012", "N-011", "N-010"]


async def test_a_refresh_of_one_account_keeps_the_cursor_on_its_invoice(tmp_path: Path) -> None:
    vox, acme = _monthly("vox-main", 6), _monthly("acme", 6, 100)
    with store_in(tmp_path / "cache") as store:
        put(store, vox + acme)
    # vox-main gets a newer invoice on top and loses one; acme comes back unchanged.
    sync = ScriptedSync({"vox-main": tuple(vox[1:] + _monthly("vox-main", 1, 200)),
                         "acme": tuple(acme)}, hold={"vox-main", "acme"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await wait_for_cache(main, pilot)
        main.table.focus()
        await pilot.press("j", "j", "j", "j")
        before = main.table.cursor_invoice
        assert before is not None and before.account == "acme" and main.table.cursor_row == 4
        pks = list(main.table.view.index("acme").pks)  # type: ignore[union-attr]
        sync.release()
        await settle(app, pilot)
        after = main.table.cursor_invoice
        assert after is not None and (after.account, after.id) == (before.account, before.id)
        assert main.table.cursor_row == 5  # one more vox-main invoice sorts above it
        assert list(main.table.view.index("acme").pks) == pks  # upserted: pks kept
        await pilot.press("r")  # refresh the cursor's account alone
        await settle(app, pilot)
        assert sync.calls[-1] == "acme"
        after = main.table.cursor_invoice
        assert after is not None and (after.account, after.id) == (before.account, before.id)


async def test_the_detail_reads_the_invoice_lines_from_the_store(tmp_path: Path) -> None:
    invoice = Invoice(
        account="vox-main", provider="voximplant", id="77", currency="EUR", status="new",
        number="VOX-77", issued=dt.date(2026, 10, 1), subtotal=Decimal("10.00"),
        tax=Decimal("1.90"), total=Decimal("11.90"), amount_due=Decimal("11.90"),
        lines=(Line(kind="service", description="Calls — Zürich", amount=Decimal("11.90"),
                    tax=Decimal("1.90"), net=Decimal("10.00"), gross=Decimal("11.90"),
                    currency="EUR",
                    taxes=(Tax(name="VAT", rate=Decimal("0.19"), amount=Decimal("1.90"),
                               taxable=Decimal("10.00"), currency="EUR"),)),
               Line(kind="service", description="SMS", amount=Decimal("0"))))
    with store_in(tmp_path / "cache") as store:
        put(store, [invoice])
    sync = ScriptedSync({"vox-main": (invoice,), "acme": ()}, hold={"vox-main", "acme"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await wait_for_cache(main, pilot)
        assert main.table.cursor_invoice == dataclasses.replace(invoice, lines=())  # headers
        main.table.focus()
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen) and detail.invoice == invoice
        assert "Calls — Zürich" in widget_text(detail.query_one("#lines"))
        sync.release()
        await settle(app, pilot)


def _eighty_stored_with_a_gated_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[InvoiceApp, ScriptedSync, threading.Event]:
    """80 stored invoices of vox-main, syncs held, and the startup index read waiting for
    the returned gate: what the screen shows from the first rows alone."""
    invoices = _monthly("vox-main", 80)
    with store_in(tmp_path / "cache") as store:
        put(store, invoices)
    gate = threading.Event()
    real_load = main_module.load_account

    def gated_load(conn: object, account: str, key: str | None = None) -> AccountIndex:
        if threading.current_thread().name == "invoice-tui store":
            gate.wait(timeout=GUARD)
        return real_load(conn, account, key)  # type: ignore[arg-type]

    monkeypatch.setattr(main_module, "load_account", gated_load)
    sync = ScriptedSync({"vox-main": tuple(invoices), "acme": ()}, hold={"vox-main", "acme"})
    return scripted_app(tmp_path, sync, *ACCOUNTS), sync, gate


async def test_the_first_rows_show_before_the_store_is_indexed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, sync, gate = _eighty_stored_with_a_gated_index(tmp_path, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await pilot.pause()
        view = main.table.view
        assert view.loading and view.total_count == 80
        assert [inv.number for inv in view.rows] == [f"N-{n:03d}" for n in range(79, 19, -1)]
        assert "N-079" in widget_text(main.table)
        # Nothing is filtered: the store's count is what the table shows, from the start
        # (the totals follow with the indexes).
        status = widget_text(main.query_one(StatusLine))
        assert "80 of 80 invoices" in status and "totals …" in status
        assert "loading" not in status
        assert main.table.border_title == "Invoices · 80 · All time"
        gate.set()
        await wait_for_cache(main, pilot)
        assert not view.loading and len(view.rows) == 80
        assert "80 of 80 invoices" in widget_text(main.query_one(StatusLine))
        assert main.table.border_title == "Invoices · 80 · All time"
        sync.release()
        await settle(app, pilot)


@pytest.mark.parametrize("narrow", ["filter", "period", "account"])
async def test_a_filter_before_the_index_waits_for_its_own_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, narrow: str) -> None:
    # The store's count is every invoice: once anything is filtered it is the wrong figure,
    # so the status line says "loading" until the indexes count what the filter leaves.
    app, sync, gate = _eighty_stored_with_a_gated_index(tmp_path, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await pilot.pause()
        assert "80 of 80 invoices" in widget_text(main.query_one(StatusLine))
        if narrow == "filter":
            await pilot.press("slash", "N", "-", "0", "7")
        elif narrow == "period":
            await pilot.press("p")
        else:
            main.show_account("vox-main")
        await pilot.pause()
        assert main.table.view.loading
        status = widget_text(main.query_one(StatusLine))
        assert "loading 80 invoices…" in status and "80 of 80" not in status
        assert str(main.table.border_title).startswith("Invoices · … · ")
        gate.set()
        await wait_for_cache(main, pilot)
        shown = len(main.table.view.rows)
        assert 0 < shown < 80 if narrow != "account" else shown == 80
        assert f"{shown} of 80 invoices" in widget_text(main.query_one(StatusLine))
        sync.release()
        await settle(app, pilot)


async def test_totals_of_many_rows_are_summed_off_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoice_table, "_TOTALS_IN_THREAD_AT", 10)
    invoices = _monthly("vox-main", 40)
    threads: list[str] = []
    real_sum = invoice_table.money_totals

    def recording_sum(facts: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_sum(facts)

    monkeypatch.setattr(invoice_table, "money_totals", recording_sum)
    sync = ScriptedSync({"vox-main": tuple(invoices), "acme": ()})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await settle(app, pilot)
        assert threads and threading.main_thread().name not in threads
        assert "billed 780.00 USD" in widget_text(main.query_one(StatusLine))
        await pilot.press("slash", "0", "0")  # N-000 … N-009: under the threshold, at once
        await pilot.pause()
        assert "billed 45.00 USD" in widget_text(main.query_one(StatusLine))


async def test_rows_appear_during_a_slow_first_sync_of_the_emulator() -> None:
    # The real sync against the emulator: vox-main's 400 invoices come 50 a page, one page
    # at a time, each after 150 ms; the store takes each page as it arrives.
    with demo_environment(today=TODAY, latency_ms=150, invoice_count=400) as env:
        settings = dataclasses.replace(env.config.settings, concurrency=1)
        config = dataclasses.replace(env.config, settings=settings)
        app = InvoiceApp(config, env.store, now=frozen_now, today=TODAY)
        async with app.run_test(size=SIZE) as pilot:
            main = _main(app)

            def vox_rows() -> int:
                return sum(1 for i in range(len(main.table.view.rows))
                           if main.table.view.rows[i].account == "vox-main")

            await _until(pilot, lambda: 0 < vox_rows() < 400)  # some pages, not all
            assert main.pane.states["vox-main"].phase == "syncing"
            await settle(app, pilot)
            assert main.pane.states["vox-main"].phase == "synced" and vox_rows() == 400
