"""Pilot tests of the spend screen over real HTTP to the demo emulator, and its snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_helpers import (
    TODAY,
    UNTRUSTED,
    ScriptedSync,
    hostile_invoice,
    main_screen,
    run_palette_command,
    screenshots,
    scripted_app,
    settle,
    settled_demo,
    widget_text,
)

from invoice_tui.demo import demo_environment
from invoice_tui.model import format_money
from invoice_tui.spend import month_number
from invoice_tui.ui.screens.help import HelpScreen
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.screens.spend import SpendScreen
from invoice_tui.ui.widgets.status_line import StatusLine
from invoice_tui.view import Period

NOV = month_number(2026, 11)


def _spend(app: Any) -> SpendScreen:
    screen = app.screen
    assert isinstance(screen, SpendScreen)
    return screen


def _cell(spend: SpendScreen) -> tuple[str, str]:
    """The cursor's row key and column key."""
    grid = spend.grid
    row, column = grid.coordinate_to_cell_key(grid.cursor_coordinate)
    return str(row.value), str(column.value)


async def test_m_opens_spend_on_the_newest_month_of_the_first_account_q_goes_back() -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        await pilot.press("m")
        spend = _spend(app)
        table = spend.table
        assert table.months[-1] == NOV and table.has_estimate  # the demo's today
        assert [block.currency for block in table.blocks] == ["EUR", "USD"]
        assert _cell(spend) == ("EUR:account:unleash:unleash-contoso", str(NOV))
        info = widget_text(spend.query_one("#spend-info"))
        assert info.strip().startswith("unleash-contoso · 2026-11 · billed ")
        await pilot.press("q")
        assert app.screen is main


async def test_palette_opens_spend_and_keys_move_between_figures_only() -> None:
    async with settled_demo() as (app, pilot):
        await run_palette_command(app, pilot, "View: spend by month")
        spend = _spend(app)
        await pilot.press("k", "k")  # the provider row, then the chart: stays on figures
        assert _cell(spend)[0] == "EUR:provider:unleash:"
        await pilot.press("j", "j", "j")
        assert _cell(spend)[0] == "EUR:account:voximplant:vox-eu"
        await pilot.press("j", "j")  # the total, then past the changes and USD's chart
        assert _cell(spend)[0] == "USD:provider:unleash:"
        await pilot.press("h")
        assert _cell(spend)[1] == str(NOV - 1)
        await pilot.press("l", "l")
        assert _cell(spend)[1] == "estimate"
        await pilot.press("g")
        assert _cell(spend)[1] == str(spend.table.months[0])
        await pilot.press("h")  # the names column is not a cell to rest on
        assert _cell(spend)[1] == str(spend.table.months[0])
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_enter_shows_that_account_and_month_and_esc_comes_back_to_the_cell() -> None:
    async with settled_demo(size=(160, 40)) as (app, pilot):
        main = main_screen(app)
        main.set_filter("")
        main.table.sort_by("total")
        before = main.table.snapshot_state()
        await pilot.press("m", "j", "j", "h")  # vox-eu, 2026-10
        spend = _spend(app)
        cell = _cell(spend)
        assert cell == ("EUR:account:voximplant:vox-eu", str(NOV - 1))
        billed = spend.table.blocks[0].rows[3].billed[-2]
        assert billed is not None
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is main
        view = main.table.view
        assert view.accounts == {"vox-eu"} and view.period == Period("month", 2026, 10)
        assert {(i.account, i.issued and i.issued.strftime("%Y-%m")) for i in view.rows} == {
            ("vox-eu", "2026-10")}
        # The cell's figure is the status line's billed for the same invoices.
        assert view.totals()["EUR"].billed == billed
        status = widget_text(main.query_one(StatusLine))
        assert f"billed {format_money(billed, 'EUR', with_code=True)}" in status
        assert main.pane.highlighted_account == "vox-eu"
        await pilot.press("escape")
        assert _cell(_spend(app)) == cell
        await pilot.press("escape")
        assert app.screen is main
        after = main.table.snapshot_state()
        assert (after.accounts, after.period, after.sort_key, after.query) == (
            before.accounts, before.period, before.sort_key, before.query)


async def test_enter_on_a_provider_row_or_the_estimate() -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        await pilot.press("m", "j", "j", "j", "j")  # USD: Unleash (the provider)
        assert _cell(_spend(app))[0] == "USD:provider:unleash:"
        await pilot.press("l", "enter")  # its estimate
        await settle(app, pilot)
        view = main.table.view
        assert view.accounts == {"unleash-acme"} and view.period == Period()
        assert {i.status for i in view.rows} == {"estimate", "upcoming"}
        await pilot.press("escape")
        assert _cell(_spend(app)) == ("USD:provider:unleash:", "estimate")


async def test_period_and_account_filters_carry_over() -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        main.show_account("vox-eu")
        main.set_period(Period("year", 2025))
        await pilot.pause()
        await pilot.press("m")
        table = _spend(app).table
        assert table.months == tuple(range(month_number(2025, 1), month_number(2025, 12) + 1))
        assert not table.has_estimate  # 2025 is over: no estimate column
        assert [(r.kind, r.account) for block in table.blocks for r in block.rows] == [
            ("provider", ""), ("account", "vox-eu"), ("total", "")]
        title = str(_spend(app).grid.border_title)
        assert "2025" in title


async def test_help_lists_the_spend_keys() -> None:
    async with settled_demo() as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(widget_text(w) for w in app.screen.query(".help-section"))
        assert "Spend" in text and "Back to spend" in text and "First month" in text


async def test_markup_in_an_account_name_is_shown_literally(tmp_path: Path) -> None:
    name = f"acme {UNTRUSTED}"
    sync = ScriptedSync({name: (hostile_invoice(name),)})
    app = scripted_app(tmp_path, sync, (name, "unleash"))
    async with app.run_test(size=(120, 32)) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        spend = _spend(app)
        text = widget_text(spend.grid)
        assert "acme [bold red]x" in text  # shown as typed (cut to the names' width)
        assert "\x1b" not in text and "evil.example" not in text
        assert "acme [bold red]x" in widget_text(spend.query_one("#spend-info"))


# --- snapshots --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 32)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_spend_screen_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    scenario = next(s for s in screenshots.SCENARIOS if s.name == "spend")
    with demo_environment(today=TODAY) as env:
        assert snap_compare(screenshots.demo_app(env), terminal_size=size,
                            run_before=scenario.run_before)
