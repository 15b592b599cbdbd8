"""Pilot tests for defects found by driving the real app like a demanding user."""

from __future__ import annotations

import datetime as dt
import gc
import threading
from pathlib import Path

import pytest
from store_helpers import fill_store, new_store
from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey
from ui_helpers import (
    ACCOUNTS,
    NOW,
    SIZE,
    TODAY,
    ScriptedSync,
    frozen_now,
    main_screen,
    run_palette_command,
    scripted_app,
    scripted_config,
    settle,
    settled_demo,
    simple_invoice,
    wait_for_cache,
    widget_text,
)

from invoice_tui.demo import Fault
from invoice_tui.gc_policy import YOUNG_THRESHOLD
from invoice_tui.index import AccountIndex
from invoice_tui.model import Invoice
from invoice_tui.providers import ProviderError
from invoice_tui.store import InvoiceStore
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.screens import main as main_module
from invoice_tui.ui.screens.error import AccountErrorScreen
from invoice_tui.ui.screens.main import FilterInput, MainScreen
from invoice_tui.ui.widgets.status_line import StatusLine
from invoice_tui.view import Period


def _toasts(app: object) -> str:
    return "\n".join(str(n.message) for n in app._notifications)  # type: ignore[attr-defined]


def _main(app: object) -> MainScreen:
    screen: MainScreen = main_screen(app)
    return screen


async def test_keys_typed_right_after_slash_reach_the_filter() -> None:
    # A terminal delivers "/abc" pasted or typed fast as four queued keys; the three after
    # "/" were routed to the table before the focus moved, and were lost.
    async with settled_demo() as (app, pilot):
        for key, char in (("slash", "/"), ("v", "v"), ("o", "o"), ("x", "x")):
            app.post_message(events.Key(key, char))
        await pilot.pause()
        main = _main(app)
        assert isinstance(app.focused, FilterInput)
        assert main.filter_input.value == "vox"
        assert main.table.view.query == "vox"
        await pilot.press("slash")  # inside the filter "/" is text
        assert main.filter_input.value == "vox/"


async def test_a_filter_without_matches_says_so() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        await pilot.press("slash", *"zzzz")
        await pilot.pause()
        assert main.table.view.rows == []
        assert "No invoices match" in widget_text(main.table)
        assert "No invoices match" in screen_text(app)


def screen_text(app: object) -> str:
    """What the terminal shows (the composed screen, not one widget's own render)."""
    svg = app.export_screenshot()  # type: ignore[attr-defined]
    return svg.replace("&#160;", " ")


async def test_stepping_the_period_stops_at_the_newest_and_oldest_invoice() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        view = main.table.view
        newest, oldest = view.months()[-1], view.months()[0]
        main.set_period(Period("month", *newest))
        await pilot.press("right_square_bracket")
        assert view.period == Period("month", *newest)  # not an empty month after it
        assert view.rows
        assert f"No invoices after {view.period.label()}" in _toasts(app)
        main.set_period(Period("month", *oldest))
        await pilot.press("left_square_bracket")
        assert view.period == Period("month", *oldest)
        await pilot.press("right_square_bracket")
        assert view.period != Period("month", *oldest) and view.rows


_invoice = simple_invoice


def _gated_store(tmp_path: Path, invoices: tuple[Invoice, ...],
                 monkeypatch: pytest.MonkeyPatch) -> tuple[
        InvoiceStore, threading.Event, threading.Event]:
    """A store holding ``invoices`` for vox-main whose startup read waits for the gate."""
    store = new_store(tmp_path)
    account = scripted_config(*ACCOUNTS).accounts[0]
    fill_store(store, account, invoices, NOW - dt.timedelta(hours=1))
    gate, started = threading.Event(), threading.Event()
    real_load = main_module.load_account

    def gated_load(conn: object, account: str, key: str | None = None) -> AccountIndex:
        if threading.current_thread().name == "invoice-tui store":  # the startup read
            started.set()
            gate.wait(timeout=30)  # a guard against a hung test, not a timing assertion
        return real_load(conn, account, key)  # type: ignore[arg-type]

    monkeypatch.setattr(main_module, "load_account", gated_load)
    return store, gate, started


async def test_a_slow_store_read_does_not_hold_up_the_screen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reading a 100 000-invoice cache took seconds inside on_mount: nothing was drawn and
    # no key worked until it was done.
    cache, gate, started = _gated_store(tmp_path, (_invoice("vox-main", "OLD-1"),),
                                        monkeypatch)
    sync = ScriptedSync({"vox-main": (), "acme": ()}, hold={"vox-main", "acme"})
    app = InvoiceApp(scripted_config(*ACCOUNTS), cache, now=frozen_now, today=TODAY, sync=sync)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        for _ in range(100):  # idle turns until the reader thread is in (no clock involved)
            if started.is_set():
                break
            await pilot.pause()
        assert started.is_set() and not gate.is_set()  # the read is under way, in a thread
        await pilot.press("slash", "x")  # and the keyboard works meanwhile
        assert main.filter_input.value == "x"
        await pilot.press("escape")
        gate.set()
        await wait_for_cache(main, pilot)
        assert [i.number for i in main.table.view.rows] == ["OLD-1"]
        assert main.pane.states["vox-main"].synced_at == NOW - dt.timedelta(hours=1)
        sync.release()
        await settle(app, pilot)


async def test_a_store_read_after_the_sync_does_not_bring_old_invoices_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, gate, _ = _gated_store(tmp_path, (_invoice("vox-main", "OLD-1"),), monkeypatch)
    fresh = (_invoice("vox-main", "NEW-1"),)
    sync = ScriptedSync({"vox-main": fresh, "acme": ()})
    app = InvoiceApp(scripted_config(*ACCOUNTS), cache, now=frozen_now, today=TODAY, sync=sync)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        # The startup refresh waits for the stored invoices; a refresh asked for meanwhile
        # does not, and can land first.
        await pilot.press("R")
        await settle(app, pilot)  # both syncs landed and were read (the startup read waits)
        assert all(s.phase == "synced" for s in main.pane.states.values())
        assert [i.number for i in main.table.view.rows] == ["NEW-1"]
        gate.set()
        await wait_for_cache(main, pilot)
        assert [i.number for i in main.table.view.rows] == ["NEW-1"]
        assert main.pane.states["vox-main"].synced_at == NOW


async def test_a_big_sync_result_is_read_off_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sorting and indexing 100 000 invoices took over a second on the event loop: the app
    # froze when the big account's sync landed. Its index is read from the store in a thread.
    threads: list[threading.Thread] = []
    indexes: list[AccountIndex] = []
    real_load = main_module.load_account

    def recording_load(conn: object, account: str, key: str | None = None) -> AccountIndex:
        threads.append(threading.current_thread())
        indexes.append(real_load(conn, account, key))  # type: ignore[arg-type]
        return indexes[-1]

    monkeypatch.setattr(main_module, "load_account", recording_load)
    thresholds = gc.get_threshold()
    invoices = tuple(_invoice("vox-main", f"V-{n}", f"{n}.00") for n in range(1, 41))
    sync = ScriptedSync({"vox-main": invoices, "acme": ()})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await pilot.press("R")
        await settle(app, pilot)
        assert threads and threading.main_thread() not in threads
        assert len(main.table.view.rows) == 40
        assert "820.00 USD" in widget_text(main.query_one(StatusLine))
        # Full GC collections over 100 000 invoice objects froze the UI: the index holds
        # plain values the cyclic GC never walks, and young collections are rarer.
        big = next(index for index in reversed(indexes) if len(index) == 40)
        values = [*big.pks, *big.ids, *big.statuses, *big.totals, *big.days]
        assert not any(map(gc.is_tracked, values))
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0  # all restored


async def test_a_bug_while_reading_a_sync_result_is_a_toast(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reads run off the event loop (a worker, the startup thread): a bug in them must be
    # shown, not lost.
    def broken_load(conn: object, account: str, key: str | None = None) -> AccountIndex:
        raise ZeroDivisionError

    monkeypatch.setattr(main_module, "load_account", broken_load)
    invoices = tuple(_invoice("vox-main", f"V-{n}", f"{n}.00") for n in range(1, 41))
    app = scripted_app(tmp_path, ScriptedSync({"vox-main": invoices, "acme": ()}), *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        await pilot.press("R")
        await settle(app, pilot)
        assert app.is_running and app.screen is main
        assert ("internal error while reading invoices: ZeroDivisionError"
                " — this is a bug in invoice-tui; please report it") in _toasts(app)


async def test_an_80_column_terminal_keeps_the_essentials() -> None:
    # At 80×24 the table lost its Total and currency columns off the right edge, the status
    # line ran off the screen and the footer lost "? Help".
    async with settled_demo(size=(80, 24)) as (app, pilot):
        main = _main(app)
        header = widget_text(main.table).splitlines()[1]  # under the border
        for title in ("Issued", "Invoice", "Status", "Total", "Cur"):
            assert title in header
        status = widget_text(main.query_one(StatusLine))
        view = main.table.view
        assert f"{len(view.rows)} of {view.total_count} invoices" in status
        # Billed and due of the first currency; the other one named, never cut or
        # mixed in; the sync time gives way (the pane says "✓ just now").
        eur = view.totals()["EUR"]
        assert f"billed {eur.billed:,.2f} EUR · due {eur.due:,.2f} EUR  │  +USD" in status
        assert "…" not in status
        footer_keys = {k.key: k.region for k in main.query(FooterKey)}
        assert {"question_mark", "q", "slash", "r", "R", "p"} <= set(footer_keys)
        assert all(0 < region.right <= 80 for region in footer_keys.values())
        assert "✓ just now · 28" in widget_text(main.pane)  # the count is not cut off
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert "▏^p palette" in "".join(
            widget_text(w) for w in main.query_one(Footer).query("*"))
        await pilot.resize_terminal(80, 24)  # and back: the palette hint goes again
        await pilot.pause()
        assert all(0 < k.region.right <= 80 for k in main.query(FooterKey))
        assert "palette" not in "".join(
            widget_text(w) for w in main.query_one(Footer).query("*"))
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert "period All time" in widget_text(main.query_one(StatusLine))
        assert "✓ synced just now · 28" in widget_text(main.pane)


async def test_every_palette_command_including_textuals_own_is_category_action() -> None:
    from invoice_tui.ui.commands import main_screen_commands
    from invoice_tui.ui.screens.help import HelpScreen

    async with settled_demo() as (app, pilot):
        main = _main(app)
        system = list(app.get_system_commands(main))
        titles = [c.title for c in system] + [t for t, _, _ in main_screen_commands(main)]
        assert all(": " in title for title in titles), titles
        assert "App: quit" in titles and "App: theme" in titles
        await run_palette_command(app, pilot, "Help: keys")
        assert isinstance(app.screen, HelpScreen)


async def test_help_names_every_key_of_the_spec_and_the_mouse() -> None:
    # The help listed the pane and line table with j/k/g/G only: no arrows, no Enter, no
    # word on what Tab does or on the mouse.
    from invoice_tui.ui.screens.help import HelpScreen

    async with settled_demo() as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        sections = [widget_text(w) for w in app.screen.query(".help-section")]
        titles = [widget_text(w).strip() for w in app.screen.query(".help-title")]
        by_title = dict(zip(titles, sections, strict=True))
        pane = by_title["Accounts pane"]
        for key in ("↑ / k", "↓ / j", "home / g", "end / G", "⏎", "^d", "^u"):
            assert key in pane
        assert "Go to invoices" in pane and "Half page down" in pane
        assert "← / h" in by_title["Main screen"] and "→ / l" in by_title["Main screen"]
        lines = by_title["Invoice detail"]
        assert "↑ / k" in lines and "Line detail" in lines
        assert "Next pane" in by_title["Everywhere"]
        assert "Previous pane" in by_title["Everywhere"]
        assert "Clear filters" in by_title["Main screen"]
        assert "click a column title" in by_title["Mouse"]


async def test_escape_on_the_table_clears_a_kept_filter() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        total = len(main.table.view.rows)
        await pilot.press("slash", *"acme", "enter")  # Enter keeps the filter
        assert main.table.has_focus and main.table.view.query == "acme"
        main.show_account("unleash-acme")
        await pilot.pause()
        await pilot.press("escape")
        assert main.table.view.query == "" and main.table.view.accounts is None
        assert len(main.table.view.rows) == total and not main.filter_input.display


async def test_the_footer_offers_e_only_while_an_account_has_failed() -> None:
    # "e" was hidden from the footer, so nothing said how to read a failure's full reason.
    fault = Fault("vox_error", account="vox-eu", code=104, times=1)
    async with settled_demo(faults=[fault]) as (app, pilot):
        main = _main(app)
        assert main.pane.states["vox-eu"].phase == "failed"
        assert "e" in {k.key for k in main.query(FooterKey)}
        await pilot.press("e")
        assert isinstance(app.screen, AccountErrorScreen)
        await pilot.press("r")  # retry: the fault was one-off, so it syncs now
        await settle(app, pilot)
        assert main.pane.states["vox-eu"].phase == "synced"
        assert "e" not in {k.key for k in main.query(FooterKey)}


async def test_the_empty_table_says_why_it_is_empty(tmp_path: Path) -> None:
    sync = ScriptedSync({"vox-main": (_invoice("vox-main", "V-1"),), "acme": ()},
                        hold={"vox-main", "acme"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        main = _main(app)
        assert "Syncing…" in widget_text(main.table)  # not "No invoices yet"
        sync.release()
        await settle(app, pilot)
        await pilot.press("slash", *"nothing-like-this")
        await pilot.pause()
        assert "Esc clears the filters" in widget_text(main.table)


async def test_a_narrow_pane_keeps_its_sync_summary_whole(tmp_path: Path) -> None:
    sync = ScriptedSync({"vox-main": (), "acme": ProviderError("forbidden", "use an admin")},
                        hold={"vox-main"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):  # idle turns until acme has failed (no clock involved)
            if _main(app).pane.states["acme"].phase == "failed":
                break
            await pilot.pause()
        pane = _main(app).pane
        assert str(pane.border_subtitle) == "⟳ 1 · ✗ 1"  # not "1 syncing · 1 f…"
        sync.release()
        await settle(app, pilot)
        assert str(pane.border_subtitle) == "1 failed"
