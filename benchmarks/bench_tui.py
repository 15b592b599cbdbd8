"""Benchmark: the TUI on a 100 000-invoice store, side by side with a bare Textual app.

    .venv/bin/python benchmarks/bench_tui.py [--count 100000] [--runs 3]
        [--start-only] [--before DIR]

``--start-only``: the terminal runs alone. ``--before DIR``: the invoice_tui package in DIR
(another version, e.g. ``git archive main invoice_tui | tar -x -C DIR``) runs too, in turn
with the others on the same store: its first row beside ours, measured side by side.

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
import threading
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
# Field terms, typed one key at a time too: a word while the field's name is typed, a hint
# at "status:", then a term over the index (the status and the total of every invoice).
FIELD_QUERY = "status:issued total>100"
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

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
               "LINES": str(ROWS), **(env or {})}
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


def terminal_runs(store: Path, config: Path, runs: int, count: int, before: Path | None = None
                  ) -> dict[str, list[float]]:
    """Alternating runs of the bare app and of ours (and of the package in ``before``, when
    given); seconds (and MB) per run."""
    results: dict[str, list[float]] = {}
    first = StoreReader(store / DB_NAME).first_rows([ACCOUNT], 1)[0][0][1].title
    counted = f"{count:,} of {count:,} invoices"
    with tempfile.TemporaryDirectory(prefix="invoice-tui-bench-") as temp:
        root = Path(temp)
        (root / "bare.py").write_text(BARE_APP)
        tui = [sys.executable, "-m", "invoice_tui", "--config", str(config),
               "--cache-dir", str(store)]
        old = {"PYTHONPATH": str(before)} if before is not None else None
        # Not measured: writes the bytecode, warms the caches.
        for env in ([None, old] if old else [None]):
            warm_up = Terminal(tui, root, env)
            try:
                warm_up.wait_for(first)
            finally:
                warm_up.close()
        for _ in range(runs):
            if old is not None:
                _before_run(Terminal(tui, root, old), first, counted, results)
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


def _before_run(program: Terminal, first: str, counted: str,
                results: dict[str, list[float]]) -> None:
    """One run of the ``--before`` package: its first row and count (seconds, CPU)."""
    try:
        row, all_counted = program.wait_for(first, counted)
        for key, value in (("before_first_row", row), ("before_counted", all_counted),
                           ("before_first_row_cpu", program.cpu[first])):
            results.setdefault(key, []).append(value)
    finally:
        program.close()


# --- headless, in a child process ----------------------------------------------------------

# What "a frame" is: the first screen update (the compositor's render of the dirty widgets,
# what a terminal would be sent) after the key, in which the table drew the rows of the
# view's version after the key. Wall clock (key → that update) and the process's CPU time
# over the same span (all threads: a totals thread counts too; not inflated by the other
# jobs of a busy machine). Textual paces screen updates: a refresh waits for the screen's
# update timer (1/60 s), so even a free keystroke costs some milliseconds of wall clock.


class FrameClock:
    """Screen updates of one app, and the version of the data each one showed."""

    def __init__(self, version: Callable[[], int]) -> None:
        self.version = version
        self.shown = -1  # the version the table last drew
        self.frames: list[tuple[float, float, int]] = []  # (wall, cpu, version shown)

    def install(self, table_class: type, screen_class: type) -> None:
        """Wrap ``table_class.render_line`` and ``screen_class._compositor_refresh``."""
        render_line, refresh = table_class.render_line, screen_class._compositor_refresh
        clock = self

        def timed_render_line(table: Any, y: int) -> Any:
            if y > 0:
                clock.shown = clock.version()
            return render_line(table, y)

        def timed_refresh(screen: Any) -> None:
            refresh(screen)
            clock.frames.append((time.perf_counter(), time.process_time(), clock.shown))

        table_class.render_line = timed_render_line
        screen_class._compositor_refresh = timed_refresh

    async def frame(self, pilot: Any, action: Callable[[], Any]) -> tuple[float, float]:
        """Seconds of wall clock and of CPU from ``action`` to the frame showing its result."""
        wall, cpu = time.perf_counter(), time.process_time()
        await action()
        for _ in range(200):
            wanted = self.version()
            for at, used, shown in self.frames:
                if at > wall and shown == wanted:
                    return at - wall, used - cpu
            await pilot.pause()
        raise RuntimeError("no frame was drawn")


def headless(store: Path, config: Path) -> dict[str, Any]:
    """Keystroke and sort timings of the real app, headless; run in a child process."""
    return asyncio.run(_headless(store, config))


async def _headless(store: Path, config_path: Path) -> dict[str, Any]:
    from textual.screen import Screen

    from invoice_tui.ui.app import InvoiceApp
    from invoice_tui.ui.screens.main import MainScreen
    from invoice_tui.ui.widgets.invoice_table import InvoiceTable
    from invoice_tui.ui.widgets.status_line import StatusLine

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
            clock = FrameClock(lambda: table.view.version)
            clock.install(InvoiceTable, Screen)
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
            # The store's integrity check follows in the reading thread: it would share the
            # CPU (and the process's CPU time) with the keys measured here.
            while any(t.name == "invoice-tui store" for t in threading.enumerate()):
                await asyncio.sleep(0.05)
                if time.perf_counter() - start > TIMEOUT:
                    raise RuntimeError("the store's reading thread never ended")
            await pilot.pause(0.5)  # the settling work after the count is done

            await pilot.press("slash")
            # When the status line first shows the totals of each version of the rows (they
            # may follow the rows' frame: a big set is summed in a thread after it).
            summed: dict[int, float] = {}
            show = StatusLine.show

            def timed_show(line: StatusLine, **kwargs: Any) -> None:
                show(line, **kwargs)
                if kwargs.get("totals") is not None:
                    summed.setdefault(table.view.version, time.perf_counter())

            StatusLine.show = timed_show  # type: ignore[method-assign]
            keys, cpu, totals = [], [], []
            for char in QUERY:
                started = time.perf_counter()
                wall, used = await clock.frame(pilot, lambda c=char: pilot.press(c))
                keys.append(wall)
                cpu.append(used)
                while table.view.version not in summed:
                    await pilot.pause()
                totals.append(summed[table.view.version] - started)
            result["filter"], result["filter_cpu"], result["filter_totals"] = keys, cpu, totals
            result["matches"] = len(table.view.rows)
            await pilot.press(*["backspace"] * len(QUERY))
            await pilot.pause()
            keys, cpu = [], []
            for char in FIELD_QUERY:
                wall, used = await clock.frame(pilot, lambda c=char: pilot.press(c))
                keys.append(wall)
                cpu.append(used)
            result["field"], result["field_cpu"] = keys, cpu
            result["field_matches"] = len(table.view.rows)
            await pilot.press("escape")  # clear the filter; the table has the focus again
            await pilot.pause()
            sorts: dict[str, tuple[float, float]] = {}
            for _ in range(9):  # issued → account → invoice → … → due, each column once
                elapsed = await clock.frame(pilot, lambda: pilot.press("s"))
                sorts[table.view.sort_key] = elapsed
            sorts["due, reversed"] = await clock.frame(pilot, lambda: pilot.press("S"))
            result["sorts"] = {name: wall for name, (wall, _) in sorts.items()}
            result["sorts_cpu"] = {name: used for name, (_, used) in sorts.items()}
            result["end"] = (await clock.frame(pilot, lambda: pilot.press("G")))[0]
            app.exit()
    return result


def bare_headless() -> dict[str, Any]:
    """The same keys in a bare Textual app (an Input over a line-API table of 100 rows
    filled to the same size): what the harness and a frame cost, whatever the app."""
    return asyncio.run(_bare_headless())


async def _bare_headless() -> dict[str, Any]:
    from rich.segment import Segment
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.geometry import Size
    from textual.screen import Screen
    from textual.scroll_view import ScrollView
    from textual.strip import Strip
    from textual.widgets import Input

    every = [f"2026-{1 + n % 12:02d}-01  vox-main  VOX-1000001-{n:06d}  new  "
             f"{n * 7.31:12.2f} USD".ljust(COLUMNS - 2) for n in range(100)]

    class BareTable(ScrollView, can_focus=True):
        BINDINGS = [Binding("s", "sort", "Sort")]

        def __init__(self) -> None:
            super().__init__()
            self.rows, self.version, self.column = list(every), 0, 0

        def show(self, rows: list[str]) -> None:
            self.rows, self.version = rows, self.version + 1
            self.virtual_size = Size(COLUMNS, len(rows))
            self.refresh()

        def action_sort(self) -> None:
            self.column = (self.column + 1) % 6
            self.show(sorted(self.rows, key=lambda row: row.split()[self.column]))

        def render_line(self, y: int) -> Strip:
            row = y + round(self.scroll_y)
            text = self.rows[row] if row < len(self.rows) else ""
            return Strip([Segment(text.ljust(self.size.width))], self.size.width)

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Input()
            yield BareTable()

        def on_input_changed(self, event: Input.Changed) -> None:
            table = self.query_one(BareTable)
            table.show([row for row in every if event.value in row])

    app = Bare()
    async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
        table = app.query_one(BareTable)
        clock = FrameClock(lambda: table.version)
        clock.install(BareTable, Screen)
        await pilot.pause(0.5)
        keys = [await clock.frame(pilot, lambda c=char: pilot.press(c)) for char in QUERY]
        table.focus()
        await pilot.pause()
        sorts = [await clock.frame(pilot, lambda: pilot.press("s")) for _ in range(10)]
        app.exit()
    return {"filter": [wall for wall, _ in keys], "filter_cpu": [cpu for _, cpu in keys],
            "sorts": [wall for wall, _ in sorts], "sorts_cpu": [cpu for _, cpu in sorts]}


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


def _key_runs(store: Path, few: Path, config: Path) -> tuple[dict[str, Any], ...]:
    """Headless keys on the big store, on the 100-invoice one and in the bare app."""
    return (_child("headless", str(store), str(config)),
            _child("headless", str(few), str(config)), _child("bare_headless"))


def _spread(wall: list[float], cpu: list[float]) -> str:
    return (f"median {_ms(statistics.median(wall))} (CPU {_ms(statistics.median(cpu))}), "
            f"max {_ms(max(wall))} (CPU {_ms(max(cpu))})")


def _print_keys(keys: dict[str, Any], small: dict[str, Any], bare: dict[str, Any],
                count: int) -> None:
    print(f"  headless, {COLUMNS}×{ROWS} (load average {os.getloadavg()[0]:.1f}); "
          "key → the first frame showing its result, wall clock (CPU time of the process)")
    print(f"  store read in {keys['loaded']:.2f} s, worst event-loop stall "
          f"meanwhile {_ms(keys['stall'])}")
    print(f"  filter keystroke → frame (query {QUERY!r}, one key at a time): "
          f"{_spread(keys['filter'], keys['filter_cpu'])}; → totals: median "
          f"{_ms(statistics.median(keys['filter_totals']))}, "
          f"max {_ms(max(keys['filter_totals']))}")
    print("      per key: " + ", ".join(
        f"{char!r} {_ms(wall)} ({_ms(cpu)})"
        for char, wall, cpu in zip(QUERY, keys["filter"], keys["filter_cpu"], strict=True)))
    print(f"      the same keys on a 100-invoice store: "
          f"{_spread(small['filter'], small['filter_cpu'])}")
    if "field" in keys:
        print(f"  field query keystroke → frame (query {FIELD_QUERY!r}, one key at a time, "
              f"{keys['field_matches']:,} match): {_spread(keys['field'], keys['field_cpu'])}")
        print("      per key: " + ", ".join(
            f"{char!r} {_ms(wall)} ({_ms(cpu)})" for char, wall, cpu
            in zip(FIELD_QUERY, keys["field"], keys["field_cpu"], strict=True)))
        print(f"      the same keys on a 100-invoice store: "
              f"{_spread(small['field'], small['field_cpu'])}")
    print(f"      the same keys in a bare Textual app (Input + line-API table of 100 rows): "
          f"{_spread(bare['filter'], bare['filter_cpu'])}")
    sorts, cpu = keys["sorts"], keys["sorts_cpu"]
    print(f"  sort → frame: {_spread(list(sorts.values()), list(cpu.values()))}  (" +
          ", ".join(f"{name} {_ms(value)} ({_ms(cpu[name])})"
                    for name, value in sorts.items()) + ")")
    print(f"      the same sorts on a 100-invoice store: "
          f"{_spread(list(small['sorts'].values()), list(small['sorts_cpu'].values()))}")
    print(f"      a sort in the bare app: {_spread(bare['sorts'], bare['sorts_cpu'])}")
    print(f"  G (to the last of {count:,} rows) → frame   {_ms(keys['end'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keys-only", action="store_true",
                        help="only the headless keystroke and sort timings")
    parser.add_argument("--start-only", action="store_true",
                        help="only the terminal runs: start → first row / counted, RSS")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also run, alternately, the invoice_tui package in DIR (e.g. "
                             "`git archive main invoice_tui | tar -x -C DIR`): its first row")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "headless":
        print(json.dumps(headless(Path(args.rest[0]), Path(args.rest[1]))))
        return
    if args.child == "first_sync":
        print(json.dumps(first_sync(*map(int, args.rest[:2]), float(args.rest[2]))))
        return
    if args.child == "bare_headless":
        print(json.dumps(bare_headless()))
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
        if args.keys_only:
            _print_keys(*_key_runs(store, few, config), args.count)
            return
        term = terminal_runs(store, config, args.runs, args.count, args.before)
        if not args.start_only:
            keys, small, bare_keys = _key_runs(store, few, config)
    if not args.start_only:
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
    if args.before is not None:
        print(f"  --before {args.before}, start → first row      {med('before_first_row'):6.2f} s "
              f"({med('before_first_row_cpu'):.2f} s)   "
              f"{med('before_first_row') / bare:.2f}× the bare app "
              f"({med('before_first_row_cpu') / bare_cpu:.2f}×); all counted "
              f"{med('before_counted'):.2f} s")
    print(f"  invoice-tui, start → all {args.count:,} counted      {med('counted'):6.2f} s "
          f"({med('counted_cpu'):.2f} s)")
    print(f"  invoice-tui, start → their totals shown         {med('totals'):6.2f} s "
          f"({med('totals_cpu'):.2f} s)")
    print(f"  RSS holding them (once idle) / peak             {med('rss'):6.0f} MB "
          f"/ {med('peak'):.0f} MB")
    if args.start_only:
        return
    _print_keys(keys, small, bare_keys, args.count)
    print(f"  first sync of 20,000 in pages of 1,000 every 0.2 s: rows on screen "
          f"{_ms(sync['first_page_to_rows'])} after the first page landed; "
          f"{sync['shown_steps']} steps, {sync['rows_when_done']:,} rows when the last "
          f"page landed")


if __name__ == "__main__":
    main()
