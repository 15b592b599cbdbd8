"""Benchmark: the SQLite invoice store with one big Voximplant account.

Prints numbers; asserts nothing. The invoices are the emulator's own (the same
JSON the demo server sends for ``invoice_count=N``, parsed by the real provider
code), so rows and taxes are realistic. Printed, wall time and CPU time:

* a whole sync written through ``SyncWriter`` (``begin_sync``, ``add`` in batches,
  ``finish``) for several batch sizes: one page per transaction, as writing each
  page on arrival would be, against the batches ``sync`` makes; then a refresh
  over the stored rows (every invoice an upsert of an existing one);
* the database size; ``open_store`` (with its ``PRAGMA quick_check``) and
  ``account_states``, which the TUI and ``export --offline`` pay at start;
* ``load_headers`` (what the TUI reads), with the longest stretch a second thread
  (standing in for the UI) could not run meanwhile: a ticker thread sleeps 1 ms in
  a loop and records its longest gap (run idle first, as the floor);
* ``lines`` of one invoice (the detail view), median and worst of 1,000 lookups;
* ``iter_invoices`` (``export --offline``) with and without lines, and whether the
  round trip is exact.

Usage: .venv/bin/python benchmarks/bench_store.py [--count 100000] [--batches 50,1000,5000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from invoice_tui.config import AccountConfig  # noqa: E402
from invoice_tui.demo import demo_account  # noqa: E402
from invoice_tui.demo.data import VoximplantInvoices  # noqa: E402
from invoice_tui.export import sort_for_export  # noqa: E402
from invoice_tui.model import AccountSummary, Invoice  # noqa: E402
from invoice_tui.providers._http import loads  # noqa: E402
from invoice_tui.providers.voximplant import parse_page  # noqa: E402
from invoice_tui.store import DB_NAME, InvoiceStore, open_store  # noqa: E402
from invoice_tui.sync import STORE_BATCH_MAX  # noqa: E402

PAGE = 1000
ACCOUNT = AccountConfig("vox-main", "voximplant", {"credentials": "/keys/vox.json"})
SYNCED_AT = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)


class Ticker:
    """A thread that wakes every millisecond and keeps the longest gap between wake-ups."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> Ticker:
        self._thread.start()
        time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _timed(step: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _invoices(count: int) -> list[Invoice]:
    data = VoximplantInvoices(demo_account("vox-main"), dt.date(2026, 11, 15), count)
    invoices: list[Invoice] = []
    for offset in range(0, count, PAGE):
        invoices.extend(parse_page("vox-main", loads(data.page_json(offset, PAGE))).invoices)
    return invoices


def _sync(store: InvoiceStore, invoices: Sequence[Invoice], batch: int) -> int:
    """Write ``invoices`` as one complete sync, ``batch`` invoices per transaction."""
    writer = store.begin_sync(ACCOUNT)
    for start in range(0, len(invoices), batch):
        writer.add(invoices[start:start + batch])
    writer.finish(AccountSummary(), SYNCED_AT)
    return -(-len(invoices) // batch)


def _line(label: str, wall: float, cpu: float, extra: str = "") -> None:
    print(f"  {label:44} {wall:7.2f} s wall {cpu:7.2f} s CPU{extra}")


def _writes(directory: Path, invoices: list[Invoice], batches: list[int]) -> None:
    for batch in batches:
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            with open_store(Path(scratch)).store as store:
                wall, cpu, transactions = _timed(lambda: _sync(store, invoices, batch))  # noqa: B023 - called at once
            _line(f"write, {batch:,} per transaction ({transactions:,} tx)", wall, cpu,
                  f"   {len(invoices) / wall:9,.0f} invoices/s")


def _reads(directory: Path, invoices: list[Invoice]) -> None:
    wall, cpu, opened = _timed(lambda: open_store(directory))
    _line("open_store (quick_check)", wall, cpu, f"   warnings: {list(opened.warnings) or 'none'}")
    with opened.store as store:
        wall, cpu, _ = _timed(lambda: store.account_states([ACCOUNT]))
        _line("account_states", wall, cpu)
        with Ticker() as idle:
            time.sleep(0.3)
        with Ticker() as ticker:
            wall, cpu, headers = _timed(lambda: store.load_headers(ACCOUNT))
        _line(f"load_headers ({len(headers.invoices):,})", wall, cpu,
              f"   ticker gap {1000 * ticker.longest:.0f} ms ({1000 * idle.longest:.0f} idle)")
        del headers
        ids = [invoice.id for invoice in random.Random(7).sample(invoices, 1000)]
        times = []
        for invoice_id in ids:
            started = time.perf_counter()
            store.lines(ACCOUNT, invoice_id)
            times.append(time.perf_counter() - started)
        print(f"  {'lines of one invoice (1,000 lookups)':44} median "
              f"{1000 * statistics.median(times):.2f} ms, worst {1000 * max(times):.2f} ms")
        wall, cpu, streamed = _timed(lambda: list(store.iter_invoices([ACCOUNT])))
        exact = streamed == sort_for_export(invoices)
        del streamed
        _line("iter_invoices with lines", wall, cpu, f"   round trip exact: {exact}")
        wall, cpu, _ = _timed(lambda: sum(1 for _ in store.iter_invoices([ACCOUNT],
                                                                          lines=False)))
        _line("iter_invoices, headers only", wall, cpu)


def main() -> int:
    """Write and read ``--count`` demo invoices through the store; print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batches", default=f"50,1000,{STORE_BATCH_MAX}",
                        help="invoices per write transaction, comma-separated")
    args = parser.parse_args()
    batches = [int(batch) for batch in args.batches.split(",")]
    print(f"bench_store: python {sys.version.split()[0]}, {args.count:,} Voximplant invoices")
    wall, _, invoices = _timed(lambda: _invoices(args.count))
    lines = sum(len(invoice.lines) for invoice in invoices)
    taxes = sum(len(line.taxes) for invoice in invoices for line in invoice.lines)
    print(f"  generated in {wall:.1f} s: {lines:,} lines, {taxes:,} taxes")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        directory = Path(tmp)
        _writes(directory, invoices, batches)
        with open_store(directory / "store").store as store:
            _sync(store, invoices, STORE_BATCH_MAX)
            wall, cpu, _ = _timed(lambda: _sync(store, invoices, STORE_BATCH_MAX))
            _line("refresh: the same sync again (all upserts)", wall, cpu)
        files = list((directory / "store").glob(f"{DB_NAME}*"))
        size = sum(path.stat().st_size for path in files)
        print(f"  {'database size (with -wal/-shm)':44} {size / 1e6:7.1f} MB "
              f"({size / len(invoices):,.0f} bytes per invoice)")
        _reads(directory / "store", invoices)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
