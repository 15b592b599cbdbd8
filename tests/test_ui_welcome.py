"""First run (no config) and a broken config: the welcome and config-error screens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ui_helpers import SIZE, TODAY, frozen_now, settle, squashed, widget_text

from invoice_tui.ui.app import InvoiceApp, run_tui
from invoice_tui.ui.screens.account_form import AccountFormScreen
from invoice_tui.ui.screens.error import ConfigErrorScreen
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.screens.welcome import WelcomeScreen


def _welcome_app(path: Path) -> InvoiceApp:
    return InvoiceApp(None, config_path=path, now=frozen_now, today=TODAY, demo_today=TODAY)


async def test_welcome_shows_the_config_path_and_offers_the_form(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.toml"
    app = _welcome_app(path)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        # A long temp path wraps inside the dialog: compare without the wrapping.
        shown = squashed(widget_text(app.screen.query_one("#welcome-text")))
        assert squashed(str(path)) in shown
        assert "start invoice-tui again" not in widget_text(app.screen)
        assert app.screen.focused is app.screen.query_one("#add")
        await pilot.press("enter")  # "Add an account" has the focus
        await pilot.pause()
        assert isinstance(app.screen, AccountFormScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
    assert not path.exists()  # nothing is written until a form is saved


async def test_welcome_opens_the_demo_in_process(tmp_path: Path) -> None:
    app = _welcome_app(tmp_path / "config.toml")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await settle(app, pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        assert {s.phase for s in main.pane.states.values()} == {"synced"}
        assert main.table.view.total_count > 0
        assert app.sub_title == "demo"
    # Nothing was written where the user's config would go.
    assert not (tmp_path / "config.toml").exists()


async def test_welcome_quit_button_exits(tmp_path: Path) -> None:
    app = _welcome_app(tmp_path / "config.toml")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#quit")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_bad_config_shows_the_reason_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    reason = (f"{path}: line 3: [[accounts]] needs a name — add name = \"...\"\n"
              f"{path}: account #2: missing provider — add provider = \"…\"")
    app = InvoiceApp(None, config_path=path, config_error=reason, now=frozen_now, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigErrorScreen)
        # Long temp paths wrap inside the dialog: compare without the wrapping.
        text = squashed(widget_text(screen.query_one("#config-error-text")))
        assert squashed(f"{path}: line 3: [[accounts]] needs a name") in text
        assert squashed(f"{path}: account #2: missing provider") in text
        assert squashed(f"File {path}") in text
        assert "Traceback" not in text
        await pilot.click("#quit")
        await pilot.pause()
    assert app.return_code == 2



def test_run_tui_opens_the_right_first_screen(tmp_path: Path, monkeypatch: Any) -> None:
    started: list[InvoiceApp] = []

    def fake_run(self: InvoiceApp, *args: object, **kwargs: object) -> None:
        started.append(self)

    monkeypatch.setattr(InvoiceApp, "run", fake_run)
    cache = tmp_path / "cache"
    assert run_tui(tmp_path / "missing.toml", cache, False) == 0
    assert started[-1].config is None and started[-1].config_error is None  # welcome

    bad = tmp_path / "bad.toml"
    bad.write_text("[[accounts]]\nname = 1\n", encoding="utf-8")
    assert run_tui(bad, cache, False) == 0
    assert started[-1].config is None and started[-1].config_error
    assert "Traceback" not in started[-1].config_error

    assert run_tui(tmp_path / "unused.toml", cache, True) == 0
    demo = started[-1]
    assert demo.demo and demo.config is not None and len(demo.config.accounts) >= 4
    assert not (tmp_path / "unused.toml").exists() and not cache.exists()


async def test_q_on_a_bad_config_quits_with_status_2(tmp_path: Path) -> None:
    app = InvoiceApp(None, config_path=tmp_path / "c.toml", config_error="c.toml: bad",
                     now=frozen_now, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 2
