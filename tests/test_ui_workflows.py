"""Pilot tests of `D` (bulk PDFs), `ctrl+e` (export) and `y`/`Y` (yank), over real HTTP."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ui_helpers import TODAY, main_screen, run_palette_command, settle, settled_demo

from invoice_tui.clip import invoice_row, line_row, shortened
from invoice_tui.demo import Fault
from invoice_tui.ui.screens.detail import InvoiceDetailScreen
from invoice_tui.ui.screens.export_prompt import ExportScreen
from invoice_tui.ui.screens.help import help_sections
from invoice_tui.ui.screens.line_detail import LineDetailScreen
from invoice_tui.ui.screens.pdfs import PdfDownloadScreen
from invoice_tui.view import COLUMNS, Period


def _toasts(app: object) -> list[tuple[str, str]]:
    return [(n.severity, n.message) for n in app._notifications]  # type: ignore[attr-defined]


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- yank ------------------------------------------------------------------------------


async def test_y_copies_the_number_and_Y_the_row() -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        main.show_account("vox-main")
        await pilot.pause()
        invoice = main.table.cursor_invoice
        assert invoice is not None and invoice.number
        await pilot.press("y")
        assert app.clipboard == invoice.number
        assert ("information", f"Copied {invoice.number}") in _toasts(app)
        await pilot.press("Y")
        cells = app.clipboard.split("\t")
        assert app.clipboard == invoice_row(invoice) and len(cells) == len(COLUMNS)
        assert cells[:3] == [invoice.issued.isoformat(), "vox-main", invoice.number]  # type: ignore[union-attr]
        assert ("information", f"Copied the row of {invoice.number}") in _toasts(app)


async def test_y_copies_the_id_of_an_invoice_without_a_number() -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        main.show_account("unleash-acme")
        await pilot.press("j")  # the estimate's id has no port in it; take the next one
        invoice = main.table.cursor_invoice
        assert invoice is not None and invoice.number is None
        await pilot.press("y")
        assert app.clipboard == invoice.id
        await run_palette_command(app, pilot, "Copy: invoice row")
        assert app.clipboard == invoice_row(invoice)


async def test_y_in_the_detail_copies_the_number_and_in_a_line_the_line() -> None:
    async with settled_demo() as (app, pilot):
        main_screen(app).show_account("vox-eu")
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen)
        await pilot.press("y")
        assert app.clipboard == detail.invoice.number
        await pilot.press("enter")
        line_screen = app.screen
        assert isinstance(line_screen, LineDetailScreen)
        await pilot.press("y")
        line = line_screen.line
        assert app.clipboard == line_row(detail.invoice, line)
        kind, description, *_, currency = app.clipboard.split("\t")
        assert (kind, description, currency) == (line.kind, line.description, line.currency)
        toast = f"Copied the line “{shortened(line.description, 30)}”"
        assert ("information", toast) in _toasts(app)


# --- D: every PDF of the visible invoices -----------------------------------------------


async def test_D_downloads_the_visible_invoices_pdfs(isolated_home: Path) -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        main.show_account("vox-main")
        main.set_period(Period("year", 2026))
        await pilot.pause()
        visible = list(main.table.view.rows)
        assert main.table.view.visible_keys() == [(i.account, i.id) for i in visible]
        assert 0 < len(visible) < main.table.view.total_count
        await pilot.press("D")  # (the modal may be gone already: a dozen PDFs on loopback)
        await settle(app, pilot)
        assert app.screen is main
        downloads = isolated_home / "Downloads"
        files = _files(downloads)
        assert files == sorted(f"vox-main/{i.issued:%Y-%m}-{i.number}.pdf" for i in visible)
        assert (f"downloaded {len(visible)}, skipped 0 already there, 0 without a PDF, "
                f"0 failed — in {downloads}") in [m for _, m in _toasts(app)]
        # Again: every file is there with its size already.
        await pilot.press("D")
        await settle(app, pilot)
        assert _toasts(app)[-1] == ("information", (
            f"downloaded 0, skipped {len(visible)} already there, 0 without a PDF, 0 failed"
            f" — in {downloads}"))


async def test_D_reports_each_failure_and_esc_stops_it(isolated_home: Path) -> None:
    slow = Fault("slow", seconds=30, invoice="in_unleash-acme_202610", times=-1)
    broken = Fault("html", invoice="in_unleash-acme_202609", times=-1)
    async with settled_demo(faults=(slow, broken)) as (app, pilot):
        main = main_screen(app)
        main.show_account("unleash-acme")
        main.set_period(Period("year", 2026))
        await pilot.pause()
        await pilot.press("D")
        screen = app.screen
        assert isinstance(screen, PdfDownloadScreen)
        for _ in range(300):  # every PDF but the slow one
            if screen.summary.done == screen.summary.total - 1:
                break
            await pilot.pause(0.02)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is main
        severity, message = _toasts(app)[-1]
        assert severity == "error"
        first, second = message.splitlines()
        assert first.startswith("Stopped: downloaded ")
        assert first.endswith(f"1 failed — in {isolated_home / 'Downloads'}")
        assert second == ("✗ unleash-acme: September 2026: the server sent an HTML page instead "
                          "of the PDF of September 2026 — a proxy or login page may be in the "
                          "way; try again later, or open the invoice in a browser")
        files = _files(isolated_home / "Downloads")
        assert files and "unleash-acme/2026-10-September_2026.pdf" not in files
        assert all(name.endswith(".pdf") for name in files)


# --- ctrl+e: export the visible invoices --------------------------------------------------


async def test_ctrl_e_exports_the_visible_invoices_as_csv_then_json(isolated_home: Path) -> None:
    async with settled_demo() as (app, pilot):
        main = main_screen(app)
        main.show_account("vox-eu")
        main.set_period(Period("year", 2026))
        await pilot.pause()
        visible = list(main.table.view.rows)
        assert main.table.view.visible_keys() == [(i.account, i.id) for i in visible]
        assert 0 < len(visible) < main.table.view.total_count
        await pilot.press("ctrl+e")
        prompt = app.screen
        assert isinstance(prompt, ExportScreen)
        path_input = prompt.query_one("#export-path")
        assert path_input.value == f"~/Downloads/invoices-{TODAY:%Y-%m-%d}.csv"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(app, pilot)
        exported = isolated_home / "Downloads" / f"invoices-{TODAY:%Y-%m-%d}.csv"
        rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
        assert [(r["account"], r["number"]) for r in rows] == [
            (i.account, i.number) for i in visible]
        assert ("information", f"Exported {len(visible)} invoices to "
                f"~/Downloads/invoices-{TODAY:%Y-%m-%d}.csv") in _toasts(app)

        await pilot.press("ctrl+e")
        prompt = app.screen
        assert isinstance(prompt, ExportScreen)
        prompt.query_one("#export-path").value = "eu.json"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(app, pilot)
        data = json.loads((isolated_home / "Downloads" / "eu.json").read_text(encoding="utf-8"))
        assert [d["number"] for d in data] == [i.number for i in visible]
        assert all(d["lines"] for d in data)  # the line items, read from the store


async def test_ctrl_e_says_what_is_wrong_with_a_path_and_stays(isolated_home: Path) -> None:
    async with settled_demo() as (app, pilot):
        await pilot.press("ctrl+e")
        prompt = app.screen
        assert isinstance(prompt, ExportScreen)
        field = prompt.query_one("#export-path")
        error = prompt.query_one("#export-error")
        (isolated_home / "a-file").write_text("")
        for typed, said in (
            ("~/invoices.txt", "✗ invoices.txt does not end in .csv or .json — name the format "
                               "by the file's extension"),
            (str(isolated_home), f"✗ {isolated_home.name} does not end in .csv or .json — name "
                                 "the format by the file's extension"),
            (f"{isolated_home}/a-file/x.json", "✗ ~/a-file/x.json cannot be used (Not a "
                                               "directory) — check the path"),
        ):
            field.value = typed  # type: ignore[attr-defined]
            await pilot.press("enter")
            assert app.screen is prompt
            assert str(error.render()) == said
        await pilot.press("x")  # the error was about the text before
        assert str(error.render()) == ""
        (isolated_home / "taken.csv").mkdir()
        field.value = "~/taken.csv"  # type: ignore[attr-defined]
        await pilot.press("enter")
        assert str(error.render()) == "✗ ~/taken.csv is a directory — give a file name inside it"
        await pilot.press("escape")
        assert app.screen is main_screen(app)
        assert [p for p in isolated_home.rglob("*.csv") if p.is_file()] == []


async def test_a_failed_export_write_is_one_line(isolated_home: Path) -> None:
    full = isolated_home / "full.csv"
    full.symlink_to("/dev/full")  # a device that takes no byte: every write fails
    async with settled_demo() as (app, pilot):
        await pilot.press("ctrl+e")
        app.screen.query_one("#export-path").value = "~/full.csv"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(app, pilot)
        assert _toasts(app)[-1] == (
            "error", "✗ could not write ~/full.csv (No space left on device) — check the path "
                     "and its permissions")


async def test_the_keys_are_in_the_help_and_the_palette() -> None:
    sections = dict(help_sections([]))
    keys = {b.key: b.description for b in sections["Main screen"]}
    assert {k: keys.get(k) for k in ("D", "ctrl+e", "y", "Y")} == {
        "D": "PDFs", "ctrl+e": "Export", "y": "Copy number", "Y": "Copy row"}
    assert "y" in {b.key for b in sections["Invoice detail"]}
    async with settled_demo() as (app, pilot):
        main_screen(app).show_account("vox-main")
        await run_palette_command(app, pilot, "Copy: invoice number")
        assert app.clipboard == main_screen(app).table.cursor_invoice.number
        await run_palette_command(app, pilot, "Export: the visible invoices to a file")
        assert isinstance(app.screen, ExportScreen)


def test_the_notice_after_a_download_that_could_not_start() -> None:
    from invoice_tui.pdfs import PdfSummary
    from invoice_tui.ui.screens.pdfs import PdfRun, pdf_run_notice

    folder = Path("/tmp/x")
    assert pdf_run_notice(PdfRun(PdfSummary(), folder, problem="the store \x1b[2Jis gone")) == (
        "✗ no PDF downloaded: the store is gone", "error")
    assert pdf_run_notice(PdfRun(PdfSummary(), folder, bug="KeyError")) == (
        "✗ could not download the PDFs (internal error: KeyError) — this is a bug in "
        "invoice-tui; please report it", "error")
    assert pdf_run_notice(PdfRun(PdfSummary(total=3, downloaded=1), folder, cancelled=True)) == (
        "Stopped: downloaded 1, skipped 0 already there, 0 without a PDF, 0 failed — in /tmp/x",
        "warning")
