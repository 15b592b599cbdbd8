"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hostile import (
    HostileServer,  # noqa: F401 - the fixture's type, used by every section
    by_endpoint,
    json_reply,
    reply,
    unleash_account,
)

import invoice_tui
from invoice_tui import cli
from invoice_tui.cache import InvoiceCache
from invoice_tui.config import AccountConfig, Settings, save_config
from invoice_tui.fs import write_atomic
from invoice_tui.model import Invoice
from invoice_tui.providers.base import ProviderError
from invoice_tui.sync import SyncSucceeded, download_pdf, pdf_file_stem, sync_account

# --- 1. escape sequences in the currency field ---------------------------------------


# --- 2. server text in toasts, reasons, hints and stderr -----------------------------


# --- 3. one sanitizer: escapes, bidi, zero-width ------------------------------------


# --- 4. response size: big, endless, gzip bomb -----------------------------------------


# --- 5. timeout is the whole request's deadline --------------------------------------


# --- 6. Voximplant paging that never ends; absurd numbers ------------------------------


# --- 7. 3xx replies are errors; a failed fetch keeps the cache ------------------------


# --- 8. CSV formula injection, raw escapes in exports ----------------------------------

_FORMULAS = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3",
             "\t=1+1", "\r@A1", " =2+2"]
_TERMINAL_ESCAPES = "\x1b]0;PWNED\x1b\\ \x1b[2J \x1b]52;c;ZXZpbA==\x07 \x9b31m \x1bc"
# Nothing of this kind may reach an export raw: C0 (but the CSV's own line ends), DEL,
# C1, bidi controls, zero-width characters.
_RAW_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f"
                          "\u2028-\u202e\u2060\u2066-\u2069\ufeff]")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _hostile_unleash_body() -> dict[str, object]:
    """One Unleash invoice whose every text field is hostile, plus a real negative amount."""
    lines = [{"description": text, "quantity": 1, "totalAmount": 1, "currency": "USD",
              "lookupKey": text} for text in _FORMULAS]
    lines.append({"description": f"Calls{_TERMINAL_ESCAPES}\u202egnp.exe\u200b\x9b2J",
                  "quantity": 1, "totalAmount": 1, "currency": "USD", "lookupKey": "calls"})
    lines.append({"description": "Credit", "quantity": 1, "totalAmount": -12.5,
                  "currency": "USD", "lookupKey": "credit"})
    return {"invoices": [{
        "invoiceDate": "2026-10-01T00:00:00.000Z", "status": "=1+1", "totalAmount": -5.5,
        "subtotal": -5.5, "currency": "USD", "taxAmount": 0, "taxPercentage": 0,
        "monthText": f"@SUM(A1){_TERMINAL_ESCAPES}", "mainLines": lines, "usageLines": [],
    }]}


def _export_from(hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 *args: str) -> tuple[int, str, str]:
    """``invoice-tui export ARGS`` on a config whose one account is the hostile server."""
    config = tmp_path / "config.toml"
    save_config(config, {"accounts": [dict(unleash_account(hostile).options)]})
    code = cli.main(["export", "--config", str(config), "--cache-dir", str(tmp_path / "cache"),
                     *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_export_neutralizes_formulas_and_strips_escapes(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_hostile_unleash_body())})
    code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "csv", "--lines")
    assert code == 0, err
    assert not _RAW_CONTROL.search(out)
    header, *rows = list(csv.reader(io.StringIO(out)))
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert len(cells) == len(_FORMULAS) + 2
    for cell in cells:
        for name, value in cell.items():
            # Every cell is either inert text or a plain number: nothing a spreadsheet runs.
            first = value.lstrip(" ")[:1]
            assert first not in ("=", "+", "@", "-") or _PLAIN_NUMBER.fullmatch(value), \
                (name, value)
    descriptions = [cell["description"] for cell in cells]
    for formula, shown in zip(_FORMULAS, descriptions, strict=False):
        assert shown.startswith("'") and shown.endswith(formula.strip()), (formula, shown)
    assert cells[0]["invoice_status"] == "'=1+1"
    assert cells[0]["invoice_label"].startswith("'@SUM(A1)")
    assert "PWNED" not in out and "gnp.exe" in out
    # Our own exact amounts stay numbers, negative ones included.
    assert cells[-1]["description"] == "Credit" and cells[-1]["amount"] == "-12.5"
    assert cells[0]["invoice_total"] == "-5.5"


def test_json_export_escapes_c1_bidi_and_zero_width(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    description = "a\x9b2Jb\u202egnp.exe\u200bc\u2066d\ufeff\x7f"
    body = _hostile_unleash_body()
    body["invoices"][0]["mainLines"][0]["description"] = description  # type: ignore[index]
    hostile.respond = by_endpoint({"list": json_reply(body)})
    code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "json")
    assert code == 0, err
    assert not _RAW_CONTROL.search(out)
    for escape in ("\\u009b", "\\u202e", "\\u200b", "\\u2066", "\\ufeff", "\\u007f"):
        assert escape in out
    # The text itself is kept exactly: a JSON reader gets what the provider sent.
    (invoice,) = json.loads(out)
    assert invoice["lines"][0]["description"] == description
    assert invoice["lines"][-1]["amount"] == "-12.5"


# --- 9. secrets in the crash screen ------------------------------------------------------


# --- 10. secrets readable by others --------------------------------------------------


# --- 11. stale temp files of killed saves -------------------------------------------------

# A save that takes long enough to be killed in the middle: 64 KB every 10 ms.
_SLOW_SAVE = """
import sys, time
from pathlib import Path
from invoice_tui.fs import write_atomic

def chunks():
    for _ in range(100_000):
        yield b"x" * 65536
        time.sleep(0.01)

write_atomic(Path(sys.argv[1]), chunks())
"""


def _start_slow_save(target: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A real process in the middle of ``write_atomic(target, …)``, and its temp file."""
    env = {**os.environ, "PYTHONPATH": str(Path(invoice_tui.__file__).parent.parent)}
    process = subprocess.Popen([sys.executable, "-c", _SLOW_SAVE, str(target)], env=env)
    pattern = f".{target.name}.{process.pid}.*.tmp"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [p for p in target.parent.glob(pattern) if p.stat().st_size > 0]
        if found:
            return process, found[0]
        assert process.poll() is None, "the slow save ended early"
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError("the slow save never started writing")


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)  # nothing of ours runs: no cleanup possible
    process.wait(timeout=10)  # reaped, so its pid is really gone


def test_a_save_removes_what_killed_saves_left_but_not_a_live_writers_file(
        tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    started: list[subprocess.Popen[bytes]] = []
    try:
        live, live_temp = _start_slow_save(target)  # another instance, saving right now
        started.append(live)
        leftovers = []
        for _ in range(3):  # each starts while the others live: none cleans up another
            process, temp = _start_slow_save(target)
            started.append(process)
            leftovers.append(temp)
        for process in started[1:]:
            _kill(process)
        assert all(temp.exists() for temp in leftovers)
        write_atomic(target, b"saved\n")
        assert target.read_bytes() == b"saved\n"
        assert not any(temp.exists() for temp in leftovers)
        assert live_temp.exists()  # its writer is alive: never touched
        size = live_temp.stat().st_size
        time.sleep(0.3)
        assert live_temp.stat().st_size > size  # and still being written
    finally:
        for process in started:
            _kill(process)
    write_atomic(target, b"again\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_cache_load_sweeps_the_cache_dir(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    # A killed save of an account no longer configured: only a dir-wide sweep finds it.
    process, orphan = _start_slow_save(cache_dir / "gone-0123456789abcdef.json")
    _kill(process)
    # Names an older release wrote (no pid): removed once an hour old, not before.
    old = cache_dir / ".old-0123456789abcdef.json.abc_1234.tmp"
    fresh = cache_dir / ".new-0123456789abcdef.json.abc_5678.tmp"
    for path in (old, fresh):
        path.write_bytes(b"x" * 1000)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    unrelated = cache_dir / ".notes.tmp"  # not a name we make
    unrelated.write_bytes(b"keep")
    cache = InvoiceCache(cache_dir)
    account = AccountConfig("acme", "unleash", {"base_url": "http://127.0.0.1:1"})
    assert cache.load(account) is None  # never synced; the sweep ran anyway
    assert not orphan.exists() and not old.exists()
    assert fresh.exists() and unrelated.exists()
    assert cache.warnings == []


# --- 12. export --output onto special files ------------------------------------------

_ONE_INVOICE = {"invoices": [{
    "invoiceDate": "2026-10-01T00:00:00.000Z", "status": "paid", "totalAmount": 10,
    "subtotal": 10, "currency": "USD", "taxAmount": 0, "monthText": "September 2026",
    "mainLines": [], "usageLines": []}]}


def test_output_onto_a_fifo_streams_into_it(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    fifo = tmp_path / "export.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as reader:  # blocks until the export opens it for writing
            received.append(reader.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code, out, err = _export_from(hostile, tmp_path, capsys, "--output", str(fifo))
    reader.join(timeout=10)
    assert (code, out, err) == (0, "", "")
    assert json.loads(received[0])[0]["label"] == "September 2026"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a file in its place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "config.toml", "export.fifo"]


def test_output_onto_a_character_device_and_a_symlink_to_it(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    link = tmp_path / "sink"
    link.symlink_to(os.devnull)
    for target in (os.devnull, str(link)):
        code, out, err = _export_from(hostile, tmp_path, capsys, "--output", target)
        assert (code, out, err) == (0, "", "")
        assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # written to, never replaced
    assert link.is_symlink() and os.readlink(link) == os.devnull
    assert not list(Path(os.devnull).parent.glob(".null.*.tmp"))


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    reports = tmp_path / "reports"
    reports.mkdir()
    target = reports / "2026.csv"
    target.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    dangling = tmp_path / "next.csv"
    dangling.symlink_to(reports / "next-target.csv")
    for path in (link, dangling):
        code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "csv",
                                      "--output", str(path))
        assert (code, out, err) == (0, "", "")
        assert path.is_symlink()  # the link stays a link ...
        assert path.read_text().startswith("account,provider,id")  # ... to the new export
    assert target.read_text().startswith("account,provider,id")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert (reports / "next-target.csv").is_file()


def test_output_refuses_a_directory_or_a_socket_before_fetching(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    monkeypatch.chdir(tmp_path)  # a relative socket name: AF_UNIX paths are short
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind("s.sock")
        link = tmp_path / "to-dir"
        link.symlink_to(tmp_path)
        cases = {str(tmp_path): "is a directory — give a file name inside it",
                 str(link): "is a directory — give a file name inside it",
                 "s.sock": "is a socket — give a regular file, a FIFO, a character device or -"}
        for target, reason in cases.items():
            code, out, err = _export_from(hostile, tmp_path, capsys, "--output", target)
            assert (code, out) == (2, "")
            assert err == f"invoice-tui: --output {target} {reason}\n"
        assert stat.S_ISSOCK(os.lstat("s.sock").st_mode) and link.is_symlink()
    assert hostile.requests == []  # refused before any fetch


def test_output_dash_is_stdout(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    monkeypatch.chdir(tmp_path)
    code, out, err = _export_from(hostile, tmp_path, capsys, "--output", "-")
    assert (code, err) == (0, "")
    assert json.loads(out)[0]["label"] == "September 2026"
    assert not (tmp_path / "-").exists()


# --- 13. config reading limits, unknown account keys, BOM ------------------------------


# --- 14. PDF save: planted symlinks, races, never the cwd ---------------------------------

_PDF = b"%PDF-1.4\n% hostile test\n%%EOF\n"


async def _pdf_invoice(hostile: HostileServer) -> tuple[AccountConfig, Invoice]:
    """An Unleash account on the hostile server and its one invoice, whose PDF it serves."""
    body = {"invoices": [{**_ONE_INVOICE["invoices"][0],
                          "invoicePDF": f"{hostile.url}/files/in_1.pdf"}]}
    hostile.respond = by_endpoint({"list": json_reply(body),
                                   "in_1.pdf": reply(_PDF, content_type="application/pdf")})
    account = unleash_account(hostile)
    outcome = await sync_account(account, Settings())
    assert isinstance(outcome, SyncSucceeded)
    return account, outcome.invoices[0]


async def test_pdf_save_never_follows_a_planted_symlink(
        hostile: HostileServer, tmp_path: Path) -> None:
    account, invoice = await _pdf_invoice(hostile)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    stem = pdf_file_stem(invoice)
    assert stem == "unleash-hostile-September_2026"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (downloads / f"{stem}.pdf").symlink_to(victim)  # planted at the name we will pick
    wish = tmp_path / "created-through-a-dangling-link"
    (downloads / f"{stem}-2.pdf").symlink_to(wish)
    saved = await download_pdf(account, Settings(downloads=str(downloads)), invoice)
    assert saved == downloads / f"{stem}-3.pdf"
    assert saved.read_bytes() == _PDF and not saved.is_symlink()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert victim.read_text() == "precious" and not wish.exists()
    assert (downloads / f"{stem}.pdf").is_symlink() and (downloads / f"{stem}-2.pdf").is_symlink()


async def test_pdf_saves_at_once_get_their_own_files(
        hostile: HostileServer, tmp_path: Path) -> None:
    account, invoice = await _pdf_invoice(hostile)
    settings = Settings(downloads=str(tmp_path))
    saved = await asyncio.gather(*(download_pdf(account, settings, invoice) for _ in range(4)))
    stem = pdf_file_stem(invoice)
    assert sorted(p.name for p in saved) == sorted(
        [f"{stem}.pdf", f"{stem}-2.pdf", f"{stem}-3.pdf", f"{stem}-4.pdf"])
    assert all(p.read_bytes() == _PDF for p in saved)


async def test_pdf_goes_to_the_downloads_folder_created_if_missing_never_the_cwd(
        hostile: HostileServer, tmp_path: Path, isolated_home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    account, invoice = await _pdf_invoice(hostile)
    cwd = tmp_path / "a-git-checkout"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    configured = tmp_path / "no" / "such" / "folder"
    saved = await download_pdf(account, Settings(downloads=str(configured)), invoice)
    assert saved.parent == configured and saved.read_bytes() == _PDF
    # No [settings] downloads and no ~/Downloads yet: the platform's folder, made now.
    default = Settings().downloads_dir()
    assert default.is_absolute() and not default.exists()
    assert default.is_relative_to(isolated_home)
    saved = await download_pdf(account, Settings(), invoice)
    assert saved.parent == default and saved.read_bytes() == _PDF
    assert list(cwd.iterdir()) == []
    with pytest.raises(ProviderError) as relative:
        await download_pdf(account, Settings(downloads="pdfs"), invoice)
    assert str(relative.value) == ("the downloads folder pdfs is not an absolute path — set "
                                   '[settings] downloads to a full path, e.g. "~/Downloads"')
    assert list(cwd.iterdir()) == []


async def test_pdf_save_failures_are_one_line(hostile: HostileServer, tmp_path: Path) -> None:
    account, invoice = await _pdf_invoice(hostile)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ProviderError) as failed:
        await download_pdf(account, Settings(downloads=str(blocker / "pdfs")), invoice)
    assert str(failed.value) == (f"could not save the PDF in {blocker / 'pdfs'} (Not a "
                                 "directory) — check the downloads folder ([settings] downloads)"
                                 " and its permissions")
    hostile.respond = by_endpoint({"in_1.pdf": reply(b"gone", status=404)})
    with pytest.raises(ProviderError, match="answered HTTP 404"):
        await download_pdf(account, Settings(downloads=str(tmp_path)), invoice)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# A write that fails half way (the file-size limit cuts it after 4 KB), in its own process.
_FAILING_SAVE = """
import errno, resource, signal, sys
from pathlib import Path
from invoice_tui.fs import save_new_file

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    save_new_file(Path(sys.argv[1]), "inv", ".pdf", b"%PDF" + b"x" * 100_000)
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""


def test_a_pdf_write_that_fails_leaves_no_half_file(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(invoice_tui.__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-c", _FAILING_SAVE, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "EFBIG\n", "")
    assert list(tmp_path.iterdir()) == []


# --- 15. redaction of any form of a secret; weak keys ---------------------------------
