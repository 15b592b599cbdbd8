"""Pilot tests of states the emulator cannot hold still: syncing, cached, crashes, hostile text.

These use a scripted stand-in for ``sync_account`` (and invoices built directly);
the flows over real HTTP are in test_ui_main.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import webbrowser
from decimal import Decimal
from pathlib import Path

import pytest
from store_helpers import fill_store
from ui_helpers import (
    ACCOUNTS,
    NOW,
    SIZE,
    UNTRUSTED,
    ScriptedSync,
    hostile_invoice,
    scripted_app,
    scripted_config,
    settle,
    simple_invoice,
    wait_for_cache,
    widget_text,
)

from invoice_tui.model import AccountSummary
from invoice_tui.providers import ProviderError
from invoice_tui.ui.screens.detail import InvoiceDetailScreen
from invoice_tui.ui.screens.line_detail import LineDetailScreen
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.widgets.invoice_table import InvoiceTable
from invoice_tui.ui.widgets.status_line import StatusLine

_invoice = simple_invoice


async def test_syncing_shows_progress_then_synced(tmp_path: Path) -> None:
    sync = ScriptedSync({"vox-main": (_invoice("vox-main", "V-1", "5.00", "USD"),),
                         "acme": ()}, hold={"vox-main"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        main = app.screen
        assert isinstance(main, MainScreen)
        assert main.pane.states["vox-main"].phase == "syncing"
        assert "⟳ 3 pg · 150 invoices" in widget_text(main.pane)
        assert "1 syncing" in widget_text(main.query_one(StatusLine))
        sync.release()
        await settle(app, pilot)
        assert main.pane.states["vox-main"].phase == "synced"
        assert "✓ synced just now · 1" in widget_text(main.pane)


async def test_cached_invoices_show_before_the_refresh_finishes(tmp_path: Path) -> None:
    config = scripted_config(*ACCOUNTS)
    fresh = (_invoice("vox-main", "NEW-1", "9.00", "USD"), _invoice("vox-main", "NEW-2",
                                                                   "1.00", "USD"))
    sync = ScriptedSync({"vox-main": fresh, "acme": ()}, hold={"vox-main", "acme"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    assert app.store is not None
    fill_store(app.store, config.accounts[0], (_invoice("vox-main", "OLD-1", "7.00", "USD"),),
               NOW - dt.timedelta(minutes=5))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        main = app.screen
        assert isinstance(main, MainScreen)
        await wait_for_cache(main, pilot)  # the store is read in a thread
        assert [i.number for i in main.table.view.rows] == ["OLD-1"]
        assert main.pane.states["vox-main"].synced_at == NOW - dt.timedelta(minutes=5)
        assert "last sync 5 min ago" in widget_text(main.query_one(StatusLine))
        sync.release()
        await settle(app, pilot)
        assert sorted(i.number or "" for i in main.table.view.rows) == ["NEW-1", "NEW-2"]
        assert "10.00 USD" in widget_text(main.query_one(StatusLine))


async def test_cached_state_is_shown_when_idle(tmp_path: Path) -> None:
    config = scripted_config(*ACCOUNTS)
    sync = ScriptedSync({"vox-main": (), "acme": ProviderError("boom", "fix it")})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    assert app.store is not None
    fill_store(app.store, config.accounts[1], (), NOW - dt.timedelta(hours=3),
               AccountSummary(Decimal("75"), "EUR"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        state = main.pane.states["acme"]
        # A failed refresh keeps the cached data and its sync time.
        assert state.phase == "failed" and state.synced_at == NOW - dt.timedelta(hours=3)
        text = widget_text(main.pane)
        assert "✗ boom" in text and "plan 75.00 EUR" in text


async def test_stored_invoices_load_without_lines_and_the_detail_reads_them(
        tmp_path: Path) -> None:
    config = scripted_config(*ACCOUNTS)
    stored = dataclasses.replace(hostile_invoice("vox-main", "voximplant"),
                                 status="paid", number="VOX-7")
    sync = ScriptedSync({"vox-main": (), "acme": ()}, hold={"vox-main", "acme"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    assert app.store is not None
    fill_store(app.store, config.accounts[0], (stored,), NOW)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await wait_for_cache(main, pilot)
        (header,) = main.table.view.rows
        assert header.lines == () and header == dataclasses.replace(stored, lines=())
        main.set_filter("calls")  # a word of the line's description only
        assert [i.number for i in main.table.view.rows] == ["VOX-7"]
        main.table.focus()
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen)
        assert detail.invoice == stored  # lines and their taxes, from the store
        assert "Calls" in widget_text(detail.query_one("#lines"))
        sync.release()


async def test_failures_of_one_round_make_one_toast(tmp_path: Path) -> None:
    sync = ScriptedSync({"vox-main": ProviderError("authorization failed", "check the key"),
                         "acme": ProviderError("forbidden", "use an admin token")})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        notes = list(app._notifications)
        assert len(notes) == 1
        assert "2 accounts failed to sync: vox-main, acme" in notes[0].message
        await pilot.press("R")
        await settle(app, pilot)
        assert len(app._notifications) == 2


async def test_a_crashing_sync_becomes_a_failed_account_not_a_crash(tmp_path: Path) -> None:
    async def broken_sync(account, settings, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom Bearer secret-token")

    app = scripted_app(tmp_path, ScriptedSync({}), *ACCOUNTS)
    app.sync = broken_sync
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = app.screen
        assert isinstance(main, MainScreen) and app.is_running
        for state in main.pane.states.values():
            assert state.phase == "failed" and state.error is not None
            assert state.error.reason == "internal error: RuntimeError"
        assert "secret-token" not in widget_text(main.pane)


async def test_untrusted_text_is_shown_literally_everywhere(tmp_path: Path) -> None:
    evil_name = "acme"
    sync = ScriptedSync({"vox-main": (), evil_name: (hostile_invoice(evil_name),)},
                        summaries={evil_name: AccountSummary(Decimal("1"), "EUR")})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        table_text = widget_text(main.query_one(InvoiceTable))
        # The narrow Invoice column truncates it, but what shows is literal.
        assert "INV [bold r" in table_text and "\x1b" not in table_text
        await pilot.press("slash", *"[bold", "enter")
        assert " [bold " in widget_text(main.query_one(StatusLine))  # its chip, literally
        assert len(main.table.view.rows) == 1

        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen)
        header = widget_text(detail.query_one("#invoice-header"))
        assert "[bold red]x[/] [link=https://evil.example]click[/link]" in header
        lines = widget_text(detail.query_one("#lines"))
        assert "Calls [bold red]x[/]" in lines
        assert "120 % of 1,000" in lines  # over the limit
        await pilot.press("enter")
        line = app.screen
        assert isinstance(line, LineDetailScreen)
        shown = widget_text(line.query_one("#line-metering")) + widget_text(
            line.query_one("#line-taxes"))
        assert "VAT [bold red]x[/]" in shown and "[b]std[/b]" in shown
        for text in (table_text, header, lines, shown):
            assert "\x1b" not in text and "\x07" not in text and "ZXZpbA" not in text
        assert UNTRUSTED not in shown  # the escapes were stripped, not passed through


class _FakeBrowser(webbrowser.BaseBrowser):
    """A browser ``webbrowser.get()`` hands out: records what it was asked to open."""

    def __init__(self, name: str, works: bool = True) -> None:
        super().__init__(name)
        self.works = works
        self.opened: list[str] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        return self.works


async def _press_o(tmp_path: Path, browser: _FakeBrowser | None,
                   monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], str | None]:
    """Open the hostile invoice's detail, press o; the toasts and what was copied."""
    def get(using: str | None = None) -> webbrowser.BaseBrowser:
        if browser is None:
            raise webbrowser.Error("could not locate runnable browser")
        return browser

    monkeypatch.setattr(webbrowser, "get", get)
    sync = ScriptedSync({"vox-main": (), "acme": (hostile_invoice("acme"),)})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "o")
        await app.workers.wait_for_complete()
        await pilot.pause()
        return [n.message for n in app._notifications], app.clipboard or None


async def test_o_opens_the_invoice_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = _FakeBrowser("firefox")
    toasts, copied = await _press_o(tmp_path, browser, monkeypatch)
    assert browser.opened == ["https://billing.example/inv/1"]
    assert "Opening https://billing.example/inv/1" in toasts and copied is None


@pytest.mark.parametrize("browser", [None, _FakeBrowser("lynx"), _FakeBrowser("/usr/bin/w3m"),
                                     _FakeBrowser("xdg-open", works=False)],
                         ids=["none", "console", "console-path", "fails"])
async def test_o_without_a_browser_says_so_and_copies_the_link(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: _FakeBrowser | None) -> None:
    # It toasted "Opening …" and nothing opened (ssh, no desktop); a console browser
    # would have taken over the terminal the TUI draws on.
    toasts, copied = await _press_o(tmp_path, browser, monkeypatch)
    url = "https://billing.example/inv/1"
    assert copied == url
    assert (f"No web browser could be opened here; the link was copied to the clipboard: "
            f"{url}") in toasts
    assert not any(t.startswith("Opening") for t in toasts)
    if browser is not None and browser.name != "xdg-open":
        assert browser.opened == []  # never started inside the terminal


async def test_o_without_a_url_says_so(tmp_path: Path) -> None:
    sync = ScriptedSync({"vox-main": (_invoice("vox-main", "V-1", "5.00", "USD"),),
                         "acme": ()})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "o")
        assert isinstance(app.screen, InvoiceDetailScreen)
        assert any("no web link" in n.message for n in app._notifications)
