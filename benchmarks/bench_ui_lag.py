"""Benchmark: how long the TUI's event loop stalls while a big account syncs and lands.

    .venv/bin/python benchmarks/bench_ui_lag.py [--count 100000] [--latency-ms 0]

Runs the real app headless (``App.run_test``) on the emulator (real HTTP on loopback)
with each demo Voximplant account at ``--count`` invoices, samples the event loop every
10 ms (a key press waits at least that long to be handled) and prints the worst stalls,
when the sync landed and when its invoices were in the table, and the garbage
collector's share.
Then it starts the app again on the store that sync wrote (stale-while-revalidate) and
prints the same. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from invoice_tui.demo import demo_environment  # noqa: E402
from invoice_tui.ui.app import InvoiceApp  # noqa: E402
from invoice_tui.ui.screens.main import MainScreen  # noqa: E402

BIG = "vox-main"  # the big account whose landing is timed (vox-eu gets --count too)
SAMPLE = 0.01  # seconds between event-loop samples


class GcClock:
    """Total and worst time spent in full (generation 2) collections."""

    def __init__(self) -> None:
        self.started = 0.0
        self.full: list[float] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif info["generation"] == 2:
            self.full.append(time.perf_counter() - self.started)


async def measure(app: InvoiceApp, label: str, limit: float) -> None:
    """Sample the loop until the big account's sync has landed in the table (or ``limit``)."""
    clock = GcClock()
    gc.callbacks.append(clock)
    start = time.perf_counter()
    stalls: list[tuple[float, float]] = []
    landed = shown = cached = None
    try:
        async with app.run_test(size=(140, 40)):
            mounted = time.perf_counter() - start
            while time.perf_counter() - start < limit:
                before = time.perf_counter()
                await asyncio.sleep(SAMPLE)
                now = time.perf_counter()
                stalls.append((before - start, now - before - SAMPLE))
                screen = app.screen
                if not isinstance(screen, MainScreen):
                    continue
                big = screen.table.view.total_count > 1000
                if landed is None and screen.pane.states[BIG].phase == "synced":
                    landed = now - start
                if big and landed is None and cached is None:
                    cached = now - start
                if big and landed is not None and shown is None:
                    shown = now - start
                if shown is not None and now - start > shown + 2:
                    break
            app.exit()
    finally:
        gc.callbacks.remove(clock)
    worst = sorted(stalls, key=lambda s: -s[1])[:5]
    lags = sorted(lag for _, lag in stalls)
    print(f"{label}:")
    print(f"  mounted after {mounted:.2f} s; cached invoices shown at {_s(cached)}; "
          f"sync landed at {_s(landed)}; its invoices in the table at {_s(shown)}")
    median, p95 = lags[len(lags) // 2], lags[int(len(lags) * 0.95)]
    print(f"  loop stalls: median {_ms(median)}, p95 {_ms(p95)}, worst "
          + ", ".join(f"{_ms(lag)} at {at:.1f} s" for at, lag in worst))
    print(f"  full GC collections: {len(clock.full)}, worst {_ms(max(clock.full, default=0))}, "
          f"total {sum(clock.full):.2f} s")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--limit", type=float, default=300, help="give up after seconds")
    args = parser.parse_args()
    with demo_environment(invoice_count=args.count, latency_ms=args.latency_ms) as env:
        asyncio.run(measure(InvoiceApp(env.config, env.store), "first sync (empty store)",
                            args.limit))
        asyncio.run(measure(InvoiceApp(env.config, env.store),
                            "restart (stored, then refreshed)", args.limit))


if __name__ == "__main__":
    main()
