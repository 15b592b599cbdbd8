"""Pilot tests of the main screen over real HTTP to the demo emulator."""

from __future__ import annotations

import dataclasses
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey
from ui_helpers import (
    SIZE,
    TODAY,
    demo_app,
    run_palette_command,
    screenshots,
    settle,
    settled_demo,
    widget_text,
)

from invoice_tui import sync as sync_module
from invoice_tui.demo import DEMO_ACCOUNTS, Fault, demo_account, demo_environment
from invoice_tui.demo.data import voximplant_account_info
from invoice_tui.export import iter_json
from invoice_tui.model import format_money
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.screens.detail import InvoiceDetailScreen, LinesTable
from invoice_tui.ui.screens.error import AccountErrorScreen
from invoice_tui.ui.screens.help import HelpScreen, help_sections
from invoice_tui.ui.screens.line_detail import LineDetailScreen
from invoice_tui.ui.screens.main import FilterInput, MainScreen
from invoice_tui.ui.widgets.invoice_table import InvoiceTable
from invoice_tui.ui.widgets.provider_pane import ProviderPane
from invoice_tui.ui.widgets.status_line import StatusLine
from invoice_tui.view import Period


def _main(app: object) -> MainScreen:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, MainScreen)
    return screen


async def test_every_demo_account_syncs_and_the_pane_shows_it() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        pane = main.pane
        assert set(pane.states) == {a.name for a in DEMO_ACCOUNTS}
        assert {s.phase for s in pane.states.values()} == {"synced"}
        assert main.table.view.total_count == sum(
            s.invoice_count or 0 for s in pane.states.values())
        text = widget_text(pane)
        assert "Voximplant · 2" in text and "Unleash · 2" in text
        assert "✓ synced just now" in text
        # Unleash accounts show their plan price with the currency code.
        assert "plan 1,875.00 USD" in text and "plan 1,500.00 EUR" in text


@pytest.mark.parametrize("size", [(80, 24), SIZE], ids=["80x24", "140x40"])
async def test_the_pane_shows_each_voximplant_balance_with_its_code(size) -> None:
    async with settled_demo(size=size) as (app, pilot):
        pane = _main(app).pane
        text = widget_text(pane)
        lines = [line.strip("│ ") for line in text.splitlines()]
        # 80 columns leave the pane 20 cells: a line that would not fit says "bal.",
        # so the amount and its code are never cut.
        narrow = size == (80, 24)
        balances = [line for line in lines if line.startswith(("balance ", "bal. "))]
        assert balances == [
            "bal. 1,907.05 USD" if narrow else "balance 1,907.05 USD",
            "balance 824.59 EUR"]  # Unleash reports no balance: only these two
        for account, line in zip((demo_account("vox-main"), demo_account("vox-eu")),
                                 balances, strict=True):
            info = voximplant_account_info(account)
            amount = format_money(info["balance"], account.currency)
            assert line.endswith(f" {amount} {account.currency}")
        assert "…" not in text
        assert "plan 1,875.00 USD" in lines and "plan 1,500.00 EUR" in lines


async def test_status_line_totals_are_per_currency_of_the_visible_rows() -> None:
    async with settled_demo(size=(220, 40)) as (app, pilot):  # wide: every part shows
        main = _main(app)
        view = main.table.view
        status = widget_text(main.query_one(StatusLine))
        assert f"{len(view.rows)} of {view.total_count} invoices" in status
        totals = view.totals()
        assert list(totals) == ["EUR", "USD"]  # one order, whatever the sort
        for code, money in totals.items():
            assert money.billed and money.due and money.estimated  # the demo has all
            assert (f"billed {money.billed:,.2f} {code} · due {money.due:,.2f} {code}"
                    f" · est. {money.estimated:,.2f} {code}") in status
        main.show_account("vox-eu")
        await pilot.pause()
        status = widget_text(main.query_one(StatusLine))
        assert "USD" not in status and "EUR" in status
        assert all(i.account == "vox-eu" for i in main.table.view.rows)
        # Voximplant is prepaid: billed, never due, no estimates.
        assert "billed " in status and "due " not in status and "est. " not in status


async def test_status_line_shortens_by_whole_parts_at_80_columns() -> None:
    async with settled_demo(size=(80, 24)) as (app, pilot):
        main = _main(app)
        eur = main.table.view.totals()["EUR"]
        status = widget_text(main.query_one(StatusLine)).strip()
        # The est. figures and the second currency go whole, the latter named.
        assert status == (f"110 of 110 invoices  │  billed {eur.billed:,.2f} EUR · "
                          f"due {eur.due:,.2f} EUR  │  +USD")


@pytest.mark.parametrize(("width", "compact"), [(80, True), (150, False)])
async def test_the_footer_mounts_after_the_first_frame_fitted_to_the_width(
        width: int, compact: bool) -> None:
    """The footer is Lazy (the first rows need not wait for its keys), built for the
    terminal's width: compact (no palette hint) on a narrow one, and refitted on resize."""
    async with settled_demo(size=(width, 24)) as (app, pilot):
        footer = app.screen.query_one(Footer)
        assert (footer.compact, footer.show_command_palette) == (compact, not compact)
        keys = " ".join(widget_text(key) for key in footer.query(FooterKey))
        assert "Sort" in keys and "Quit" in keys
        await pilot.resize_terminal(230 - width, 24)  # to the other side of the threshold
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        assert (footer.compact, footer.show_command_palette) == (not compact, compact)


def _unleash_total(raw: dict[str, Any]) -> Decimal:
    """An invoice's total as the README says the screen shows it: an estimate the API
    sent with a 0 subtotal or total is Σ its lines, plus taxPercentage of that (cents)."""
    total = Decimal(raw.get("totalAmount") or 0)
    if raw["status"] != "estimate" or (raw.get("subtotal") and total):
        return total
    lines = [*raw.get("mainLines", []), *raw.get("usageLines", [])]
    subtotal = sum((Decimal(line.get("totalAmount") or 0) for line in lines), Decimal(0))
    tax = subtotal * Decimal(raw.get("taxPercentage") or 0) / 100
    return subtotal + tax.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _unleash_hand_sums(invoices: list[dict[str, Any]]) -> tuple[Decimal, Decimal, Decimal]:
    """billed, due, est. of raw Unleash invoices, by the rule of the README's table."""
    billed = due = estimated = Decimal(0)
    for raw in invoices:
        total = _unleash_total(raw)
        if raw["status"] in ("paid", "invoiced", "past-due"):
            billed += total
        if raw["status"] in ("invoiced", "past-due"):
            due += total  # Unleash sends no amount due: the total is owed
        if raw["status"] in ("estimate", "upcoming"):
            estimated += total
    return billed, due, estimated


async def test_status_line_figures_match_a_hand_sum_of_the_emulators_data() -> None:
    with demo_environment(today=TODAY) as env:
        account = next(a for a in env.config.accounts if a.name == "unleash-acme")
        # The emulator's own JSON, fetched over HTTP without the app's parser.
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"{account.options['base_url']}/api/admin/invoices/list",
                headers={"Authorization": account.options["token"]})
        raw = json.loads(response.content, parse_float=Decimal)["invoices"]
        assert {i["status"] for i in raw} >= {"paid", "invoiced", "past-due", "estimate",
                                               "upcoming"}
        billed, due, estimated = _unleash_hand_sums(raw)
        app = screenshots.demo_app(env)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            main = _main(app)
            main.show_account("unleash-acme")
            await pilot.pause()
            status = widget_text(main.query_one(StatusLine))
            assert (f"billed {billed:,.2f} USD · due {due:,.2f} USD · "
                    f"est. {estimated:,.2f} USD") in status
            # vox-main from the export's JSON: every invoice but the cancelled is billed.
            main.show_account("vox-main")
            await pilot.pause()
            exported = json.loads("".join(iter_json(list(main.table.view.rows))))
            vox_billed = sum((Decimal(i["total"]) for i in exported
                              if i["status"] != "cancelled"), Decimal(0))
            assert {i["status"] for i in exported} >= {"new", "numbered", "cancelled"}
            status = widget_text(main.query_one(StatusLine))
            assert f"billed {vox_billed:,.2f} USD  │" in status and "due" not in status


async def test_drill_down_to_a_line_and_back_restores_cursor_filter_and_sort() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        table = main.table
        await pilot.press("slash", *"acme", "enter")
        assert table.has_focus and table.view.query == "acme"
        await pilot.press("s")  # sort by the next column
        await pilot.press("j", "j", "j")
        before = table.cursor_invoice
        sort = (table.view.sort_key, table.view.sort_reverse)
        rows = list(table.view.rows)
        assert before is not None and before.account == "unleash-acme"

        await pilot.press("enter")
        detail = app.screen
        # The table holds headers only; the detail reads the invoice's lines from the store.
        assert before.lines == ()
        assert isinstance(detail, InvoiceDetailScreen) and detail.invoice.lines
        assert detail.invoice == dataclasses.replace(before, lines=detail.invoice.lines)
        lines = detail.query_one(LinesTable)
        assert lines.row_count == len(detail.invoice.lines) and lines.has_focus
        await pilot.press("enter")
        assert isinstance(app.screen, LineDetailScreen)
        assert app.screen.line == detail.invoice.lines[0]
        await pilot.press("escape")
        assert app.screen is detail
        await pilot.press("escape")

        assert app.screen is main and table.has_focus
        assert table.cursor_invoice == before
        assert table.view.query == "acme" and main.filter_input.value == "acme"
        assert (table.view.sort_key, table.view.sort_reverse) == sort
        assert list(table.view.rows) == rows


async def test_filter_as_you_type_then_escape_clears_it() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        table = main.table
        total = len(table.view.rows)
        await pilot.press("slash")
        assert isinstance(app.focused, FilterInput) and main.filter_input.display
        await pilot.press(*"vox-eu")
        assert table.view.query == "vox-eu"
        assert 0 < len(table.view.rows) < total
        assert all(i.account == "vox-eu" for i in table.view.rows)
        assert " vox-eu " in widget_text(main.query_one(StatusLine))  # its chip
        await pilot.press("escape")
        assert table.view.query == "" and len(table.view.rows) == total
        assert table.has_focus and not main.filter_input.display


async def test_q_in_the_filter_types_instead_of_quitting() -> None:
    async with settled_demo() as (app, pilot):
        await pilot.press("slash", "q")
        assert _main(app).filter_input.value == "q"
        assert app.is_running


async def test_period_cycles_all_year_month_and_steps() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        table = main.table
        # Today's year and month, wherever the cursor is (it began on the cursor's row).
        await pilot.press("G")
        bottom = table.cursor_invoice
        assert bottom is not None and bottom.issued is not None
        assert bottom.issued.year < main.today.year
        await pilot.press("p")
        assert table.view.period == Period("year", main.today.year)
        # In the table's title; the status line gives its room to billed/due first.
        assert f"· {main.today.year}" in str(table.border_title)
        await pilot.press("p")
        month = Period("month", main.today.year, main.today.month)
        assert table.view.period == month
        assert all(i.issued and (i.issued.year, i.issued.month)
                   == (month.year, month.month) for i in table.view.rows)
        assert month.label() in str(table.border_title)
        await pilot.press("left_square_bracket")
        previous = table.view.period
        assert previous.kind == "month" and (previous.year, previous.month) < (
            month.year, month.month)
        await pilot.press("right_square_bracket")
        assert table.view.period == month
        await pilot.press("p")
        assert table.view.period == Period()


async def test_a_failing_account_shows_its_reason_and_a_detail_modal() -> None:
    fault = Fault("vox_error", account="vox-eu", code=104, times=-1)
    async with settled_demo(faults=[fault]) as (app, pilot):
        main = _main(app)
        pane = main.pane
        failed = pane.states["vox-eu"]
        assert failed.phase == "failed" and failed.error is not None
        # The other accounts are unaffected.
        assert {s.phase for n, s in pane.states.items() if n != "vox-eu"} == {"synced"}
        assert f"✗ {failed.error.reason}"[:20] in widget_text(pane)
        # Exactly one toast for the round, naming the account.
        notes = list(app._notifications)
        assert len(notes) == 1 and "vox-eu" in notes[0].message

        pane.focus()
        pane.select_account("vox-eu")
        await pilot.press("enter")
        modal = app.screen
        assert isinstance(modal, AccountErrorScreen)
        shown = widget_text(modal.query_one("#error-text"))
        assert failed.error.reason[:30] in shown
        assert failed.error.hint[:30] in shown
        await pilot.press("escape")
        assert app.screen is main
        # The table shows only the chosen account now.
        assert main.table.view.accounts == frozenset({"vox-eu"})

        await pilot.press("e")
        assert isinstance(app.screen, AccountErrorScreen)
        await pilot.press("escape")


async def test_r_refreshes_the_selected_account_and_R_all(tmp_path: Path) -> None:
    with demo_app() as app:
        calls: list[str] = []
        real_sync = app.sync

        async def counting_sync(account, settings, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(account.name)
            return await real_sync(account, settings, **kwargs)

        app.sync = counting_sync
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert sorted(calls) == sorted(a.name for a in DEMO_ACCOUNTS)
            main = _main(app)
            calls.clear()
            main.pane.focus()
            main.pane.select_account("unleash-contoso")
            await pilot.press("r")
            await settle(app, pilot)
            assert calls == ["unleash-contoso"]
            assert main.pane.states["unleash-contoso"].phase == "synced"

            calls.clear()
            main.table.focus()
            await pilot.press("R")
            await settle(app, pilot)
            assert sorted(calls) == sorted(a.name for a in DEMO_ACCOUNTS)

            # r on "All accounts" in the pane refreshes every account.
            calls.clear()
            main.pane.focus()
            main.pane.select_account(None)
            await pilot.press("r")
            await settle(app, pilot)
            assert sorted(calls) == sorted(a.name for a in DEMO_ACCOUNTS)

            # r on the table refreshes the highlighted invoice's account.
            main.table.focus()
            calls.clear()
            invoice = main.table.cursor_invoice
            assert invoice is not None
            await pilot.press("r")
            await settle(app, pilot)
            assert calls == [invoice.account]


async def test_help_lists_every_binding_of_every_screen() -> None:
    async with settled_demo() as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(widget_text(w) for w in app.screen.query(".help-section"))
        for _, bindings in help_sections(InvoiceApp.BINDINGS):
            for binding in bindings:
                assert binding.description in text
        assert "Filter" in text and "Refresh all" in text and "Download PDF" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_palette_commands_run() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        await run_palette_command(app, pilot, "Go: account vox-eu")
        assert app.screen is main
        assert main.table.view.accounts == frozenset({"vox-eu"})
        assert main.pane.highlighted_account == "vox-eu"

        await run_palette_command(app, pilot, "Filter: clear")
        assert main.table.view.accounts is None

        await run_palette_command(app, pilot, "Period: this month")
        assert main.table.view.period == Period("month", 2026, 11)


async def test_clicking_an_account_in_the_pane_filters_the_table() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        pane = main.pane
        # The row that shows "vox-eu" (entries take as many rows as their facts need).
        rows = [line.strip("│ ") for line in widget_text(pane).splitlines()]
        row = rows.index("vox-eu")
        await pilot.click(ProviderPane, offset=(3, row))
        await pilot.pause()
        assert main.table.view.accounts == frozenset({"vox-eu"})


async def _press_d_on_an_invoice(downloads: str | None = None) -> list[tuple[str, str]]:
    """Open a vox-main invoice's detail, press ``d``; the toasts as (severity, message)."""
    async with settled_demo() as (app, pilot):
        _main(app).show_account("vox-main")
        await pilot.pause()
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen)
        if downloads is not None:
            detail.settings = dataclasses.replace(detail.settings, downloads=downloads)
        await pilot.press("d")
        await settle(app, pilot)
        return [(n.severity, n.message) for n in app._notifications]


async def test_download_pdf_saves_the_bytes(isolated_home: Path) -> None:
    downloads = isolated_home / "Downloads"
    downloads.mkdir()
    toasts = await _press_d_on_an_invoice()
    saved = list(downloads.glob("*.pdf"))
    assert len(saved) == 1
    assert saved[0].read_bytes().startswith(b"%PDF")
    assert ("information", f"Saved {saved[0]}") in toasts


async def test_a_failed_pdf_save_is_a_toast_not_silence(isolated_home: Path,
                                                        tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    toasts = await _press_d_on_an_invoice(str(blocker / "pdfs"))
    errors = [message for severity, message in toasts if severity == "error"]
    assert errors == [f"✗ could not save the PDF in {blocker / 'pdfs'} (Not a directory)"
                      " — check the downloads folder ([settings] downloads) and its permissions"]
    assert not list(isolated_home.rglob("*.pdf")) and not list(Path.cwd().glob("*.pdf"))


async def test_a_bug_in_the_pdf_download_is_a_one_line_toast(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The download runs in a worker with exit_on_error=False: a bug that escapes
    # sync.download_pdf must reach the user (one line, no traceback), not vanish.
    def broken_save(*args: object) -> Path:
        raise TypeError("a bug, with a secret: user:token")

    monkeypatch.setattr(sync_module, "save_new_file", broken_save)
    toasts = await _press_d_on_an_invoice()
    errors = [message for severity, message in toasts if severity == "error"]
    assert errors == ["✗ could not save the PDF (internal error: TypeError)"
                      " — this is a bug in invoice-tui; please report it"]
    assert not list(isolated_home.rglob("*.pdf"))


async def test_invoice_table_is_a_pane_and_tab_moves_between_panes() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        assert main.table.has_focus
        await pilot.press("shift+tab")
        assert main.pane.has_focus
        await pilot.press("tab")
        assert isinstance(app.focused, InvoiceTable)


async def test_every_palette_command_runs_and_is_titled_category_action() -> None:
    from invoice_tui.ui.commands import main_screen_commands

    async with settled_demo() as (app, pilot):
        main = _main(app)
        commands = main_screen_commands(main)
        titles = [title for title, _, _ in commands]
        for expected in ("Sync: refresh all", "Sync: refresh vox-eu", "Go: account vox-eu",
                         "Filter: status paid", "Filter: status estimate", "Filter: clear",
                         "Period: all", "Period: this year", "Period: this month",
                         "Period: previous", "Period: next", "Sort: by total"):
            assert expected in titles
        assert all(": " in title for title in titles)
        by_title = {title: run for title, run, _ in commands}
        by_title["Filter: status paid"]()
        await pilot.pause()
        assert {i.status for i in main.table.view.rows} == {"paid"}
        by_title["Period: this year"]()
        assert main.table.view.period == Period("year", 2026)
        by_title["Sort: by total"]()
        assert main.table.view.sort_key == "total"
        for _title, run, _ in commands:  # none of them may crash
            run()
            await pilot.pause()
        await settle(app, pilot)
        assert app.is_running


async def test_retry_from_the_error_modal_refreshes_that_account() -> None:
    fault = Fault("vox_error", account="vox-eu", code=104, times=1)
    async with settled_demo(faults=[fault]) as (app, pilot):
        main = _main(app)
        assert main.pane.states["vox-eu"].phase == "failed"
        main.pane.focus()
        main.pane.select_account("vox-eu")
        await pilot.press("e")
        assert isinstance(app.screen, AccountErrorScreen)
        await pilot.press("r")
        await settle(app, pilot)
        assert app.screen is main
        # The fault was used up, so the retry succeeds.
        assert main.pane.states["vox-eu"].phase == "synced"
        assert any(i.account == "vox-eu" for i in main.table.view.rows)


async def test_mouse_double_click_on_a_row_opens_it_and_header_click_sorts() -> None:
    async with settled_demo() as (app, pilot):
        main = _main(app)
        table = main.table
        # Row 0 of the data is below the border and the header line.
        await pilot.click(InvoiceTable, offset=(5, 3), times=2)
        await pilot.pause()
        assert isinstance(app.screen, InvoiceDetailScreen)
        assert app.screen.invoice == dataclasses.replace(table.view.rows[1],
                                                         lines=app.screen.invoice.lines)
        await pilot.press("escape")
        before = (table.view.sort_key, table.view.sort_reverse)
        await pilot.click(InvoiceTable, offset=(3, 1))  # the "Issued" header
        await pilot.pause()
        assert (table.view.sort_key, table.view.sort_reverse) != before


async def test_detail_lines_keep_their_amounts_on_screen_at_80_columns() -> None:
    async with settled_demo(size=(80, 24)) as (app, pilot):
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen)
        lines = detail.query_one(LinesTable)
        keys = list(lines.columns)
        through_amount = keys[: keys.index("gross") + 1]  # the last amount column
        right_edge = sum(lines.columns[key].get_render_width(lines) for key in through_amount)
        assert right_edge <= lines.scrollable_content_region.width


async def test_detail_says_whether_the_invoice_counts_toward_billed() -> None:
    async with settled_demo() as (app, pilot):
        rows = list(_main(app).table.view.rows)

        def first(provider: str, status: str) -> Any:
            return next(i for i in rows if (i.provider, i.status) == (provider, status))

        cases = [
            (first("voximplant", "numbered"), "Billed  yes", "issued; prepaid"),
            (first("voximplant", "new"), "Billed  yes", "issued; prepaid"),
            (first("voximplant", "cancelled"), "Billed  no — cancelled", "cancelled"),
            (first("unleash", "paid"), "Billed  yes", "paid"),
            (first("unleash", "estimate"), "Billed  no — an estimate", "ESTIMATE"),
            (first("unleash", "upcoming"), "Billed  no — the next invoice",
             "Next invoice  status “upcoming”"),
        ]
        for invoice, billed_row, status_words in cases:
            await app.push_screen(InvoiceDetailScreen(invoice, None))
            await pilot.pause()
            money = " ".join(widget_text(app.screen.query_one("#invoice-money")).split())
            header = widget_text(app.screen.query_one("#invoice-header"))
            assert " ".join(billed_row.split()) in money, (invoice.status, money)
            assert status_words in header, (invoice.status, header)
            app.pop_screen()
            await pilot.pause()
