"""Moving around by keyboard (issue 9 §5): the pane applies what the cursor is on, ←/→ and
h/l between panes, back from a detail with q/←/h/Backspace, j/k through line details and
the help."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable
from ui_helpers import (
    ACCOUNTS,
    SIZE,
    ScriptedSync,
    main_screen,
    scripted_app,
    settle,
    settled_demo,
    simple_invoice,
    squashed,
    widget_text,
)

from invoice_tui.providers import ProviderError
from invoice_tui.ui.screens.detail import InvoiceDetailScreen
from invoice_tui.ui.screens.help import HelpScreen
from invoice_tui.ui.screens.line_detail import LineDetailScreen
from invoice_tui.ui.screens.main import MainScreen


async def test_moving_the_pane_cursor_shows_that_account_without_enter() -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        await pilot.press("h")  # from the table to the pane
        assert main.pane.has_focus and main.table.view.accounts is None
        states = list(main.pane.states.values())
        await pilot.press("j")  # onto the first provider's heading: all its accounts
        first = states[0].provider
        assert main.table.view.accounts == frozenset(
            s.name for s in states if s.provider == first)
        await pilot.press("j")  # onto its first account: that account alone
        assert main.table.view.accounts == frozenset({states[0].name})
        assert {i.account for i in main.table.view.rows} == {states[0].name}
        await pilot.press("g")
        assert main.table.view.accounts is None
        await pilot.press("l")
        assert main.table.has_focus


async def test_ctrl_d_and_ctrl_u_move_the_pane_cursor() -> None:
    async with settled_demo(size=(100, 16)) as (app, pilot):
        main = main_screen(app)
        await pilot.press("left")
        assert main.pane.has_focus and main.pane.highlighted == 0
        await pilot.press("ctrl+d")
        down = main.pane.highlighted
        assert down is not None and down > 0
        await pilot.press("ctrl+u")
        assert main.pane.highlighted is not None and main.pane.highlighted < down
        await pilot.press("right")
        assert main.table.has_focus


async def test_a_failure_reason_is_readable_in_the_pane(tmp_path: Path) -> None:
    reason = "Voximplant error 2: HTTP 401 from api.voximplant.com, the key was revoked"
    sync = ScriptedSync({"vox-main": ProviderError(reason, "make a new key"),
                         "acme": (simple_invoice("acme", "A-1"),)})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        pane = main_screen(app).pane
        assert squashed(f"✗ {reason}") in squashed(widget_text(pane).replace("│", ""))  # wrapped
        assert pane.tooltip is None
        await pilot.press("h", "j", "j")  # the pane, the heading, vox-main
        assert pane.highlighted_account == "vox-main"
        assert str(pane.tooltip) == f"vox-main: {reason} — make a new key (e: details, r: retry)"


async def test_back_from_the_detail_with_q_backspace_left_and_h() -> None:
    async with settled_demo() as (app, pilot):
        for key in ("q", "backspace", "left", "h", "escape"):
            await pilot.press("enter")
            assert isinstance(app.screen, InvoiceDetailScreen)
            await pilot.press(key)
            assert isinstance(app.screen, MainScreen), key
        assert app.is_running  # q left the detail, it did not quit


async def test_j_and_k_step_through_the_lines_in_a_line_detail() -> None:
    async with settled_demo() as (app, pilot):
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen) and len(detail.invoice.lines) >= 2
        await pilot.press("enter")
        modal = app.screen
        assert isinstance(modal, LineDetailScreen) and modal.position == 0
        await pilot.press("k")  # before the first: stays, says so
        assert modal.position == 0
        await pilot.press("j")
        assert modal.position == 1 and modal.line == detail.invoice.lines[1]
        description = detail.invoice.lines[1].description
        assert description.split()[0] in widget_text(modal.query_one("#line-metering"))
        await pilot.press("escape")
        assert app.screen is detail
        assert detail.query_one("#lines", DataTable).cursor_row == 1  # back on that line


async def test_j_and_k_scroll_the_help() -> None:
    async with settled_demo(size=(80, 20)) as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        dialog = app.screen.query_one("#help-dialog")
        assert dialog.scroll_y == 0 and dialog.max_scroll_y > 3
        await pilot.press("j", "j", "j")
        assert dialog.scroll_y == 3
        await pilot.press("k")
        assert dialog.scroll_y == 2
        await pilot.press("G")
        assert dialog.scroll_y == dialog.max_scroll_y
        await pilot.press("g")
        assert dialog.scroll_y == 0
        await pilot.press("h")
        assert isinstance(app.screen, MainScreen)


async def test_back_from_a_line_detail_with_the_same_keys() -> None:
    async with settled_demo() as (app, pilot):
        await pilot.press("enter")
        detail = app.screen
        for key in ("q", "backspace", "left", "h", "escape", "enter"):
            await pilot.press("enter")
            assert isinstance(app.screen, LineDetailScreen)
            await pilot.press(key)
            assert app.screen is detail, key
