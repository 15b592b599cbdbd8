"""Benchmark: the TUI on a 100 000-invoice store, side by side with a bare Textual app.

    .venv/bin/python benchmarks/bench_tui.py [--count 100000] [--runs 3]

One run prints, for a store holding ``--count`` Voximplant invoices × 2 lines (the demo
data through the real parser, in ``store.SCHEMA``; built once, kept in the temp dir, and
copied for each run):

* in a real terminal (a pty, as users run it; the runs of both apps alternate): process
  start → a bare Textual app's first frame, vs process start → our first invoice row on
  screen, → the status line counting every invoice, → its totals; the TUI's RSS once it
  is idle (holding them) and its peak;
* headless (``App.run_test`` in a child process): each filter keystroke and each sort,
  from the key to the table's next frame (median / max), the totals after a keystroke,
  and the worst event-loop stall while the store is read — and the same keys on a store
  of 100 invoices: what a frame costs Textual and the machine, whatever the data;
* a first sync whose pages land in the store over time: when its first rows show.

The app's own sync is held off (the emulator answers after a minute, or not at all
headless), so nothing but reading the store is measured. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import datetime as dt
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import tomli_w  # noqa: E402

from invoice_tui.config import AccountConfig, load_config  # noqa: E402
from invoice_tui.demo.data import VoximplantInvoices, demo_account  # noqa: E402
from invoice_tui.demo.environment import write_demo_config  # noqa: E402
from invoice_tui.demo.server import DemoServer  # noqa: E402
from invoice_tui.index import StoreReader, connect_reader  # noqa: E402
from invoice_tui.model import AccountSummary, Invoice  # noqa: E402
from invoice_tui.providers.voximplant import parse_page  # noqa: E402
from invoice_tui.store import (  # noqa: E402
    DB_NAME,
    SCHEMA_VERSION,
    InvoiceStore,
    account_key,
    open_store,
)

ACCOUNT = "vox-main"
TODAY = dt.date(2026, 11, 20)
ROWS, COLUMNS = 40, 160
QUERY = "0999"  # typed one key at a time: every invoice number has a 0, then fewer match
TIMEOUT = 120.0  # seconds for one step in the terminal (a loaded box is slow, not stuck)
BARE_APP = '''
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("bare-first-frame")

Bare().run()
'''

# --- the store -----------------------------------------------------------------------------


def demo_invoices(count: int) -> list[Invoice]:
    """``count`` invoices of the demo's vox-main, as the real parser makes them, 2 lines each."""
    source = VoximplantInvoices(demo_account(ACCOUNT), TODAY, count)
    invoices: list[Invoice] = []
    for offset in range(0, count, 1000):
        body = json.loads(source.page_json(offset, 1000), parse_float=Decimal)
        invoices.extend(replace(inv, lines=inv.lines[:2])
                        for inv in parse_page(ACCOUNT, body).invoices)
    return invoices


def build_store(count: int) -> Path:
    """The directory of a store of ``count`` invoices (the store's own sync writer), built
    once per count and schema version."""
    directory = Path(tempfile.gettempdir()) / f"invoice-tui-bench-v{SCHEMA_VERSION}-{count}"
    conn = connect_reader(directory / DB_NAME)
    if conn is not None:
        stored = conn.execute("SELECT count(*) FROM invoices").fetchone()[0]
        conn.close()
        if stored == count:
            return directory
    shutil.rmtree(directory, ignore_errors=True)
    started = time.perf_counter()
    invoices = demo_invoices(count)
    with open_store(directory).store as store:
        writer = store.begin_sync(AccountConfig(name=ACCOUNT, provider="voximplant",
                                                options={"name": ACCOUNT}))
        for offset in range(0, count, 5000):
            writer.add(invoices[offset:offset + 5000])
        writer.finish(AccountSummary(), dt.datetime.now(dt.UTC))
    size = sum(f.stat().st_size for f in directory.iterdir()) / 2**20
    print(f"(built the store of {count:,} invoices in {time.perf_counter() - started:.0f} s: "
          f"{directory}, {size:.0f} MB)")
    return directory


def as_configured(directory: Path, config: Path) -> None:
    """Make the stored account the one ``config`` names: its identity in the store hashes
    the emulator's URL, whose port changes from run to run."""
    account = next(a for a in load_config(config).accounts if a.name == ACCOUNT)
    conn = sqlite3.connect(directory / DB_NAME, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN IMMEDIATE")
        # A run whose sync began under another identity left an account row of no
        # invoices (the store is shared by every checkout's runs): only the stored one stays.
        conn.execute("DELETE FROM accounts WHERE name = ? AND account_key NOT IN "
                     "(SELECT account_key FROM invoices WHERE account = ?)", (ACCOUNT, ACCOUNT))
        conn.execute("UPDATE accounts SET account_key = ? WHERE name = ?",
                     (account_key(account), ACCOUNT))
        conn.execute("UPDATE invoices SET account_key = ? WHERE account = ?",
                     (account_key(account), ACCOUNT))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _private_copy(directory: Path, target: Path) -> Path:
    """A copy of the store in ``directory`` (read consistently through SQLite's backup)."""
    target.mkdir()
    source = sqlite3.connect(directory / DB_NAME)
    copy = sqlite3.connect(target / DB_NAME)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target


def bench_config(server: DemoServer, root: Path) -> Path:
    """A config file naming the store's account alone, pointed at ``server``."""
    config = root / "config.toml"
    write_demo_config(server, config)
    # The account of the store alone (the emulator's Unleash pages, answered after the
    # server stopped, would only add noise).
    table = tomllib.loads(config.read_text())
    table["accounts"] = [a for a in table["accounts"] if a["name"] == ACCOUNT]
    config.write_bytes(tomli_w.dumps(table).encode())
    return config


# --- in a real terminal --------------------------------------------------------------------

_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")


class Terminal:
    """A program on a pty of ROWS × COLUMNS; when each awaited text first appeared."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
               "LINES": str(ROWS)}
        # As users run it: with compiled bytecode cached (PYTHONDONTWRITEBYTECODE would
        # compile every module of ours from source at each start, not Textual's).
        for name in ("NO_COLOR", "TEXTUAL", "TEXTUAL_DRIVER", "TEXTUAL_DEBUG",
                     "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        self.started = time.perf_counter()
        self.child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                      env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""
        self.cpu: dict[str, float] = {}

    def cpu_seconds(self) -> float:
        """CPU time the program has used so far (all its threads): unlike the wall clock,
        not inflated by other jobs of a busy machine."""
        fields = Path(f"/proc/{self.child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_for(self, *texts: str) -> list[float]:
        """Read until every text was drawn; seconds from the start to each (and in
        ``self.cpu``, the CPU seconds used by then)."""
        plain = _CSI.sub("", self._text)
        found = {text: time.perf_counter() - self.started for text in texts if text in plain}
        self.cpu = {text: self.cpu_seconds() for text in found}
        deadline = time.monotonic() + TIMEOUT
        while len(found) < len(texts):
            if time.monotonic() > deadline:
                missing = [t for t in texts if t not in found]
                raise RuntimeError(f"never saw {missing}: {_CSI.sub('', self._text)[-500:]!r}")
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                data = b""
            if not data:
                raise RuntimeError(f"the program ended: {self._text[-500:]!r}")
            now = time.perf_counter() - self.started
            # A tail only (the texts are short, the screen is rewritten often), stripped of
            # escape sequences as a whole: one may be cut in two by a read.
            self._text = (self._text + self._decoder.decode(data))[-40_000:]
            plain = _CSI.sub("", self._text)
            for text in texts:
                if text not in found and text in plain:
                    found[text] = now
                    self.cpu[text] = self.cpu_seconds()
        return [found[text] for text in texts]

    def wait_until_idle(self, quiet: float = 1.0, limit: float = 30.0) -> None:
        """Wait until the program used under 2 % of a core for ``quiet`` seconds (at least
        3 s, at most ``limit``)."""
        started = time.monotonic()
        time.sleep(3)
        while time.monotonic() - started < limit:
            before = self.cpu_seconds()
            time.sleep(quiet)
            if self.cpu_seconds() - before < 0.02 * quiet:
                return

    def memory_mb(self) -> tuple[float, float]:
        """The program's resident memory now and at its peak, in MB."""
        status = Path(f"/proc/{self.child.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)

    def close(self) -> None:
        """End the program (its own process group: the ones it started go too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGKILL)
        self.child.wait(timeout=30)
        os.close(self.master)


def terminal_runs(store: Path, config: Path, runs: int, count: int
                  ) -> dict[str, list[float]]:
    """Alternating runs of the bare app and of ours; seconds (and MB) per run."""
    results: dict[str, list[float]] = {}
    first = StoreReader(store / DB_NAME).first_rows([ACCOUNT], 1)[0][0][1].title
    counted = f"{count:,} of {count:,} invoices"
    with tempfile.TemporaryDirectory(prefix="invoice-tui-bench-") as temp:
        root = Path(temp)
        (root / "bare.py").write_text(BARE_APP)
        tui = [sys.executable, "-m", "invoice_tui", "--config", str(config),
               "--cache-dir", str(store)]
        warm_up = Terminal(tui, root)  # not measured: writes the bytecode, warms the caches
        try:
            warm_up.wait_for(first)
        finally:
            warm_up.close()
        for _ in range(runs):
            bare = Terminal([sys.executable, str(root / "bare.py")], root)
            try:
                results.setdefault("bare", []).extend(bare.wait_for("bare-first-frame"))
                results.setdefault("bare_cpu", []).append(bare.cpu["bare-first-frame"])
            finally:
                bare.close()
            ours = Terminal(tui, root)
            try:
                row, all_counted, billed = ours.wait_for(first, counted, "billed ")
                for key, value in (("first_row", row), ("counted", all_counted),
                                   ("totals", billed), ("first_row_cpu", ours.cpu[first]),
                                   ("counted_cpu", ours.cpu[counted]),
                                   ("totals_cpu", ours.cpu["billed "])):
                    results.setdefault(key, []).append(value)
                # The search texts and sort keys follow in the same thread: RSS once the
                # program is idle (what holding them costs), not at a moment of that work.
                ours.wait_until_idle()
                rss, peak = ours.memory_mb()
                results.setdefault("rss", []).append(rss)
                results.setdefault("peak", []).append(peak)
            finally:
                ours.close()
    return results


# --- headless, in a child process ----------------------------------------------------------


def headless(store: Path, config: Path) -> dict[str, Any]:
    """Keystroke and sort timings of the real app, headless; run in a child process."""
    return asyncio.run(_headless(store, config))


async def _headless(store: Path, config_path: Path) -> dict[str, Any]:
    from invoice_tui.ui.app import InvoiceApp
    from invoice_tui.ui.screens.main import MainScreen
    from invoice_tui.ui.widgets.invoice_table import InvoiceTable

    painted = [0.0]
    render_line = InvoiceTable.render_line

    def timed_render_line(self: InvoiceTable, y: int) -> Any:
        strip = render_line(self, y)
        if y > 0:
            painted[0] = time.perf_counter()
        return strip

    InvoiceTable.render_line = timed_render_line  # type: ignore[method-assign]

    async def never(*args: object, **kwargs: object) -> Any:
        await asyncio.Event().wait()  # the sync is held off: only reading is measured

    config = load_config(config_path)
    with open_store(store, quick_check=False).store as opened:
        app = InvoiceApp(config, opened, sync=never)
        result: dict[str, Any] = {}
        async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
            screen = app.screen
            assert isinstance(screen, MainScreen)
            table = screen.table
            start, stalls = time.perf_counter(), []
            while (index := table.view.index(ACCOUNT)) is None or index.search is None \
                    or "invoice" not in index.sort_keys:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                stalls.append(time.perf_counter() - before - 0.01)
                if before - start > TIMEOUT:
                    raise RuntimeError("the store was never read")
            result["loaded"] = time.perf_counter() - start
            result["stall"] = max(stalls, default=0.0)
            await pilot.pause()

            async def frame(action: Callable[[], Any]) -> float:
                started = time.perf_counter()
                await action()
                for _ in range(200):
                    if painted[0] > started:
                        return painted[0] - started
                    await pilot.pause()
                raise RuntimeError("no frame was drawn")

            await pilot.press("slash")
            keys, totals = [], []
            for char in QUERY:
                keys.append(await frame(lambda c=char: pilot.press(c)))
                started = time.perf_counter()
                while table.totals() is None:
                    await pilot.pause()
                totals.append(time.perf_counter() - started + keys[-1])
            result["filter"], result["filter_totals"] = keys, totals
            result["matches"] = len(table.view.rows)
            await pilot.press("escape")  # clear the filter; the table has the focus again
            await pilot.pause()
            sorts: dict[str, float] = {}
            for _ in range(9):  # issued → account → invoice → … → due, each column once
                elapsed = await frame(lambda: pilot.press("s"))
                sorts[table.view.sort_key] = elapsed
            sorts["due, reversed"] = await frame(lambda: pilot.press("S"))
            result["sorts"] = sorts
            result["end"] = await frame(lambda: pilot.press("G"))
            app.exit()
    return result


# --- a first sync, page by page --------------------------------------------------------------


def first_sync(count: int, page: int, every: float) -> dict[str, Any]:
    """A first sync of ``count`` invoices whose pages are stored every ``every`` s (by the
    store's sync writer, as ``sync_account`` stores them); when rows show. In a child
    process."""
    return asyncio.run(_first_sync(count, page, every))


async def _first_sync(count: int, page: int, every: float) -> dict[str, Any]:
    from invoice_tui.config import Config
    from invoice_tui.providers.base import FetchProgress
    from invoice_tui.sync import SyncProgress, SyncStarted, SyncSucceeded
    from invoice_tui.ui.app import InvoiceApp
    from invoice_tui.ui.screens.main import MainScreen

    invoices = demo_invoices(count)
    landed: list[float] = []

    with tempfile.TemporaryDirectory(prefix="invoice-tui-bench-") as temp, \
            open_store(Path(temp)).store as store:

        async def sync(account: AccountConfig, settings: object, *, store: InvoiceStore,
                       on_event: Callable[[Any], None]) -> Any:
            on_event(SyncStarted(account.name))
            writer = store.begin_sync(account)
            for offset in range(0, count, page):
                await asyncio.sleep(every)
                chunk = invoices[offset:offset + page]
                await asyncio.to_thread(writer.add, chunk)
                landed.append(time.perf_counter())
                on_event(SyncProgress(account.name, FetchProgress(offset + len(chunk),
                                                                  offset // page + 1, count)))
            await asyncio.Event().wait()  # not done: only the pages are measured
            return SyncSucceeded(account.name, (), AccountSummary(), dt.datetime.now(dt.UTC))

        config = Config(path=None, accounts=(AccountConfig(
            name=ACCOUNT, provider="voximplant", options={"name": ACCOUNT}),))
        app = InvoiceApp(config, store, sync=sync)
        shown: list[tuple[float, int]] = []
        async with app.run_test(size=(COLUMNS, ROWS)):
            screen = app.screen
            assert isinstance(screen, MainScreen)
            while len(landed) < count // page:
                await asyncio.sleep(0.02)
                rows = len(screen.table.view.rows)
                if not shown or rows != shown[-1][1]:
                    shown.append((time.perf_counter(), rows))
            app.exit()
    first = next(at for at, rows in shown if rows)
    return {"first_page_to_rows": first - landed[0], "shown_steps": len(shown),
            "rows_when_done": shown[-1][1], "pages": len(landed)}


# --- the report ------------------------------------------------------------------------------


def _child(function: str, *args: str) -> Any:
    done = subprocess.run([sys.executable, __file__, "--child", function, *args],
                          check=False, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the {function} child failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "headless":
        print(json.dumps(headless(Path(args.rest[0]), Path(args.rest[1]))))
        return
    if args.child == "first_sync":
        print(json.dumps(first_sync(*map(int, args.rest[:2]), float(args.rest[2]))))
        return
    built, built_few = build_store(args.count), build_store(100)
    with tempfile.TemporaryDirectory(prefix="invoice-tui-bench-") as temp, \
            DemoServer(latency_ms=60_000, invoice_count=args.count) as server:
        config = bench_config(server, Path(temp))
        # Copies of their own: another run at the same time (another checkout's) keys
        # the stores it shares to its own emulator's URL.
        store, few = (_private_copy(built, Path(temp) / "store"),
                      _private_copy(built_few, Path(temp) / "few"))
        as_configured(store, config)
        as_configured(few, config)
        term = terminal_runs(store, config, args.runs, args.count)
        keys = _child("headless", str(store), str(config))
        small = _child("headless", str(few), str(config))
    sync = _child("first_sync", "20000", "1000", "0.2")

    def med(key: str) -> float:
        return statistics.median(term[key])

    bare, bare_cpu = med("bare"), med("bare_cpu")
    print(f"invoice-tui on a store of {args.count:,} Voximplant invoices × 2 lines; "
          f"{COLUMNS}×{ROWS} pty, {args.runs} alternating runs (medians), "
          f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")
    print("  (wall clock; in brackets the CPU time the program used by then)")
    print(f"  bare Textual app, start → first frame          {bare:6.2f} s ({bare_cpu:.2f} s)")
    print(f"  invoice-tui, start → first invoice row          {med('first_row'):6.2f} s "
          f"({med('first_row_cpu'):.2f} s)   {med('first_row') / bare:.2f}× the bare app "
          f"({med('first_row_cpu') / bare_cpu:.2f}×)")
    print(f"  invoice-tui, start → all {args.count:,} counted      {med('counted'):6.2f} s "
          f"({med('counted_cpu'):.2f} s)")
    print(f"  invoice-tui, start → their totals shown         {med('totals'):6.2f} s "
          f"({med('totals_cpu'):.2f} s)")
    print(f"  RSS holding them (once idle) / peak             {med('rss'):6.0f} MB "
          f"/ {med('peak'):.0f} MB")
    print(f"  headless: store read in {keys['loaded']:.2f} s, worst event-loop stall "
          f"meanwhile {_ms(keys['stall'])}")
    print(f"  filter keystroke → frame (query {QUERY!r}, one key at a time): median "
          f"{_ms(statistics.median(keys['filter']))}, max {_ms(max(keys['filter']))}; "
          f"→ totals: median {_ms(statistics.median(keys['filter_totals']))}, "
          f"max {_ms(max(keys['filter_totals']))}")
    print(f"      the same keys on a 100-invoice store: median "
          f"{_ms(statistics.median(small['filter']))}, max {_ms(max(small['filter']))}")
    sorts, few = keys["sorts"], small["sorts"]
    print(f"  sort → frame: median {_ms(statistics.median(sorts.values()))}, "
          f"max {_ms(max(sorts.values()))}  (" +
          ", ".join(f"{name} {_ms(value)}" for name, value in sorts.items()) + ")")
    print(f"      the same sorts on a 100-invoice store: median "
          f"{_ms(statistics.median(few.values()))}, max {_ms(max(few.values()))}")
    print(f"  G (to the last of {args.count:,} rows) → frame   {_ms(keys['end'])}")
    print(f"  first sync of 20,000 in pages of 1,000 every 0.2 s: rows on screen "
          f"{_ms(sync['first_page_to_rows'])} after the first page landed; "
          f"{sync['shown_steps']} steps, {sync['rows_when_done']:,} rows when the last "
          f"page landed")


if __name__ == "__main__":
    main()
