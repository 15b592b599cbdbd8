"""Bulk PDFs (`invoice-tui pdfs`, the TUI's `D`) over real HTTP to the emulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import stat
from pathlib import Path

import pytest
from store_helpers import new_store

from invoice_tui import cli
from invoice_tui.config import Config, Settings, config_path
from invoice_tui.demo import DemoServer, Fault, parse_fault, write_demo_config
from invoice_tui.export import (
    export_file,
    export_target,
    format_for_path,
    home_relative,
    parse_month_bound,
)
from invoice_tui.meaning import ESTIMATED_MEANINGS, meaning
from invoice_tui.model import Invoice
from invoice_tui.pdfs import PdfSummary, download_pdfs, pdf_name, plan_pdfs, save_pdf
from invoice_tui.providers import ProviderError
from invoice_tui.sync import SyncSucceeded, check_pdf, sync_all

TODAY = dt.date(2026, 11, 15)
pytestmark = pytest.mark.demo_server(today=TODAY)
ACCOUNTS = ("vox-main", "unleash-acme")


async def _invoices(config: Config, names: tuple[str, ...] = ACCOUNTS) -> list[Invoice]:
    outcomes = await sync_all(config, names)
    invoices: list[Invoice] = []
    for outcome in outcomes.values():
        assert isinstance(outcome, SyncSucceeded)
        invoices.extend(outcome.invoices)
    return invoices


def _strict(config: Config, **settings: object) -> Config:
    """The config with no retries (a 500 is final at once) and these settings."""
    return dataclasses.replace(config, settings=Settings(max_retries=0, **settings))  # type: ignore[arg-type]


def _emulator_id(invoice: Invoice) -> str:
    """What the emulator calls the invoice: Voximplant's id, the end of Unleash's link."""
    return invoice.id.rsplit("/", 1)[-1]


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


async def test_every_pdf_lands_in_its_account_folder(demo: Config, tmp_path: Path) -> None:
    invoices = await _invoices(demo)
    seen: list[int] = []
    summary = await download_pdfs(demo, invoices, tmp_path / "out",
                                  on_progress=lambda s: seen.append(s.done))
    without = [i for i in invoices if meaning(i) in ESTIMATED_MEANINGS or
               (i.provider == "unleash" and not i.pdf_url)]
    assert without, "the demo has estimates and an upcoming invoice"
    assert (summary.downloaded, summary.already, summary.without_pdf, summary.failed) == (
        len(invoices) - len(without), 0, len(without), 0)
    assert seen[-1] == len(invoices) == summary.total and seen == sorted(seen)
    files = _files(tmp_path / "out")
    assert len(files) == summary.downloaded and sorted(map(str, summary.saved)) == sorted(
        str(tmp_path / "out" / f) for f in files)
    vox = next(i for i in invoices if i.account == "vox-main" and i.issued is not None)
    assert vox.number and vox.issued is not None
    name = f"vox-main/{vox.issued:%Y-%m}-{vox.number}.pdf"
    assert name in files
    unleash = next(i for i in invoices if i.account == "unleash-acme" and i.pdf_url)
    assert f"unleash-acme/{pdf_name(unleash)}.pdf" in files
    assert pdf_name(unleash).endswith(unleash.label.replace(" ", "_"))  # type: ignore[union-attr]
    for name in files:
        path = tmp_path / "out" / name
        assert path.read_bytes().startswith(b"%PDF-")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert summary.line() == (f"downloaded {summary.downloaded}, skipped 0 already there, "
                              f"{len(without)} without a PDF, 0 failed")


async def test_a_second_run_leaves_same_sized_files_untouched(
        demo: Config, tmp_path: Path) -> None:
    invoices = await _invoices(demo, ("vox-main",))
    first = await download_pdfs(demo, invoices, tmp_path)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in first.saved}
    changed = first.saved[0]
    changed.write_bytes(b"%PDF-1.4 an older, shorter copy")
    again = await download_pdfs(demo, invoices, tmp_path)
    assert (again.downloaded, again.already, again.failed) == (1, first.downloaded - 1, 0)
    assert again.saved == [changed]  # another size: replaced, atomically
    assert changed.read_bytes() != b"%PDF-1.4 an older, shorter copy"
    for path, identity in before.items():
        if path != changed:
            assert (path.stat().st_ino, path.stat().st_mtime_ns) == identity


async def test_a_symlink_at_the_name_is_refused_never_followed(
        demo: Config, tmp_path: Path) -> None:
    invoices = await _invoices(demo, ("vox-main",))
    invoice = next(i for i in invoices if i.issued is not None)
    out = tmp_path / "out"
    (out / "vox-main").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "vox-main" / f"{pdf_name(invoice)}.pdf").symlink_to(victim)
    summary = await download_pdfs(demo, [invoice], out)
    assert summary.downloaded == 0 and victim.read_text() == "precious"
    assert [str(f) for f in summary.failures] == [
        f"vox-main: {invoice.number}: could not save {out / 'vox-main' / pdf_name(invoice)}.pdf "
        "(a symbolic link is in the way; not replacing it) — check the output folder and its "
        "permissions"]


async def test_a_hostile_server_fails_one_invoice_each_and_the_rest_download(
        demo: Config, server: DemoServer, tmp_path: Path) -> None:
    config = _strict(demo, max_response_mb=1)
    invoices = [i for i in await _invoices(config) if i.issued and i.issued.year == 2026
                and (i.provider == "voximplant" or i.pdf_url)]
    vox = [i for i in invoices if i.provider == "voximplant"]
    unleash = [i for i in invoices if i.provider == "unleash"]
    broken, huge, html, gone = vox[0], vox[1], unleash[0], unleash[1]
    server.add_fault(Fault("http_status", status=500, invoice=_emulator_id(broken), times=-1))
    server.add_fault(Fault("huge", size_mb=3, invoice=_emulator_id(huge), times=-1))
    server.add_fault(Fault("html", invoice=_emulator_id(html), times=-1))
    server.add_fault(Fault("http_status", status=503, invoice=_emulator_id(gone), times=-1))
    summary = await download_pdfs(config, invoices, tmp_path / "out")
    lines = sorted(str(f) for f in summary.failures)
    assert lines == sorted([
        f"vox-main: {broken.number}: gave up after 1 attempt: Voximplant server error "
        "(HTTP 500) — the provider is having trouble; try again later",
        f"vox-main: {huge.number}: Voximplant response larger than 1 MB — raise [settings] "
        "max_response_mb if this account really has that much data, else check base_url",
        f"unleash-acme: {html.label}: the server sent an HTML page instead of the PDF of "
        f"{html.label} — a proxy or login page may be in the way; try again later, or open the "
        "invoice in a browser",
        f"unleash-acme: {gone.label}: gave up after 1 attempt: Unleash server error (HTTP 503)"
        " — the provider is having trouble; try again later",
    ]), lines
    assert summary.downloaded == len(invoices) - 4
    names = set(_files(tmp_path / "out"))
    for invoice in (broken, huge, html, gone):
        assert f"{invoice.account}/{pdf_name(invoice)}.pdf" not in names
    assert not [n for n in names if not n.endswith(".pdf")]  # no temp file left behind


async def test_an_account_that_cannot_start_fails_its_invoices_only(
        demo: Config, tmp_path: Path) -> None:
    invoices = await _invoices(demo)
    vox = next(a for a in demo.accounts if a.name == "vox-main")
    (Path(vox.options["credentials"])).unlink()  # the key file is gone
    summary = await download_pdfs(demo, invoices, tmp_path)
    failed = {f.account for f in summary.failures}
    assert failed == {"vox-main"}
    assert summary.failed == sum(1 for i in invoices if i.account == "vox-main")
    assert summary.downloaded > 0 and all(p.parent.name == "unleash-acme" for p in summary.saved)


def _invoice(number: str | None, label: str | None = None, account: str = "acme",
             issued: dt.date | None = dt.date(2026, 3, 1), invoice_id: str = "1") -> Invoice:
    return Invoice(account=account, provider="voximplant", id=invoice_id, currency="USD",
                   status="paid", number=number, label=label, issued=issued)


def test_names_are_safe_and_unique_within_a_run() -> None:
    planned = plan_pdfs([
        _invoice("../../etc/passwd", invoice_id="1"),
        _invoice("\x1b[31mINV\x1b[0m/7", invoice_id="2"),
        _invoice("INV-1", invoice_id="3"),
        _invoice("inv-1", invoice_id="4"),  # same name but for case: a clash on macOS
        _invoice("INV-1", invoice_id="5"),
        _invoice(None, label="März 2026", invoice_id="6"),
        _invoice(None, issued=None, invoice_id="7"),
        _invoice("..", account="../x", invoice_id="8"),
        _invoice("A", account="a/b", invoice_id="9"),
        _invoice("A", account="a_b", invoice_id="10"),
    ])
    names = {invoice.id: path.as_posix() for invoice, path in planned}
    assert names == {
        "1": "acme/2026-03-etc_passwd.pdf",
        "2": "acme/2026-03-INV_7.pdf",
        "3": "acme/2026-03-INV-1.pdf",
        "4": "acme/2026-03-inv-1-2.pdf",
        "5": "acme/2026-03-INV-1-3.pdf",
        "6": "acme/2026-03-M_rz_2026.pdf",
        "7": "acme/undated-7.pdf",
        "8": "x/2026-03-invoice.pdf",
        "9": "a_b/2026-03-A.pdf",
        "10": "a_b-2/2026-03-A.pdf",
    }
    # The same invoices in another order get the same names (a rerun finds its files).
    again = plan_pdfs(reversed([invoice for invoice, _ in planned]))
    assert {i.id: p.as_posix() for i, p in again} == names


def test_save_pdf_compares_sizes_and_refuses_other_kinds(tmp_path: Path) -> None:
    target = tmp_path / "a.pdf"
    assert save_pdf(target, b"%PDF-1")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not save_pdf(target, b"%PDF-2")  # the same size: untouched
    assert target.read_bytes() == b"%PDF-1"
    assert save_pdf(target, b"%PDF-1.7")
    assert target.read_bytes() == b"%PDF-1.7"
    (tmp_path / "dir.pdf").mkdir()
    with pytest.raises(OSError, match="a directory is in the way"):
        save_pdf(tmp_path / "dir.pdf", b"%PDF-1")


# --- the command --------------------------------------------------------------------------


@pytest.fixture
def configured(server: DemoServer) -> DemoServer:
    """The user's config (``$INVOICE_TUI_CONFIG``, a temp path) points at the emulator."""
    write_demo_config(server, config_path())
    return server


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["pdfs", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "eyJ" not in out + err
    return code, out, err


def test_pdfs_command_downloads_and_summarises(
        configured: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pdfs"
    code, stdout, stderr = _run(capsys, "--account", "vox-main", "--since", "2026",
                                "--output", str(out))
    files = _files(out)
    assert code == 0 and stderr == ""  # piped: no progress bar
    assert files and all(f.startswith("vox-main/2026-") for f in files)
    assert stdout == (f"downloaded {len(files)}, skipped 0 already there, 0 without a PDF, "
                      f"0 failed — in {out}\n")
    code, stdout, _ = _run(capsys, "--account", "vox-main", "--since", "2026-01",
                           "--until", "2026", "--output", str(out), "--offline")
    assert code == 0 and stdout.startswith(f"downloaded 0, skipped {len(files)} already there")


def test_pdfs_command_fails_one_line_per_invoice_with_exit_1(
        configured: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configured.add_fault(Fault("html", invoice="in_unleash-acme_202609", times=-1))
    code, stdout, stderr = _run(capsys, "--account", "unleash-acme", "--since", "2026-09",
                                "--until", "2026-10", "--output", str(tmp_path))
    assert code == 1
    assert stderr == ("invoice-tui: unleash-acme: September 2026: the server sent an HTML page "
                      "instead of the PDF of September 2026 — a proxy or login page may be in "
                      "the way; try again later, or open the invoice in a browser\n")
    assert stdout.startswith("downloaded ") and stdout.endswith(f"1 failed — in {tmp_path}\n")
    assert "unleash-acme/2026-10-September_2026.pdf" not in _files(tmp_path)
    assert "unleash-acme/2026-09-August_2026.pdf" in _files(tmp_path)


def test_pdfs_command_usage_errors_exit_2(
        configured: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    assert _run(capsys, "--output", str(a_file))[:2] == (2, "")
    assert _run(capsys, "--account", "nobody")[0] == 2
    code, _, stderr = _run(capsys, "--since", "2026-05", "--until", "2026-01")
    assert code == 2 and "swap them" in stderr
    code, _, stderr = _run(capsys, "--since", "26")
    assert code == 2 and "is not a month or a year" in stderr
    assert configured.request_log == []  # nothing fetched for a usage error


def test_a_failed_sync_is_a_failure_line_and_the_others_download(
        configured: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configured.add_fault(Fault("vox_error", account="vox-main", code=100, times=-1))
    code, stdout, stderr = _run(capsys, "--account", "vox-main", "--account", "vox-eu",
                                "--since", "2026-10", "--output", str(tmp_path))
    assert code == 1 and stderr.startswith("invoice-tui: vox-main: ")
    assert _files(tmp_path) and all(f.startswith("vox-eu/") for f in _files(tmp_path))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with cli._ProgressBar(stream) as bar:
            bar.show(PdfSummary(total=4, downloaded=1))
            bar.show(PdfSummary(total=4, downloaded=2, already=1, without_pdf=1))
    assert pipe.getvalue() == ""
    drawn = terminal.getvalue()
    assert "PDFs [" in drawn and "1/4" in drawn and drawn.rstrip().endswith("\x1b[K")
    assert "4/4" in drawn  # the last one always draws, however soon after the previous
    assert os.linesep not in drawn  # redrawn in place, then cleared


async def test_an_invoice_scoped_fault_hits_that_pdf_only(
        demo: Config, server: DemoServer, tmp_path: Path) -> None:
    server.add_fault(parse_fault("http_status:500:times=-1:invoice=10000020"))
    server.add_fault(parse_fault("huge:2:times=-1:invoice=in_unleash-acme_202610"))
    invoices = await _invoices(_strict(demo, max_response_mb=1))  # the syncs are not hit
    wanted = [i for i in invoices if _emulator_id(i) in ("10000020", "10000021",
                                                         "in_unleash-acme_202610")]
    assert len(wanted) == 3, [i.id for i in invoices][:3]
    summary = await download_pdfs(_strict(demo, max_response_mb=1), wanted, tmp_path / "out")
    assert summary.downloaded == 1 and summary.failed == 2
    assert {f.error.reason for f in summary.failures} == {
        "gave up after 1 attempt: Voximplant server error (HTTP 500)",
        "Unleash response larger than 1 MB"}
    assert Fault("huge", size_mb=2, times=-1, invoice="in_unleash-acme_202610") in [
        fault for fault, _ in server.pending_faults()]


# --- the pieces beside it: the PDF check, export paths, lines for an export ---------------


@pytest.mark.parametrize(("body", "said"), [
    (b"", "an empty answer"),
    (b"<!DOCTYPE html><html><title>Sign in</title>", "an HTML page"),
    (b"  <html>", "an HTML page"),
    (b'{"error": {"code": 2}}', "JSON"),
    (b"PK\x03\x04 a zip", "10 bytes that are not a PDF"),
])
def test_a_body_that_is_no_pdf_is_refused(body: bytes, said: str) -> None:
    invoice = _invoice("INV-9")
    with pytest.raises(ProviderError) as refused:
        check_pdf(body, invoice)
    assert refused.value.reason == f"the server sent {said} instead of the PDF of INV-9"
    check_pdf(b"%PDF-1.7\n", invoice)
    check_pdf(b"\xef\xbb\xbf junk a reader skips %PDF-1.4", invoice)


def test_since_and_until_take_a_year() -> None:
    assert parse_month_bound("2026") == (2026, 1)
    assert parse_month_bound("2026", end=True) == (2026, 12)
    assert parse_month_bound("2026-03", end=True) == (2026, 3)
    with pytest.raises(ValueError, match="use YYYY-MM or YYYY"):
        parse_month_bound("26")


def test_export_targets(tmp_path: Path, isolated_home: Path) -> None:
    assert format_for_path(Path("a.CSV")) == "csv" and format_for_path(Path("b.json")) == "json"
    assert export_target("x.json", tmp_path) == (tmp_path / "x.json", None)
    assert export_target("~/y.csv", tmp_path) == (isolated_home / "y.csv", None)
    assert export_target("  ", tmp_path) == (None, "type a file name ending in .csv or .json")
    assert export_target("z.xlsx", tmp_path)[1] == (
        "z.xlsx does not end in .csv or .json — name the format by the file's extension")
    (tmp_path / "d.csv").mkdir()
    assert export_target(str(tmp_path / "d.csv"), tmp_path)[1] == (
        f"{tmp_path / 'd.csv'} is a directory — give a file name inside it")
    assert home_relative(isolated_home / "Downloads" / "a.csv") == "~/Downloads/a.csv"


async def test_an_export_reads_the_visible_invoices_from_the_store(
        demo: Config, tmp_path: Path) -> None:
    store = new_store(tmp_path)
    outcomes = await sync_all(demo, ACCOUNTS, store=store)
    full = [i for o in outcomes.values() if isinstance(o, SyncSucceeded) for i in o.invoices]
    keys = [(i.account, i.id) for i in reversed(full)]
    accounts = {a.name: a for a in demo.accounts}
    assert store.invoices_of(accounts, keys, lines=True) == list(reversed(full))
    headers = store.invoices_of(accounts, keys)
    assert headers == [dataclasses.replace(i, lines=()) for i in reversed(full)]
    gone = [("not-configured", "1"), ("vox-main", "no-such-id")]
    assert store.invoices_of(accounts, [*gone, keys[0]]) == headers[:1]
    export_file(tmp_path / "out.json", store.invoices_of(accounts, keys[:3], lines=True))
    assert [d["lines"] != [] for d in json.loads((tmp_path / "out.json").read_text())] == [
        bool(i.lines) for i in reversed(full)][:3]
    store.close()


def test_export_accepts_a_year_too(
        configured: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "--since", "2026", "--until", "2026"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and {d["issued"][:4] for d in data} == {"2026"}
