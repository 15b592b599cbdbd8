"""Benchmark: the virtual InvoiceTable against Textual's stock DataTable on 100 000 invoices.

    .venv/bin/python benchmarks/bench_table.py [--count 100000]

Headless (``App.run_test``), for each widget in its own child process (so RSS is its own).
The InvoiceTable reads the invoices from a store (``store.SCHEMA``, filled once per count
and kept in the temp dir) as the app does; the DataTable gets them in memory:

* first paint: from mount (the store's indexes read / the rows handed to the DataTable)
  to the first frame drawn with rows
* filter: typing a 4-character query one character at a time, per keystroke to the frame
  (DataTable: clear + add_rows of the matching rows, the usual way to filter it)
* sort: by total, then reversed (DataTable: ``DataTable.sort`` with a Decimal key)
* memory: tracemalloc peak/current during a second, traced run; max RSS of the process

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from invoice_factory import synthetic_invoices  # noqa: E402
from rich.text import Text  # noqa: E402
from store_fill import load_view, put, store_in  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.strip import Strip  # noqa: E402
from textual.widget import Widget  # noqa: E402
from textual.widgets import DataTable  # noqa: E402

from invoice_tui.index import StoreReader, connect_reader  # noqa: E402
from invoice_tui.model import Invoice  # noqa: E402
from invoice_tui.store import DB_NAME, SCHEMA_VERSION  # noqa: E402
from invoice_tui.ui.widgets.invoice_table import InvoiceTable  # noqa: E402
from invoice_tui.view import (  # noqa: E402
    COLUMNS,
    ESTIMATE_MARK,
    InvoiceView,
    cell_text,
    search_text,
)

QUERY = "vox-"  # typed one character at a time
WIDGETS = ("virtual", "datatable")


class PaintClock:
    """When a widget last drew a line below its header (i.e. a frame with rows)."""

    def __init__(self) -> None:
        self.painted_at = 0.0


class PaintTimed:
    """Mixin: record in ``clock`` when a line below the header is drawn."""

    clock: PaintClock

    def render_line(self, y: int) -> Strip:
        strip: Strip = super().render_line(y)  # type: ignore[misc]
        if y > 0:
            self.clock.painted_at = time.perf_counter()
        return strip


class TimedInvoiceTable(PaintTimed, InvoiceTable):
    def __init__(self, clock: PaintClock, store: Path) -> None:
        super().__init__(InvoiceView(StoreReader(store)))
        self.clock = clock
        self.store = store


class TimedDataTable(PaintTimed, DataTable[Any]):
    def __init__(self, clock: PaintClock) -> None:
        super().__init__(cursor_type="row")
        self.clock = clock


def _cells(invoice: Invoice) -> tuple[object, ...]:
    """A DataTable row with the same content as the virtual table's."""
    return tuple(Text(cell_text(invoice, col.key), justify="right") if col.align == "right"
                 else cell_text(invoice, col.key) for col in COLUMNS)


def _amount(cell: object) -> Decimal:
    text = str(cell).replace(",", "").lstrip(ESTIMATE_MARK)
    return Decimal(text) if text else Decimal("-Infinity")


class Scenario:
    """One widget under test: load, filter and sort operations on it."""

    def __init__(self, kind: str, invoices: Sequence[Invoice], clock: PaintClock) -> None:
        self.kind = kind
        self.invoices = invoices
        self.clock = clock
        self.widget: Widget = (TimedInvoiceTable(clock, stored(invoices)) if kind == "virtual"
                               else TimedDataTable(clock))
        self.rows: list[tuple[object, ...]] = []
        self.haystacks: list[str] = []

    def load(self) -> None:
        if isinstance(self.widget, TimedInvoiceTable):
            load_view(self.widget.view, self.widget.store)  # as the app reads it
            self.widget.refresh_rows()
        else:
            table = self.widget
            assert isinstance(table, DataTable)
            for col in COLUMNS:
                table.add_column(col.title, key=col.key)
            self.rows = [_cells(invoice) for invoice in self.invoices]
            self.haystacks = [search_text(invoice) for invoice in self.invoices]
            table.add_rows(self.rows)

    def filter(self, text: str) -> None:
        if isinstance(self.widget, InvoiceTable):
            self.widget.set_query(text)
            return
        table = self.widget
        assert isinstance(table, DataTable)
        tokens = text.casefold().split()
        matching = [row for row, hay in zip(self.rows, self.haystacks, strict=True)
                    if all(token in hay for token in tokens)]
        table.clear()
        table.add_rows(matching)

    def sort_total(self, reverse: bool) -> None:
        if isinstance(self.widget, InvoiceTable):
            self.widget.sort_by("total", reverse=reverse)
            return
        assert isinstance(self.widget, DataTable)
        self.widget.sort("total", key=_amount, reverse=reverse)


def stored(invoices: Sequence[Invoice]) -> Path:
    """The path of a store holding ``invoices`` (synthetic, so the same for a count): built
    once, by the store's own sync writer."""
    directory = Path(tempfile.gettempdir()) / (
        f"invoice-tui-bench-table-v{SCHEMA_VERSION}-{len(invoices)}")
    conn = connect_reader(directory / DB_NAME)
    if conn is not None:
        count = conn.execute("SELECT count(*) FROM invoices").fetchone()[0]
        conn.close()
        if count == len(invoices):
            return directory / DB_NAME
    shutil.rmtree(directory, ignore_errors=True)
    with store_in(directory) as store:
        put(store, invoices)
    return directory / DB_NAME


class BenchApp(App[None]):
    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario
        self.mounted_at = 0.0

    def compose(self) -> ComposeResult:
        yield self.scenario.widget

    def on_mount(self) -> None:
        self.mounted_at = time.perf_counter()
        self.scenario.load()


async def _until_painted(pilot: Any, clock: PaintClock, since: float) -> float:
    """Seconds from ``since`` to the first frame drawn after it."""
    for _ in range(100):
        await pilot.pause()
        if clock.painted_at > since:
            return clock.painted_at - since
    raise RuntimeError("no frame was drawn")


async def _timed(pilot: Any, clock: PaintClock, action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return await _until_painted(pilot, clock, start)


async def run(kind: str, invoices: Sequence[Invoice], *, traced: bool) -> dict[str, Any]:
    clock = PaintClock()
    scenario = Scenario(kind, invoices, clock)
    app = BenchApp(scenario)
    result: dict[str, Any] = {}
    if traced:
        tracemalloc.start()
    async with app.run_test(size=(160, 40)) as pilot:
        await _until_painted(pilot, clock, 0.0)
        result["first_paint"] = clock.painted_at - app.mounted_at
        if traced:
            result["traced_current_mb"] = tracemalloc.get_traced_memory()[0] / 2**20
        keystrokes = []
        for length in range(1, len(QUERY) + 1):
            keystrokes.append(await _timed(pilot, clock,
                                           lambda n=length: scenario.filter(QUERY[:n])))
        result["filter_mean"] = statistics.fmean(keystrokes)
        result["filter_max"] = max(keystrokes)
        await _timed(pilot, clock, lambda: scenario.filter(""))
        result["sort_total"] = await _timed(pilot, clock, lambda: scenario.sort_total(True))
        result["sort_reverse"] = await _timed(pilot, clock, lambda: scenario.sort_total(False))
    if traced:
        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def child(kind: str, count: int) -> dict[str, Any]:
    invoices = synthetic_invoices(count)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timings = asyncio.run(run(kind, invoices, traced=False))
    timings["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timings["rss_over_data_mb"] = timings["max_rss_mb"] - rss_before
    memory = asyncio.run(run(kind, invoices, traced=True))
    timings["traced_peak_mb"] = memory["traced_peak_mb"]
    timings["traced_current_mb"] = memory["traced_current_mb"]
    return timings


ROWS = (
    ("first paint (mount → frame with rows)", "first_paint", "s"),
    (f"filter keystroke, mean of {len(QUERY)}", "filter_mean", "ms"),
    (f"filter keystroke, max of {len(QUERY)}", "filter_max", "ms"),
    ("sort by total", "sort_total", "ms"),
    ("sort by total, reversed", "sort_reverse", "ms"),
    ("tracemalloc after first paint", "traced_current_mb", "MB"),
    ("tracemalloc peak (whole run)", "traced_peak_mb", "MB"),
    ("max RSS of the process", "max_rss_mb", "MB"),
    ("RSS above the invoice data", "rss_over_data_mb", "MB"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--child", choices=WIDGETS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.count)))
        return
    results = {}
    for kind in WIDGETS:
        output = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--count", str(args.count)],
            check=True, capture_output=True, text=True,
        ).stdout
        results[kind] = json.loads(output.strip().splitlines()[-1])
    print(f"invoice table benchmark: {args.count:,} invoices, query {QUERY!r}, "
          f"textual headless 160x40, Python {sys.version.split()[0]}")
    print(f"{'':40} {'InvoiceTable':>14} {'DataTable':>14} {'ratio':>8}")
    for title, key, unit in ROWS:
        scale = 1000 if unit == "ms" else 1
        ours, stock = results["virtual"][key] * scale, results["datatable"][key] * scale
        ratio = f"{stock / ours:7.1f}x" if ours > 0 else ""
        print(f"{title:40} {ours:11.1f} {unit:2} {stock:11.1f} {unit:2} {ratio:>8}")


if __name__ == "__main__":
    main()
