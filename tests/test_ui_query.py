"""The `/` query in the app, over real HTTP to the demo emulator: terms filter the table,
show as chips in the status line at every width, a bad term gets an inline hint, palette
filters write the same syntax, Esc clears everything."""

from __future__ import annotations

from typing import Any

import pytest
from query_oracle import matches_query
from textual.content import Content
from ui_helpers import run_palette_command, settled_demo, widget_text

from invoice_tui.model import Invoice
from invoice_tui.query import parse_query
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.widgets.status_line import StatusLine


def _main(app: Any) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


def _status(main: MainScreen) -> str:
    return widget_text(main.query_one(StatusLine))


def _hint(main: MainScreen) -> str:
    # Textual keeps a border title as markup: what shows is its plain text.
    hint = Content.from_markup(main.filter_input.border_subtitle or "").plain
    assert hint.split("—")[0].strip() in widget_text(main.filter_input)  # drawn, in the border
    return hint


def _keys(rows: Any) -> set[tuple[str, str]]:
    return {(inv.account, inv.id) for inv in rows}


async def test_every_term_kind_on_the_demo_data_agrees_with_the_whole_invoices() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        invoices: list[Invoice] = list(main.store.iter_invoices(main.config.accounts))
        assert len(invoices) == main.table.view.total_count
        sizes = {}
        for query in ("status:paid", "status:overdue", "-status:cancelled", "provider:unl",
                      "-provider:unleash", "account:eu", "currency:EUR", "-currency:eur",
                      "total>1000", "total<=500", "-total>=1000", "due<2026-12-01",
                      "issued>=2026-06", "since:2026-01", "until:2026-06", "-until:2025",
                      '"phone numbers"', "-calls", "status:paid currency:usd total>100",
                      "vox -status:cancelled since:2026"):
            main.set_filter(query)
            await pilot.pause()
            wanted = {(inv.account, inv.id) for inv in invoices
                      if matches_query(inv, parse_query(query))}
            assert _keys(main.table.view.rows) == wanted, query
            sizes[query] = len(wanted)
        # Each query really filters: some invoices, not all.
        assert [q for q, size in sizes.items() if not 0 < size < len(invoices)] == [], sizes


async def test_typed_terms_become_chips_and_esc_clears_every_filter() -> None:
    async with settled_demo(size=(200, 40)) as (app, pilot):
        main = _main(app)
        view = main.table.view
        total = len(view.rows)
        await pilot.press("slash", *"status:paid total>100")
        assert view.parsed_query.problems == ()
        assert 0 < len(view.rows) < total
        status = _status(main)
        assert " status:paid " in status and " total>100 " in status
        main.show_account("unleash-acme")
        main.table.set_statuses({"paid"})  # as the spend screen's drill does
        await pilot.pause()
        status = _status(main)
        assert " account:unleash-acme " in status and " status:paid " in status
        await pilot.press("enter", "escape")  # back to the table; Esc clears them all
        await pilot.pause()
        assert (view.query, view.statuses, view.accounts) == ("", None, None)
        assert len(view.rows) == total
        assert "status:paid" not in _status(main) and "account:" not in _status(main)


async def test_a_bad_term_shows_a_hint_under_the_box_until_fixed() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        total = len(main.table.view.rows)
        await pilot.press("slash", *"total>abc")
        assert _hint(main) == "total needs a number — total>1000"
        assert len(main.table.view.rows) == total  # ignored for filtering, no exception
        assert not app._notifications  # a hint, not a toast
        await pilot.press(*["backspace"] * 3, *"1000")
        assert _hint(main) == ""
        assert len(main.table.view.rows) < total
        await pilot.press("space", *"statu>")  # a near miss of a field name
        assert "did you mean status>" in _hint(main)
        await pilot.press("escape")
        assert _hint(main) == ""


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_chips_show_at_every_width_and_the_count_keeps_priority(width: int) -> None:
    async with settled_demo(size=(width, 24)) as (app, pilot):
        main = _main(app)
        await pilot.press("slash", *"-status:cancelled total>10 since:2026-01 currency:usd")
        await pilot.press("enter", "p")  # a period too: five filters
        await pilot.pause()
        view = main.table.view
        status = _status(main)
        assert status.strip().startswith(f"{len(view.rows)} of {view.total_count} invoices")
        assert "billed" in status
        assert " -status:cancelled " in status  # the first chip always shows
        if width < 200:
            assert "+" in status.split("-status:cancelled")[1]  # the rest counted
        else:
            assert " currency:usd " in status and " 2026 " in status
        assert "…" not in status.split("│")[0] and len(status.rstrip()) <= width


@pytest.mark.parametrize("title, term", [
    ("Filter: status paid", "status:paid"),
    ("Filter: provider unleash", "provider:unleash"),
    ("Filter: currency EUR", "currency:EUR"),
])
async def test_palette_filters_write_the_query_and_show_as_a_chip(title: str,
                                                                  term: str) -> None:
    async with settled_demo(size=(200, 40)) as (app, pilot):
        main = _main(app)
        await pilot.press("slash", *"vox", "enter")
        await run_palette_command(app, pilot, title)
        await pilot.pause()
        assert main.filter_input.value == f"vox {term}"
        assert main.table.view.query == f"vox {term}"
        assert f" {term} " in _status(main)
        await run_palette_command(app, pilot, title)  # again: replaced, not added twice
        assert main.filter_input.value == f"vox {term}"
        await pilot.press("escape")
        assert main.table.view.query == "" and term not in _status(main)
