"""A new config without a restart (issue 10 §2): ``ConfigChanged``, config.toml edited on
disk (polled), ctrl+r, `E` (the editor), and a broken edit — over real HTTP to the emulator."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from store_helpers import new_store
from ui_helpers import SIZE, TODAY, frozen_now, settle, squashed, widget_text

from invoice_tui.config import AccountConfig, Config, save_config
from invoice_tui.sync import sync_account
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.messages import ConfigChanged
from invoice_tui.ui.screens.error import ConfigErrorScreen
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.screens.welcome import WelcomeScreen

FIRST = ("vox-main", "unleash-acme")


class CountingSync:
    """The real ``sync_account`` (real HTTP to the emulator), counting calls per account."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.tokens: list[str | None] = []

    async def __call__(self, account: AccountConfig, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(account.name)
        self.tokens.append(account.options.get("token"))
        return await sync_account(account, *args, **kwargs)


def write_config(path: Path, demo: Config, names: Sequence[str],
                 **changes: dict[str, Any]) -> None:
    """config.toml with these demo accounts (options changed per ``changes[name]``)."""
    accounts = [dict(demo.account(name).options) | changes.get(name, {}) for name in names]
    save_config(path, {"accounts": accounts})


def reload_app(tmp_path: Path, demo: Config, sync: CountingSync,
               names: Sequence[str] = FIRST, **kwargs: Any) -> InvoiceApp:
    """The app on config.toml (written with ``names``), polling it every 50 ms."""
    path = tmp_path / "config.toml"
    write_config(path, demo, names)
    from invoice_tui.config import load_config

    app = InvoiceApp(load_config(path), new_store(tmp_path), config_path=path,
                     cache_dir=tmp_path / "cache", now=frozen_now, today=TODAY, sync=sync,
                     **kwargs)
    app.CONFIG_POLL = 0.05
    return app


async def until(pilot: Any, condition: Callable[[], object], what: str) -> None:
    """Wait (a bounded number of short pauses) until ``condition()``; then settle."""
    for _ in range(300):
        if condition():
            break
        await pilot.pause(0.02)
    else:
        raise AssertionError(f"never happened: {what}")
    await settle(pilot.app, pilot)


def main_of(app: InvoiceApp) -> MainScreen:
    main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    return main


def shown_accounts(main: MainScreen) -> set[str]:
    """Accounts with rows in the table, in the pane, and in the totals' source."""
    return {invoice.account for invoice in main.table.view.rows}


def toasts(app: InvoiceApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


# --- ConfigChanged --------------------------------------------------------------------


async def test_welcome_then_a_saved_config_opens_the_main_screen(
        tmp_path: Path, demo: Config) -> None:
    path = tmp_path / "config.toml"  # none yet: the welcome screen
    app = InvoiceApp(None, config_path=path, cache_dir=tmp_path / "cache", now=frozen_now,
                     today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        write_config(path, demo, ["unleash-acme"])  # as the account form saves it
        from invoice_tui.config import load_config

        app.screen.post_message(ConfigChanged(load_config(path)))
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        main = main_of(app)
        assert len(app.screen_stack) == 2  # the welcome screen gave way, not kept below
        assert main.sync_state.accounts["unleash-acme"].phase == "synced"
        assert shown_accounts(main) == {"unleash-acme"}
        assert (tmp_path / "cache" / "invoices.sqlite3").exists()


async def test_config_changed_over_the_main_screen_adds_an_account(
        tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        assert shown_accounts(main) == set(FIRST)
        before = len(sync.calls)
        bigger = Config(path=None, accounts=(*main.config.accounts, demo.account("vox-eu")))
        main.post_message(ConfigChanged(bigger))
        await until(pilot, lambda: "vox-eu" in shown_accounts(main), "vox-eu's rows")
        assert sync.calls[before:] == ["vox-eu"]  # the others are not fetched again
        assert list(main.pane.states) == [*FIRST, "vox-eu"]
        assert main.sync_state.accounts["vox-eu"].phase == "synced"
        assert any("+1 account" in t for t in toasts(app))
