"""A new config without a restart (issue 10 §2): ``ConfigChanged``, config.toml edited on
disk (polled), ctrl+r, `E` (the editor), and a broken edit — over real HTTP to the emulator."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from store_helpers import new_store
from ui_helpers import (
    SIZE,
    TODAY,
    ScriptedSync,
    frozen_now,
    run_palette_command,
    scripted_app,
    settle,
    simple_invoice,
    squashed,
    widget_text,
)

from invoice_tui.config import AccountConfig, Config, Settings, load_config, save_config
from invoice_tui.config_edit import set_setting
from invoice_tui.providers import ProviderError
from invoice_tui.sync import sync_account
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.messages import ConfigChanged
from invoice_tui.ui.screens.error import ConfigErrorScreen
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.screens.welcome import WelcomeScreen

FIRST = ("vox-eu", "unleash-acme")  # EUR and USD: each currency's total is one account's


class CountingSync:
    """The real ``sync_account`` (real HTTP to the emulator), counting calls per account."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.tokens: list[str | None] = []
        self.settings: list[Settings] = []

    async def __call__(self, account: AccountConfig, settings: Settings, **kwargs: Any) -> Any:
        self.calls.append(account.name)
        self.tokens.append(account.options.get("token"))
        self.settings.append(settings)
        return await sync_account(account, settings, **kwargs)


def write_config(path: Path, demo: Config, names: Sequence[str],
                 settings: dict[str, Any] | None = None, **changes: dict[str, Any]) -> None:
    """config.toml with these demo accounts (options changed per ``changes[name]``)."""
    accounts = [dict(demo.account(name).options) | changes.get(name, {}) for name in names]
    save_config(path, {"settings": settings or {}, "accounts": accounts})


def stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def reload_app(tmp_path: Path, demo: Config, sync: CountingSync,
               names: Sequence[str] = FIRST, **kwargs: Any) -> InvoiceApp:
    """The app on config.toml (written with ``names``), polling it every 50 ms."""
    path = tmp_path / "config.toml"
    write_config(path, demo, names)
    app = InvoiceApp(load_config(path), new_store(tmp_path), config_path=path,
                     cache_dir=tmp_path / "cache", now=frozen_now, today=TODAY, sync=sync,
                     **kwargs)
    app.CONFIG_POLL = 0.05
    return app


async def until(pilot: Any, condition: Callable[[], object], what: str, *,
                settled: bool = True) -> None:
    """Wait (a bounded number of short pauses) until ``condition()``; then settle (every
    worker done: not with a sync held)."""
    for _ in range(300):
        if condition():
            break
        await pilot.pause(0.02)
    else:
        raise AssertionError(f"never happened: {what}")
    if settled:
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
        bigger = Config(path=None, accounts=(*main.config.accounts, demo.account("vox-main")))
        main.post_message(ConfigChanged(bigger))
        await until(pilot, lambda: "vox-main" in shown_accounts(main), "vox-main rows")
        assert sync.calls[before:] == ["vox-main"]  # the others are not fetched again
        assert list(main.pane.states) == [*FIRST, "vox-main"]
        assert main.sync_state.accounts["vox-main"].phase == "synced"
        assert not any("config" in t for t in toasts(app))  # the saver toasts, not the app


# --- config.toml edited on disk -------------------------------------------------------


async def test_an_account_added_on_disk_appears_and_syncs(tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        before = len(sync.calls)
        write_config(app.config_path, demo, [*FIRST, "unleash-contoso"])  # type: ignore[arg-type]
        await until(pilot, lambda: "unleash-contoso" in shown_accounts(main), "its rows")
        assert sync.calls[before:] == ["unleash-contoso"]
        assert main.sync_state.accounts["unleash-contoso"].phase == "synced"
        assert "unleash-contoso" in squashed(widget_text(main.pane))
        assert any("config reloaded: +1 account" in t for t in toasts(app))


async def test_an_account_removed_on_disk_leaves_pane_table_totals_and_chips(
        tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        assert set(main.table.totals() or {}) == {"EUR", "USD"}
        main.show_account("unleash-acme")  # the cursor and the filter on the one to go
        await pilot.pause()
        assert main.table.view.accounts == {"unleash-acme"}
        before = len(sync.calls)
        write_config(app.config_path, demo, ["vox-eu"])  # type: ignore[arg-type]
        await until(pilot, lambda: "unleash-acme" not in main.sync_state.accounts, "removal")
        assert list(main.pane.states) == ["vox-eu"]
        assert "unleash-acme" not in widget_text(main.pane)
        assert main.table.view.accounts is None  # back to all: the filter named only it
        assert shown_accounts(main) == {"vox-eu"}
        assert set(main.table.totals() or {}) == {"EUR"}  # acme's USD is gone
        assert sync.calls[before:] == []  # vox-eu is not fetched again
        # Its rows stay in the store (an account added back shows them at once).
        account = demo.account("unleash-acme")
        assert main.store.account_states([account])["unleash-acme"].invoice_count


async def test_a_new_token_re_syncs_that_account_only(tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        rows = len(main.table.view.rows)
        before = len(sync.calls)
        write_config(app.config_path, demo, FIRST,  # type: ignore[arg-type]
                     **{"unleash-acme": {"token": "user:revoked-token"}})
        await until(pilot, lambda: main.sync_state.accounts["unleash-acme"].phase == "failed",
                    "acme's sync with the new token")
        assert sync.calls[before:] == ["unleash-acme"]
        assert sync.tokens[-1] == "user:revoked-token"
        assert any("1 changed" in t for t in toasts(app))
        # The same store identity (a token is not part of it): its rows stay shown.
        assert len(main.table.view.rows) == rows


async def test_an_identical_rewrite_and_a_settings_change_sync_nothing(
        tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    path = app.config_path
    assert path is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        before, notes = len(sync.calls), len(toasts(app))
        # The same bytes written again (as the app's own saves do): a new mtime and inode.
        write_config(path, demo, FIRST)
        await until(pilot, lambda: app._config_stamp == stamp(path), "the poll")
        assert sync.calls[before:] == [] and len(toasts(app)) == notes
        write_config(path, demo, FIRST, settings={"timeout": 42.0})
        await until(pilot, lambda: app._config_stamp == stamp(path), "the poll")
        assert sync.calls[before:] == []
        assert toasts(app)[-1] == "config reloaded: settings changed"
        assert main_of(app).config.settings.timeout == 42.0
        await pilot.press("R")  # the next syncs use the new settings
        await settle(app, pilot)
        assert {s.timeout for s in sync.settings[before:]} == {42.0}


# --- a broken edit --------------------------------------------------------------------


async def test_a_broken_edit_shows_the_error_and_keeps_the_last_good_accounts(
        tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    path = app.config_path
    assert path is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        good = path.read_text(encoding="utf-8")
        path.write_text(good + "\n[[accounts]\n", encoding="utf-8")
        await until(pilot, lambda: isinstance(app.screen, ConfigErrorScreen), "the error")
        error = app.screen
        assert isinstance(error, ConfigErrorScreen) and error.keep_last_good
        text = squashed(widget_text(error.query_one("#config-error-text")))
        assert squashed("line") in text and squashed("Esc goes back") in text
        assert list(main.sync_state.accounts) == list(FIRST)
        assert shown_accounts(main) == set(FIRST)
        await pilot.press("escape")  # keep the last good config
        assert app.screen is main and shown_accounts(main) == set(FIRST)
        # Still broken, saved again: the error again, with the new reason.
        path.write_text(good + "\n[[accounts]]\nname = 1\n", encoding="utf-8")
        await until(pilot, lambda: isinstance(app.screen, ConfigErrorScreen), "the error")
        error = app.screen
        assert isinstance(error, ConfigErrorScreen)
        first_reason = error.reason
        path.write_text(good.replace('"unleash"', '"unleesh"'), encoding="utf-8")
        await until(pilot, lambda: error.reason != first_reason, "the new reason")
        assert app.screen is error  # the same screen, not one more on the stack
        assert "unleesh" in widget_text(error.query_one("#config-error-text"))
        # The next good save recovers on its own: the error screen goes, the change applies.
        before = len(sync.calls)
        write_config(path, demo, ["vox-eu"])
        await until(pilot, lambda: app.screen is main, "the main screen back")
        assert list(main.sync_state.accounts) == ["vox-eu"]
        assert sync.calls[before:] == []
        assert not any(isinstance(s, ConfigErrorScreen) for s in app.screen_stack)


async def test_a_broken_config_at_the_start_recovers_when_fixed(
        tmp_path: Path, demo: Config) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[[accounts]\n", encoding="utf-8")
    app = InvoiceApp(None, config_path=path, config_error="broken", now=frozen_now,
                     today=TODAY, cache_dir=tmp_path / "cache")
    app.CONFIG_POLL = 0.05
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, ConfigErrorScreen)
        assert not app.screen.keep_last_good  # nothing to keep: no Esc, the demo instead
        write_config(path, demo, ["unleash-acme"])
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert shown_accounts(main_of(app)) == {"unleash-acme"}
        assert app.config_error is None


# --- ctrl+r ---------------------------------------------------------------------------


async def test_ctrl_r_reloads_now_and_says_what_changed(tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    app.CONFIG_POLL = 3600  # only ctrl+r reads it
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert toasts(app)[-1] == "config unchanged"
        write_config(app.config_path, demo, ["vox-eu", "vox-main"],  # type: ignore[arg-type]
                     **{"vox-eu": {"base_url": demo.account("vox-main").options["base_url"]
                                   + "/"}})
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "vox-main" in shown_accounts(main), "vox-main's rows")
        assert toasts(app)[-1] == "config reloaded: +1 account, −1 account, 1 changed"
        assert shown_accounts(main) == {"vox-eu", "vox-main"}
        await run_palette_command(app, pilot, "Config: reload")
        await settle(app, pilot)
        assert toasts(app)[-1] == "config unchanged"


# --- E: the editor --------------------------------------------------------------------


def _append_account_editor(tmp_path: Path, demo: Config, name: str) -> str:
    """An $EDITOR that appends the demo account ``name`` to the file it is given."""
    block = tmp_path / "extra.toml"
    options = dict(demo.account(name).options)
    lines = ["", "[[accounts]]", *(f'{key} = "{value}"' for key, value in options.items())]
    block.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"""sh -c 'cat "$0" >> "$1"' {block}"""


def _run_editor(command: Sequence[str]) -> int:
    """The editor runner without the terminal hand-over (Pilot's driver cannot suspend)."""
    return subprocess.call(list(command))


async def test_e_runs_the_editor_then_reloads(tmp_path: Path, demo: Config,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", _append_account_editor(tmp_path, demo, "unleash-contoso"))
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync, editor=_run_editor)
    app.CONFIG_POLL = 3600
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        await pilot.press("E")
        await until(pilot, lambda: "unleash-contoso" in shown_accounts(main), "its rows")
        assert toasts(app)[-1] == "config reloaded: +1 account"


async def test_e_without_a_terminal_or_an_editor_says_so(
        tmp_path: Path, demo: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(tmp_path / "no-such-editor") + " --wait")
    app = reload_app(tmp_path, demo, CountingSync(), editor=_run_editor)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("E")
        assert toasts(app)[-1] == (f"✗ editor {tmp_path / 'no-such-editor'} not found"
                                   " — set $VISUAL or $EDITOR")
    # The default runner hands the terminal over: Pilot's headless driver cannot.
    app = reload_app(tmp_path, demo, CountingSync())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("E")
        assert toasts(app)[-1].startswith("✗ this terminal cannot hand the screen to an editor")
        assert isinstance(app.screen, MainScreen)


async def test_e_on_the_welcome_screen_writes_the_example_then_opens_what_was_saved(
        tmp_path: Path, demo: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "conf" / "config.toml"
    good = tmp_path / "good.toml"
    write_config(good, demo, ["unleash-acme"])
    seen = tmp_path / "seen.toml"
    # The editor finds the example, and the user replaces it with a real config.
    monkeypatch.setenv("VISUAL", f"""sh -c 'cp "$1" {seen}; cp {good} "$1"' sh""")
    app = InvoiceApp(None, config_path=path, cache_dir=tmp_path / "cache", now=frozen_now,
                     today=TODAY, editor=_run_editor)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert shown_accounts(main_of(app)) == {"unleash-acme"}
    from invoice_tui.config import example_config_text

    assert seen.read_text(encoding="utf-8") == example_config_text()


async def test_a_sync_under_way_of_a_removed_or_changed_account_does_not_land(
        tmp_path: Path) -> None:
    sync = ScriptedSync({"vox-main": (simple_invoice("vox-main", "V-1"),),
                         "acme": (simple_invoice("acme", "A-1"),),
                         "eu": ProviderError("authorization failed", "check the key")},
                        hold=["acme", "eu"])
    app = scripted_app(tmp_path, sync, ("vox-main", "voximplant"), ("acme", "unleash"),
                       ("eu", "voximplant"))
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await until(pilot, lambda: sync.calls == ["vox-main", "acme", "eu"], "the syncs",
                    settled=False)
        assert main.sync_state.accounts["acme"].phase == "syncing"
        # acme goes; eu gets another token while its (failing) sync is held.
        eu = AccountConfig("eu", "voximplant", {"name": "eu", "token": "new"})
        main.post_message(ConfigChanged(Config(path=None, accounts=(
            app.config.account("vox-main"), eu))))  # type: ignore[union-attr]
        await pilot.pause()
        sync.results["eu"] = (simple_invoice("eu", "E-1"),)
        sync.release()
        await settle(app, pilot)
        assert list(main.sync_state.accounts) == ["vox-main", "eu"]
        assert shown_accounts(main) == {"vox-main", "eu"}  # acme's result never landed
        assert main.sync_state.accounts["eu"].phase == "synced"
        assert not any("failed" in t for t in toasts(app))  # the old token's failure: gone


async def test_a_bug_while_reloading_is_one_line_not_a_crash(
        tmp_path: Path, demo: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    app = reload_app(tmp_path, demo, CountingSync())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)

        def broken(path: Path) -> Config:
            raise RuntimeError(f"secret-token-in-{path}")

        monkeypatch.setattr("invoice_tui.ui.app.load_config", broken)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert toasts(app)[-1] == ("✗ internal error while reloading the config: RuntimeError"
                                   " — this is a bug in invoice-tui; please report it")
        assert isinstance(app.screen, MainScreen) and app.is_running


async def test_a_reload_applies_the_theme_and_keymap_and_a_bad_keymap_keeps_the_last_good(
        tmp_path: Path, demo: Config) -> None:
    sync = CountingSync()
    app = reload_app(tmp_path, demo, sync)
    path = app.config_path
    assert path is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = main_of(app)
        good = path.read_text(encoding="utf-8")
        before = len(sync.calls)
        path.write_text(good + '\n[keymap]\nopen = "o,enter"\n', encoding="utf-8")
        await until(pilot, lambda: app.keymap.get("invoice_table.open") == "o,enter",
                    "the keymap applied")
        set_setting(path, "theme", "nord")
        await until(pilot, lambda: app.theme == "nord", "the theme applied")
        assert sync.calls[before:] == []  # neither is a reason to sync again
        # A keymap naming no binding: the error, and the last good keymap and accounts stay.
        path.write_text(path.read_text(encoding="utf-8").replace('open = "o,enter"',
                                                                 'opne = "o"'),
                        encoding="utf-8")
        await until(pilot, lambda: isinstance(app.screen, ConfigErrorScreen), "the error")
        assert "did you mean" in app.screen.reason
        assert app.keymap.get("invoice_table.open") == "o,enter" and app.theme == "nord"
        assert list(main.sync_state.accounts) == list(FIRST)
