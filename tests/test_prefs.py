"""Preferences that persist (issue 10 §5): ``[settings] theme`` and ``[keymap]``.

The theme is applied before the first frame, a palette pick is saved to config.toml
(comments kept) in a thread, an unknown name is a toast; the keymap rebinds by binding
id (or short name), is checked against the app's own BINDINGS before the app starts,
and the footer and ``?`` help show the keys it gives.
"""

from __future__ import annotations

import pkgutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from store_helpers import new_store
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.css.stylesheet import Stylesheet
from textual.widgets._footer import FooterKey
from ui_helpers import (
    SIZE,
    TODAY,
    frozen_now,
    main_screen,
    run_palette_command,
    settle,
    widget_text,
)

import invoice_tui.ui
from invoice_tui.config import Config, ConfigError, Settings, load_config
from invoice_tui.demo import DemoServer, demo_environment, write_demo_config
from invoice_tui.ui.app import InvoiceApp, run_tui
from invoice_tui.ui.keymap import app_bindings, keymap_losses, resolve_keymap
from invoice_tui.ui.messages import ConfigChanged
from invoice_tui.ui.screens.detail import InvoiceDetailScreen
from invoice_tui.ui.screens.help import HelpScreen
from invoice_tui.ui.screens.main import MainScreen

COMMENTED = "# my own notes: keep me\n"


def _config_file(server: DemoServer, path: Path, extra: str = "") -> Path:
    """A config of the demo accounts on ``server``, a comment of the user's on top and
    ``extra`` TOML at the end."""
    write_demo_config(server, path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("[settings]\n", "[settings]\npage_size = 50  # mine too\n", 1) \
        .replace("page_size = 100\n", "")
    path.write_text(COMMENTED + text + extra, encoding="utf-8")
    return path


def _app(path: Path, tmp_path: Path) -> InvoiceApp:
    config = load_config(path)
    return _recording_toasts(InvoiceApp(config, new_store(tmp_path), config_path=path,
                                        now=frozen_now, today=TODAY))


@asynccontextmanager
async def _running(app: InvoiceApp, **options: Any) -> AsyncIterator[Any]:
    async with app.run_test(size=SIZE, **options) as pilot:
        await settle(app, pilot)
        yield pilot


def _toasts(app: InvoiceApp) -> list[tuple[str, str]]:
    """Every toast the app showed, (severity, message), expired ones too (a loaded machine
    can take longer than a toast lives)."""
    return app.__dict__.setdefault("_shown_toasts", [])


def _recording_toasts(app: InvoiceApp) -> InvoiceApp:
    notify = app.notify

    def recorded(message: str, *args: Any, **kwargs: Any) -> None:
        _toasts(app).append((kwargs.get("severity", "information"), message))
        notify(message, *args, **kwargs)

    app.notify = recorded  # type: ignore[method-assign]
    return app


async def _pick_theme(app: InvoiceApp, pilot: Any, name: str) -> None:
    """ctrl+p → "App: theme" → type ``name`` → Enter, as a user picks a theme."""
    await run_palette_command(app, pilot, "App: theme")
    assert isinstance(app.screen, CommandPalette)
    await pilot.press(*name)
    for _ in range(500):
        hits = app.screen.query(CommandList)
        if hits and hits.first().option_count:
            prompt = hits.first().get_option_at_index(0).prompt
            if str(getattr(prompt, "plain", prompt)) == name:
                break
        await pilot.pause(0.01)
    else:
        raise AssertionError(f"the theme picker never offered {name!r}")
    await pilot.press("enter")
    await settle(app, pilot)


# --- the theme ------------------------------------------------------------------------


async def test_the_configured_theme_is_the_first_one_drawn(
        server: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config_file(server, tmp_path / "config.toml")
    path.write_text(path.read_text().replace("[settings]\n", '[settings]\ntheme = "nord"\n'))
    seen: list[tuple[str, str]] = []
    mount = MainScreen.on_mount

    def on_mount(self: MainScreen) -> None:  # before the main screen's first frame
        seen.append((self.app.theme, str(self.styles.background)))
        mount(self)

    monkeypatch.setattr(MainScreen, "on_mount", on_mount)
    # Assigning App.theme before the start would parse all the CSS a second time.
    reparses: list[object] = []
    reparse = Stylesheet.reparse
    monkeypatch.setattr(Stylesheet, "reparse", lambda self: (reparses.append(self),
                                                             reparse(self))[1])
    app = _app(path, tmp_path)
    async with _running(app):
        nord = app.available_themes["nord"]
        assert app.theme == "nord"
        assert seen == [("nord", str(app.screen.styles.background))]
        assert app.screen.styles.background.hex == nord.background
        assert not _toasts(app)
        assert reparses == []


def test_a_light_theme_is_set_whole_before_the_start() -> None:
    app = InvoiceApp(Config(path=None, settings=Settings(theme="textual-light")))
    assert app.theme == "textual-light" and not app.current_theme.dark
    assert app.has_class("-light-mode", "-theme-textual-light")
    assert not app.has_class("-dark-mode")
    light = app.available_themes["textual-light"]
    assert app.get_css_variables()["background"] == light.background


async def test_a_theme_picked_in_the_palette_is_saved_with_the_comments_kept(
        server: DemoServer, tmp_path: Path) -> None:
    path = _config_file(server, tmp_path / "config.toml")
    before = path.read_text()
    posted: list[ConfigChanged] = []

    def hook(message: object) -> None:
        if isinstance(message, ConfigChanged):
            posted.append(message)

    app = _app(path, tmp_path)
    async with _running(app, message_hook=hook) as pilot:
        await _pick_theme(app, pilot, "nord")
        assert app.theme == "nord"
        await _pick_theme(app, pilot, "gruvbox")
        assert app.theme == "gruvbox"
        assert not [t for t in _toasts(app) if t[0] == "error"]
    text = path.read_text()
    assert load_config(path).settings.theme == "gruvbox"  # the latest pick, once
    assert text.count("theme = ") == 1
    # Everything else as the user wrote it, their comments included.
    assert text.replace('theme = "gruvbox"\n', "") == before
    assert COMMENTED in text and "page_size = 50  # mine too" in text
    # The saved config reaches the app the one way saved configs do.
    assert [m.config.settings.theme for m in posted] == ["nord", "gruvbox"]


async def test_an_unknown_theme_is_a_toast_not_a_crash(server: DemoServer,
                                                      tmp_path: Path) -> None:
    path = _config_file(server, tmp_path / "config.toml")
    path.write_text(path.read_text().replace("[settings]\n", '[settings]\ntheme = "nrod"\n'))
    app = _app(path, tmp_path)
    async with _running(app):
        assert isinstance(app.screen, MainScreen)
        assert app.theme == "textual-dark"
        assert ("warning", "unknown theme 'nrod' (did you mean 'nord'?) — using textual-dark") \
            in _toasts(app)


async def test_a_theme_that_cannot_be_saved_is_a_one_line_toast(server: DemoServer,
                                                                tmp_path: Path) -> None:
    path = _config_file(server, tmp_path / "config.toml")
    app = _app(path, tmp_path)
    app.CONFIG_POLL = 3600  # the watcher would show the broken file's error screen first
    async with _running(app) as pilot:
        path.write_text(path.read_text() + "[oops\n")  # broken under the running app
        broken = path.read_text()
        await _pick_theme(app, pilot, "nord")
        assert app.theme == "nord"  # used now, even if not kept
        errors = [message for severity, message in _toasts(app) if severity == "error"]
        assert len(errors) == 1 and "\n" not in errors[0]
        assert errors[0].startswith(f"✗ theme not saved: {path}: invalid TOML")
        assert " — " in errors[0]
    assert path.read_text() == broken  # nothing written


async def test_the_demo_saves_no_theme_and_says_so_once(tmp_path: Path) -> None:
    with demo_environment(today=TODAY) as env:
        app = _recording_toasts(InvoiceApp(env.config, env.store, now=frozen_now,
                                           today=TODAY, demo=True))
        async with _running(app) as pilot:
            await _pick_theme(app, pilot, "nord")
            await _pick_theme(app, pilot, "gruvbox")
            assert app.theme == "gruvbox"
            notes = [message for _, message in _toasts(app) if "theme" in message]
    assert notes == ["The theme is not saved: there is no config file in use — it lasts "
                     "until you quit"]


# --- the keymap -----------------------------------------------------------------------


async def test_rebinding_open_to_l_opens_the_invoice_by_l(server: DemoServer,
                                                         tmp_path: Path) -> None:
    path = _config_file(server, tmp_path / "config.toml", '\n[keymap]\nopen = "l"\n')
    app = _app(path, tmp_path)
    assert app.keymap == {"invoice_table.open": "l"}
    async with _running(app) as pilot:
        main = main_screen(app)
        main.table.focus()
        await pilot.pause()
        footer = {(key.key, key.description) for key in app.screen.query(FooterKey)}
        assert ("l", "Open") in footer and ("enter", "Open") not in footer
        await pilot.press("enter")  # no longer bound: enter opens nothing
        await pilot.pause()
        assert app.screen is main
        await pilot.press("l")
        await settle(app, pilot)
        assert isinstance(app.screen, InvoiceDetailScreen)


async def test_a_key_the_keymap_takes_from_another_binding_is_said(
        server: DemoServer, tmp_path: Path) -> None:
    path = _config_file(server, tmp_path / "config.toml", '\n[keymap]\nopen = "s"\n')
    app = _app(path, tmp_path)
    async with _running(app) as pilot:
        assert ("warning", "[keymap] rebinds invoice_table.open: invoice_table.sort_next loses "
                "its key s on that screen — give invoice_table.sort_next its keys in [keymap] "
                "too") in _toasts(app)
        main_screen(app).table.focus()
        await pilot.press("s")  # the keymap's: open, not sort
        await settle(app, pilot)
        assert isinstance(app.screen, InvoiceDetailScreen)


def test_keymap_losses_follow_textual_per_screen() -> None:
    assert keymap_losses(resolve_keymap({"open": "l,enter"}, "c")) == []  # l: another node
    # Two bindings share escape on the main screen; rebinding one takes it from both.
    assert keymap_losses(resolve_keymap({"clear_filters": "x"}, "c")) == [
        "[keymap] rebinds main.clear_filters: main.back_to_spend loses its key escape on "
        "that screen — give main.back_to_spend its keys in [keymap] too"]
    assert keymap_losses(resolve_keymap({"clear_filters": "x", "back_to_spend": "b"},
                                        "c")) == []


async def test_help_lists_the_ids_and_the_rebound_keys(server: DemoServer,
                                                      tmp_path: Path) -> None:
    path = _config_file(server, tmp_path / "config.toml",
                        '\n[keymap]\nopen = "l,enter"\nmain.filter = "f"\n')
    app = _app(path, tmp_path)
    async with _running(app) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        lines = [line for section in app.screen.query(".help-section")
                 for line in widget_text(section).splitlines()]
        text = "\n".join(lines)
        for binding_id in app_bindings():  # every id the keymap accepts is listed
            assert binding_id in text, binding_id
        (open_row,) = [line for line in lines if "invoice_table.open" in line]
        assert open_row.split()[:4] == ["l", "/", "⏎", "Open"]
        starts = [line.split()[:2] for line in lines]
        assert ["f", "Filter"] in starts and ["/", "Filter"] not in starts


def _run_tui_error(tmp_path: Path, server: DemoServer, keymap: str,
                   monkeypatch: pytest.MonkeyPatch) -> str:
    """The config error ``run_tui`` starts the app with, for this ``[keymap]``."""
    started: list[InvoiceApp] = []
    monkeypatch.setattr(InvoiceApp, "run", lambda self, *a, **k: started.append(self))
    path = _config_file(server, tmp_path / "config.toml", f"\n[keymap]\n{keymap}\n")
    run_tui(path, tmp_path / "cache", False)
    (app,) = started
    assert app.config is None and app.config_error is not None
    return app.config_error


def test_an_unknown_binding_id_is_a_config_error_with_a_suggestion(
        server: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = _run_tui_error(tmp_path, server, '"main.refesh" = "ctrl+r"', monkeypatch)
    path = tmp_path / "config.toml"
    assert error == (f"{path}: [keymap]: unknown binding id 'main.refesh' (did you mean "
                     "'main.refresh'?) — press ? in invoice-tui for every binding id and "
                     "its keys")


def test_an_unknown_key_is_a_config_error_with_a_suggestion(
        server: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = _run_tui_error(tmp_path, server, 'open = "ctlr+x"', monkeypatch)
    assert "[keymap]: open = 'ctlr+x': unknown key 'ctlr+x' (did you mean 'ctrl+x'?)" in error
    assert "\n" not in error


async def test_the_config_error_screen_quits_with_status_2(
        server: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = _run_tui_error(tmp_path, server, 'open = "l,escpae"', monkeypatch)
    app = InvoiceApp(None, config_path=tmp_path / "config.toml", config_error=error,
                     now=frozen_now, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        assert "did you mean 'escape'?" in "".join(
            widget_text(w) for w in app.screen.query("Static")).replace("\n", "")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 2


@pytest.mark.parametrize(("keys", "expected"), [
    ("l,enter", "l,enter"), ("l, enter", "l,enter"), ("ctrl+x", "ctrl+x"), ("f5", "f5"),
    ("?", "question_mark"), ("question_mark", "question_mark"), ("G", "G"),
    ("ctrl+shift+up", "ctrl+shift+up"), ("comma", "comma"), ("alt+f", "alt+f"),
])
def test_keys_textual_knows_pass_normalized(keys: str, expected: str) -> None:
    assert resolve_keymap({"open": keys}, "c.toml") == {"invoice_table.open": expected}


@pytest.mark.parametrize(("keys", "problem"), [
    ("ctlr+x", "unknown key 'ctlr+x' (did you mean 'ctrl+x'?)"),
    ("escpae", "unknown key 'escpae' (did you mean 'escape'?)"),
    ("Enter", "unknown key 'Enter' (did you mean 'enter'?)"),
    ("shift+ctrl+up", "unknown key 'shift+ctrl+up' (did you mean 'ctrl+shift+up'?)"),
    ("l,,enter", "an empty key (a comma too many?)"),
    ("ctrl+zzzzzz", "unknown key 'ctrl+zzzzzz' — use names like"),
])
def test_keys_textual_would_never_send_are_errors(keys: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_keymap({"open": keys}, "c.toml")
    (line,) = caught.value.problems
    assert line.startswith(f"c.toml: [keymap]: open = {keys!r}: {problem}")


def test_short_names_full_ids_and_their_ambiguities() -> None:
    assert resolve_keymap({"open": "o", "refresh_all": "ctrl+r", "spend.back": "b"}, "c") == {
        "invoice_table.open": "o", "main.refresh_all": "ctrl+r", "spend.back": "b"}
    with pytest.raises(ConfigError) as caught:
        resolve_keymap({"select": "x", "back": "b", "opne": "o", "open": "o",
                        "invoice_table.open": "p"}, "c")
    problems = caught.value.problems
    assert problems[0] == ("c: [keymap]: 'select' names 3 bindings — write one full id: "
                           "lines.select, pane.select, spend.select")
    assert problems[1].startswith("c: [keymap]: 'back' names ")
    assert "'opne' (did you mean 'open'?)" in problems[2]
    assert problems[3] == ("c: [keymap]: 'invoice_table.open' names invoice_table.open, "
                           "which an earlier entry rebinds — keep one")
    assert str(caught.value).startswith("c: 4 problems — fix each of these:")


def test_the_ids_come_from_every_screen_and_widget_of_the_app() -> None:
    # The walk over the DOMNode subclasses sees every ui module: app.py imports them all.
    modules = {info.name for info in pkgutil.walk_packages(invoice_tui.ui.__path__,
                                                           "invoice_tui.ui.")}
    assert "invoice_tui.ui.screens.main" in modules
    assert modules <= set(sys.modules)
    ids = app_bindings()
    assert {"app.quit", "main.filter", "invoice_table.open", "detail.open_url",
            "pane.select", "help.close", "pdfs.cancel", "export.cancel"} <= set(ids)
    assert all(binding_id.count(".") == 1 for binding_id in ids)
    # Only the package's own classes: a screen a test defines is not the app's.

    class Stray(MainScreen):
        BINDINGS = [Binding("x", "stray", "Stray", id="stray.only")]

    assert "stray.only" not in app_bindings()
