"""Benchmark: `invoice-tui export` against hostile servers, files and configs (issue 6).

Prints a markdown table; asserts nothing. For each hostile mode it starts the
hostile HTTP server of the tests (``tests/hostile.py``) on loopback, writes a
config pointed at it (``[settings] timeout = 5``), runs the real command line
(``python -m invoice_tui export …``) as a child process and measures the child
alone: its exit code, wall time and peak RSS (``os.wait4``), its first stderr
line, and what each mode is about (escape bytes in the output, formula cells in
a CSV, what an ``--output`` target became, where a mistyped base_url sent the
request).

Every child is bounded: killed ``timeout + 30`` s after it started, or as soon
as its RSS passes ``--rss-ceiling-mb`` (so a runaway cannot take the machine
down). HTTP(S)_PROXY points at a loopback sink, so nothing ever leaves the
machine (a request meant for a real provider shows up there as a CONNECT).
The rule of the issue: every mode ends within ``timeout + 5`` s under 150 MB.

Usage: .venv/bin/python benchmarks/bench_hostile.py [--only TEXT]… [--rss-ceiling-mb N]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hostile import (  # noqa: E402
    HOSTILE_TOKEN,
    HostileServer,
    Request,
    Responder,
    by_endpoint,
    drip,
    dynamic,
    endless_chunked,
    form,
    huge,
    json_reply,
    reply,
    vox_invoice,
    vox_page,
)

from invoice_tui.demo.keys import private_key_pem  # noqa: E402

MB = 1024 * 1024
TIMEOUT = 5  # [settings] timeout of every config here
KILL_AFTER = TIMEOUT + 30  # the bench's own bound on a child
RULE_SECONDS = TIMEOUT + 5  # the bound: every mode ends by then …
RULE_MB = 150  # … under this peak RSS
BOMB_BYTES = 2 * 1024 * MB  # what the gzip bomb inflates to
UNSAFE_CHARS = {  # what must never reach a terminal or an export raw
    "ESC": re.compile("\x1b"),
    "C1": re.compile("[\x80-\x9f]"),
    "bidi": re.compile("[\u202a-\u202e\u2066-\u2069]"),
    "zero-width": re.compile("[\u200b-\u200d\u2060\ufeff]"),
}


# --- one run of the command line ------------------------------------------------------


@dataclass
class Outcome:
    """What one child did."""

    exit: str
    seconds: float
    peak_mb: float
    stdout: bytes
    stderr: bytes
    killed: bool = False

    @property
    def first_stderr_line(self) -> str:
        for line in self.stderr.decode("utf-8", "replace").splitlines():
            if line.strip():
                return line
        return ""


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def run_cli(args: list[str], workdir: Path, env: dict[str, str], ceiling_mb: float) -> Outcome:
    """``python -m invoice_tui ARGS`` in ``workdir``; bounded in time and memory."""
    out_path, err_path = workdir / "stdout.bin", workdir / "stderr.bin"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "invoice_tui", *args], cwd=workdir,
                                 env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        killed = ""
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.monotonic() - start
            if not killed and elapsed > KILL_AFTER:
                killed = f"killed after {KILL_AFTER} s"
            elif not killed and _rss_mb(child.pid) > ceiling_mb:
                killed = f"killed at RSS > {ceiling_mb:.0f} MB"
            if killed and child.returncode is None:
                child.send_signal(signal.SIGKILL)
                child.returncode = -9  # reaped by wait4 above, not by Popen
            time.sleep(0.05)
        seconds = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    code = killed or str(child.returncode)
    return Outcome(code, seconds, usage.ru_maxrss / 1024, out_path.read_bytes(),
                   err_path.read_bytes(), killed=bool(killed))


# --- configs ----------------------------------------------------------------------------


def write_config(path: Path, accounts: list[dict[str, Any]], mode: int = 0o600,
                 prefix: bytes = b"") -> Path:
    """A TOML config with ``[settings] timeout`` and these accounts."""
    text = tomli_w.dumps({"settings": {"timeout": TIMEOUT}, "accounts": accounts})
    path.write_bytes(prefix + text.encode("utf-8"))
    path.chmod(mode)
    return path


def unleash(server: HostileServer, **extra: Any) -> dict[str, Any]:
    return {"name": "unleash-hostile", "provider": "unleash", "base_url": server.url,
            "token": HOSTILE_TOKEN, **extra}


def credentials(path: Path, pem: str, mode: int = 0o600) -> Path:
    path.write_text(json.dumps({"account_email": "hostile@example.com", "account_id": 424242,
                                "key_id": "hostile-key", "private_key": pem}))
    path.chmod(mode)
    return path


def voximplant(server: HostileServer, workdir: Path, key_mode: int = 0o600,
               pem: str | None = None, url_key: str = "base_url") -> dict[str, Any]:
    path = credentials(workdir / "credentials.json", pem or private_key_pem("vox-hostile"),
                       key_mode)
    return {"name": "vox-hostile", "provider": "voximplant", "credentials": str(path),
            url_key: f"{server.url}/platform_api"}


def weak_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


# --- server answers -----------------------------------------------------------------------


def unleash_body(count: int = 3, **fields: Any) -> dict[str, Any]:
    """A good Unleash answer with ``count`` invoices (``fields`` override each invoice)."""
    invoices = [{
        "invoiceDate": f"2026-0{month}-01T00:00:00.000Z", "status": "paid",
        "monthText": f"2026-0{month}", "currency": "USD", "subtotal": 84,
        "taxAmount": 16, "totalAmount": 100, "taxPercentage": 19,
        "mainLines": [{"description": "Seats", "quantity": 1, "totalAmount": 84,
                       "currency": "USD", "lookupKey": "seats"}],
        "usageLines": [], **fields,
    } for month in range(1, count + 1)]
    return {"planPrice": 80, "planCurrency": "USD", "invoices": invoices}


def vox_good(invoices: int = 3) -> Responder:
    return by_endpoint({
        "GetAccountInvoices": vox_page([vox_invoice(i) for i in range(1, invoices + 1)],
                                       invoices),
        "GetAccountInfo": json_reply({"result": {"balance": 5, "currency": "USD"}}),
    })


def _paging(request: Request) -> tuple[int, int]:
    query = dict(part.split("=", 1) for part in request.path.partition("?")[2].split("&")
                 if "=" in part)
    params = {**query, **form(request)}
    return int(params.get("offset", 0) or 0), min(int(params.get("count", 20) or 20), 1000)


def vox_pages(total_count: object, unique: bool) -> Responder:
    """GetAccountInvoices pages claiming ``total_count``: the same page, or new ids forever."""
    def page(request: Request) -> Responder:
        offset, count = _paging(request)
        first = offset + 1 if unique else 1
        return vox_page([vox_invoice(i) for i in range(first, first + count)], total_count)

    return by_endpoint({
        "GetAccountInvoices": dynamic(page),
        "GetAccountInfo": json_reply({"result": {"balance": 5, "currency": "USD"}}),
    })


# --- the modes --------------------------------------------------------------------------


@dataclass
class Context:
    """What a mode gets: a fresh server, a fresh folder, and a way to run the CLI."""

    server: HostileServer
    workdir: Path
    run: Callable[[list[str]], Outcome]
    notes: list[str] = field(default_factory=list)

    def export(self, config: Path, *more: str) -> Outcome:
        return self.run(["export", "--config", str(config),
                         "--cache-dir", str(self.workdir / "cache"), *more])


def _unsafe_in(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace")
    return [name for name, pattern in UNSAFE_CHARS.items() if pattern.search(text)]


def mode_big_body(ctx: Context) -> Outcome:
    ctx.server.respond = huge(500 * MB)
    return ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]))


def mode_endless(ctx: Context) -> Outcome:
    ctx.server.respond = endless_chunked(ctx.server.stopped, seconds=KILL_AFTER + 10)
    return ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]))


def gzip_bomb(decompressed: int, block_size: int = MB) -> bytes:
    """A gzip body inflating to ``decompressed`` spaces, built in a second or two.

    ``tests/hostile.py`` deflates every byte (fine for a test's few MB; 2 GB take
    minutes). A full flush after each block resets the dictionary, so every block
    compresses to the same bytes: deflate one, repeat it, add the gzip trailer.
    """
    block = b" " * block_size
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: we frame it ourselves
    unit = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = deflate.flush(zlib.Z_FINISH)
    blocks = decompressed // block_size
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, Unix
    size = (blocks * block_size) & 0xFFFFFFFF
    return header + unit * blocks + final + struct.pack("<II", crc, size)


_BOMB: list[bytes] = []


def mode_gzip_bomb(ctx: Context) -> Outcome:
    if not _BOMB:
        _BOMB.append(gzip_bomb(BOMB_BYTES))
    ctx.server.respond = reply(_BOMB[0], headers={"Content-Encoding": "gzip"})
    ctx.notes.append(f"body {len(_BOMB[0]) / MB:.1f} MB gzip → {BOMB_BYTES // MB} MB "
                     "(deflate tops out near 1030:1)")
    return ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]))


def mode_drip(ctx: Context) -> Outcome:
    ctx.server.respond = drip(ctx.server.stopped, interval=1.0, seconds=KILL_AFTER + 10)
    return ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]))


def _vox_mode(ctx: Context, total: object, unique: bool) -> Outcome:
    ctx.server.respond = vox_pages(total, unique)
    outcome = ctx.export(write_config(ctx.workdir / "c.toml",
                                      [voximplant(ctx.server, ctx.workdir)]))
    ctx.notes.append(f"{len(ctx.server.requests)} requests")
    return outcome


def mode_same_page(ctx: Context) -> Outcome:
    return _vox_mode(ctx, 10**12, unique=False)


def mode_unique_forever(ctx: Context) -> Outcome:
    return _vox_mode(ctx, 10**12, unique=True)


def mode_uncounted_forever(ctx: Context) -> Outcome:
    return _vox_mode(ctx, None, unique=True)


def mode_retry_after_an_hour(ctx: Context) -> Outcome:
    ctx.server.respond = json_reply({"message": "slow down"}, status=429,
                                    headers={"Retry-After": "3600"})
    return ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]))


def mode_huge_total(ctx: Context) -> Outcome:
    return _vox_mode(ctx, 10**400, unique=False)


def mode_redirect(ctx: Context) -> Outcome:
    config = write_config(ctx.workdir / "c.toml", [unleash(ctx.server)])
    ctx.server.respond = json_reply(unleash_body(3))
    first = ctx.export(config)
    ctx.server.respond = json_reply({"invoices": []}, status=302,
                                    headers={"Location": "https://elsewhere.example/"})
    second = ctx.export(config)
    cached = ctx.export(config, "--offline")
    try:
        count = str(len(json.loads(cached.stdout)))
    except ValueError:
        count = "unreadable"
    ctx.notes.append(f"1st run exit {first.exit}; cache after the 302: {count} invoices "
                     "(was 3)")
    return second


ESCAPE_CURRENCY = "USD\x1b]0;PWNED\x1b\\\x1b[2J"
ESCAPE_DESCRIPTION = "Calls\x1b]52;c;ZXZpbA==\x07\x9b2J\u202etxt\u200b"


def mode_escapes(ctx: Context) -> Outcome:
    line = {"description": ESCAPE_DESCRIPTION, "quantity": 1, "totalAmount": 84,
            "currency": ESCAPE_CURRENCY, "lookupKey": "seats\x1b[31m"}
    ctx.server.respond = json_reply(unleash_body(
        1, currency=ESCAPE_CURRENCY, status="paid\x9b31m", mainLines=[line]))
    outcome = ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]))
    found = {"stdout": _unsafe_in(outcome.stdout), "stderr": _unsafe_in(outcome.stderr)}
    ctx.notes.append("raw unsafe chars: " + ("; ".join(
        f"{stream}: {', '.join(names)}" for stream, names in found.items() if names) or "none"))
    return outcome


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def mode_csv_formulas(ctx: Context) -> Outcome:
    lines = [{"description": "+cmd|' /C calc'!A0", "quantity": 1, "totalAmount": 84,
              "currency": "USD", "lookupKey": "\t=1+1"},
             {"description": "-2+3+cmd|' /C calc'!A0", "quantity": 1, "totalAmount": 1,
              "currency": "USD", "lookupKey": "\r@SUM(1+1)"}]
    ctx.server.respond = json_reply(unleash_body(
        1, monthText='=HYPERLINK("http://evil.example","x")', status="@SUM(1+1)",
        mainLines=lines))
    outcome = ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]),
                         "--format", "csv", "--lines")
    rows = list(csv.reader(io.StringIO(outcome.stdout.decode("utf-8", "replace"),
                                       newline="")))
    bad = [cell for row in rows[1:] for cell in row
           if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.fullmatch(cell)]
    example = f" e.g. {_shown(bad[0], 30)}" if bad else ""
    ctx.notes.append(f"{len(rows) - 1 if rows else 0} rows; unneutralized formula cells: "
                     f"{len(bad)}{example}; raw unsafe chars: "
                     f"{', '.join(_unsafe_in(outcome.stdout)) or 'none'}")
    return outcome


def _target_state(path: Path) -> str:
    if path.is_symlink():
        return f"symlink → {os.readlink(path)}"
    if not path.exists():
        return "gone"
    if path.is_fifo():
        return "FIFO"
    if path.is_file():
        return f"regular file ({path.stat().st_size} bytes)"
    return "something else"


@contextmanager
def _fifo_reader(path: Path) -> Iterator[list[int]]:
    """Drain a FIFO while the body runs (non-blocking, so nothing here can hang)."""
    received = [0]
    stop = threading.Event()
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    def drain() -> None:
        while True:
            try:
                data = os.read(descriptor, 65536)
            except BlockingIOError:
                data = None
            if data:
                received[0] += len(data)
            elif stop.is_set():
                return
            else:
                time.sleep(0.02)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        stop.set()
        thread.join(timeout=5)
        os.close(descriptor)


def mode_output_fifo(ctx: Context) -> Outcome:
    ctx.server.respond = json_reply(unleash_body(3))
    target = ctx.workdir / "out.fifo"
    os.mkfifo(target)
    with _fifo_reader(target) as received:
        outcome = ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]),
                             "--output", str(target))
    ctx.notes.append(f"target after: {_target_state(target)}; a reader on the FIFO got "
                     f"{received[0]} bytes")
    return outcome


def mode_output_symlink(ctx: Context) -> Outcome:
    ctx.server.respond = json_reply(unleash_body(3))
    victim, link = ctx.workdir / "victim.txt", ctx.workdir / "out.json"
    victim.write_text("precious\n")
    link.symlink_to(victim.name)
    outcome = ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)]),
                         "--output", str(link))
    ctx.notes.append(f"target after: {_target_state(link)}; victim.txt: "
                     f"{_target_state(victim)}")
    return outcome


def mode_config_fifo(ctx: Context) -> Outcome:
    config = ctx.workdir / "config.fifo"
    os.mkfifo(config)
    return ctx.export(config)


def mode_config_zero(ctx: Context) -> Outcome:
    return ctx.export(Path("/dev/zero"))


def mode_config_300mb(ctx: Context) -> Outcome:
    config = write_config(ctx.workdir / "big.toml", [unleash(ctx.server)])
    comment = b"#" + b"x" * 1022 + b"\n"
    with config.open("ab") as out:
        for _ in range(300 * 1024):
            out.write(comment)
    ctx.server.respond = json_reply(unleash_body(3))
    try:
        return ctx.export(config)
    finally:
        config.unlink()


def mode_config_typo(ctx: Context) -> Outcome:
    ctx.server.respond = vox_good()
    outcome = ctx.export(write_config(ctx.workdir / "c.toml", [
        voximplant(ctx.server, ctx.workdir, url_key="base_ulr")]))
    ctx.notes.append(f"requests to the intended server: {len(ctx.server.requests)}")
    return outcome


def mode_config_bom(ctx: Context) -> Outcome:
    ctx.server.respond = json_reply(unleash_body(3))
    return ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)],
                                   prefix="\ufeff".encode()))


def mode_config_0644(ctx: Context) -> Outcome:
    ctx.server.respond = json_reply(unleash_body(3))
    return ctx.export(write_config(ctx.workdir / "c.toml", [unleash(ctx.server)], 0o644))


def mode_key_0644(ctx: Context) -> Outcome:
    ctx.server.respond = vox_good()
    return ctx.export(write_config(ctx.workdir / "c.toml", [
        voximplant(ctx.server, ctx.workdir, key_mode=0o644)]))


def mode_weak_key(ctx: Context) -> Outcome:
    ctx.server.respond = vox_good()
    outcome = ctx.export(write_config(ctx.workdir / "c.toml", [
        voximplant(ctx.server, ctx.workdir, pem=weak_pem())]))
    lines = [line for line in outcome.stderr.decode("utf-8", "replace").splitlines()
             if line.strip()]
    ctx.notes.append(f"{len(lines)} stderr lines")
    return outcome


MODES: list[tuple[str, Callable[[Context], Outcome]]] = [
    ("500 MB body", mode_big_body),
    ("endless chunked body", mode_endless),
    ("gzip bomb (inflates to 2 GB)", mode_gzip_bomb),
    ("1 byte per second", mode_drip),
    ("Voximplant total_count 10**12, same page", mode_same_page),
    ("Voximplant unique ids forever (total_count 10**12)", mode_unique_forever),
    ("Voximplant unique ids forever, no total_count", mode_uncounted_forever),
    ("Voximplant total_count 10**400", mode_huge_total),
    ("429 with Retry-After: 3600", mode_retry_after_an_hour),
    ("302 {\"invoices\":[]} after a good cached sync (2nd run)", mode_redirect),
    ("escape sequences in currency/description", mode_escapes),
    ("CSV formula cells (--format csv --lines)", mode_csv_formulas),
    ("--output onto a FIFO", mode_output_fifo),
    ("--output onto a symlink", mode_output_symlink),
    ("--config on a FIFO", mode_config_fifo),
    ("--config /dev/zero", mode_config_zero),
    ("--config on a 300 MB file", mode_config_300mb),
    ("config typo base_ulr (Voximplant)", mode_config_typo),
    ("config with a UTF-8 BOM", mode_config_bom),
    ("0644 config holding a token", mode_config_0644),
    ("key file 0644", mode_key_0644),
    ("1024-bit key", mode_weak_key),
]


# --- the table ------------------------------------------------------------------------------


def _shown(text: str, limit: int = 140) -> str:
    """One table cell: control and invisible characters made visible, ``|`` escaped."""
    visible = "".join(
        ch if ch.isprintable() and not any(p.match(ch) for p in UNSAFE_CHARS.values())
        else ascii(ch)[1:-1] for ch in text)
    visible = visible.replace("|", "\\|")
    return visible if len(visible) <= limit else visible[: limit - 1] + "…"


def child_env(home: Path, proxy: HostileServer) -> dict[str, str]:
    """The child's environment: a throwaway home, and every proxy pointed at the sink."""
    env = {key: value for key, value in os.environ.items()
           if not key.upper().endswith("_PROXY") and not key.startswith("INVOICE_TUI_")}
    sink = proxy.url
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONPATH": str(REPO),
                "HTTP_PROXY": sink, "HTTPS_PROXY": sink, "ALL_PROXY": sink,
                "NO_PROXY": "127.0.0.1,localhost,::1"})
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run the modes whose name contains TEXT (repeatable)")
    parser.add_argument("--rss-ceiling-mb", type=float, default=2048,
                        help="kill a child whose RSS passes this (default 2048)")
    args = parser.parse_args()
    modes = [(name, run) for name, run in MODES
             if not args.only or any(text.lower() in name.lower() for text in args.only)]

    print(f"# invoice-tui export vs hostile inputs (timeout = {TIMEOUT} s; a child is killed "
          f"after {KILL_AFTER} s or above {args.rss_ceiling_mb:.0f} MB RSS)\n")
    print("| mode | exit code | wall time (s) | peak RSS (MB) | first stderr line | observed "
          f"| ≤ {RULE_SECONDS} s and < {RULE_MB} MB |")
    print("|---|---|---:|---:|---|---|---|")
    results: list[bool] = []
    sink = HostileServer(respond=reply(b"", status=403, content_type="text/plain"))
    try:
        for name, run in modes:
            with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder, \
                    HostileServer() as server:
                workdir = Path(folder)
                env = child_env(workdir / "home", sink)
                ctx = Context(server, workdir,
                              lambda argv, w=workdir, e=env: run_cli(  # type: ignore[misc]
                                  argv, w, e, args.rss_ceiling_mb))
                before = len(sink.requests)
                outcome = run(ctx)
                proxied = [r.path for r in sink.requests[before:]]
                if proxied:
                    ctx.notes.append(f"proxy sink saw: {', '.join(sorted(set(proxied)))}")
            ok = (not outcome.killed and outcome.seconds <= RULE_SECONDS
                  and outcome.peak_mb < RULE_MB)
            results.append(ok)
            print(f"| {name} | {outcome.exit} | {outcome.seconds:.1f} | {outcome.peak_mb:.0f} "
                  f"| {_shown(outcome.first_stderr_line) or '—'} "
                  f"| {_shown('; '.join(ctx.notes), 160) or '—'} | {'yes' if ok else 'no'} |",
                  flush=True)
    finally:
        sink.close()
    print(f"\nrule check: {sum(results)}/{len(results)} modes ended within {RULE_SECONDS} s "
          f"under {RULE_MB} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
