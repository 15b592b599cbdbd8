"""Benchmark: saving and loading the invoice cache of one big Voximplant account.

Prints numbers; asserts nothing. The invoices are the emulator's own (the same
JSON the demo server sends for ``invoice_count=N``, parsed by the real provider
code), so rows and taxes are realistic. Printed: ``InvoiceCache.save`` and
``load`` wall time, the file size, whether the round trip is exact, and the
longest stretch a second thread (standing in for the UI) could not run while
``load`` worked: a ticker thread sleeps 1 ms in a loop and records its longest
gap between wake-ups. The same ticker is run idle first, as the floor. Garbage
collector pauses during the load are reported too (they also hold the GIL), and
the load is repeated with the collector off to separate the loader's own holds
from the collector's (full collections over a million new objects).

Usage: .venv/bin/python benchmarks/bench_cache.py [--count 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from invoice_tui.cache import CachedAccount, InvoiceCache  # noqa: E402
from invoice_tui.config import AccountConfig  # noqa: E402
from invoice_tui.demo import demo_account  # noqa: E402
from invoice_tui.demo.data import VoximplantInvoices  # noqa: E402
from invoice_tui.providers._http import loads  # noqa: E402
from invoice_tui.providers.voximplant import parse_page  # noqa: E402

PAGE = 1000


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


class GcPauses:
    """Collector pauses (count, longest, total) while active, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._callback)


def _invoices(count: int) -> tuple[Any, ...]:
    data = VoximplantInvoices(demo_account("vox-main"), dt.date(2026, 11, 15), count)
    invoices: list[Any] = []
    for offset in range(0, count, PAGE):
        invoices.extend(parse_page("vox-main", loads(data.page_json(offset, PAGE))).invoices)
    return tuple(invoices)


def main() -> int:
    """Save and load ``--count`` demo invoices through :class:`InvoiceCache`; print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    print(f"bench_cache: python {sys.version.split()[0]}, {args.count:,} Voximplant invoices "
          f"(switch interval {sys.getswitchinterval() * 1000:.0f} ms)")
    started = time.perf_counter()
    invoices = _invoices(args.count)
    lines = sum(len(invoice.lines) for invoice in invoices)
    taxes = sum(len(line.taxes) for invoice in invoices for line in invoice.lines)
    print(f"  generated in {time.perf_counter() - started:.1f} s: "
          f"{lines:,} lines, {taxes:,} taxes")
    cached = CachedAccount(invoices, dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC))
    account = AccountConfig("vox-main", "voximplant", {"credentials": "/keys/vox.json"})
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        cache = InvoiceCache(Path(tmp))
        started = time.perf_counter()
        cache.save(account, cached)
        save_s = time.perf_counter() - started
        size = cache.path_for(account).stat().st_size
        with Ticker() as idle:
            time.sleep(0.5)
        with Ticker() as ticker, GcPauses() as collector:
            started = time.perf_counter()
            loaded = cache.load(account)
            load_s = time.perf_counter() - started
        exact = loaded == cached
        del loaded
        # The same load with the collector off: what the loader itself holds the GIL for.
        gc.collect()
        gc.disable()
        try:
            with Ticker() as quiet:
                started = time.perf_counter()
                again = cache.load(account)
                quiet_s = time.perf_counter() - started
        finally:
            gc.enable()
        # Freed outside the ticker's window: dropping 100 000 invoices is one long
        # C-level cascade of deallocations, not part of loading.
        del again
        warnings = list(cache.warnings)
    print(f"  save:  {save_s:7.2f} s   file {size / 1e6:7.1f} MB")
    print(f"  load:  {load_s:7.2f} s   round trip exact: {exact}   warnings: {warnings or 'none'}")
    print(f"  longest gap of a 1 ms ticker thread: {1000 * ticker.longest:8.1f} ms during load "
          f"({1000 * idle.longest:.1f} ms idle)")
    print(f"  load with the GC off: {quiet_s:.2f} s, longest ticker gap "
          f"{1000 * quiet.longest:.1f} ms")
    pauses = collector.pauses
    if pauses:
        print(f"  GC during load: {len(pauses)} collections, longest {1000 * max(pauses):.1f} ms, "
              f"total {sum(pauses):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
