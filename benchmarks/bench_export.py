"""Benchmark: `invoice-tui export` of one big Voximplant account vs an SDK-style loop.

Prints numbers; asserts nothing. Both sides talk to the same emulator (its own
process, ``invoice-tui demo-server``, one per case, so both see the same server
settings: latency, invoice count, the page size it honours) over real HTTP on
loopback, alternating within one run:

* export     — the real code path: ``cli.main(["export", ...])`` → ``sync_all`` →
               the Voximplant provider (concurrent pages) → cache save → JSON file.
* sequential — what the official SDKs' ``get_account_invoices`` loop does: one
               ``GetAccountInvoices`` at a time with the same ``count``, advancing
               ``offset`` until ``total_count`` (by what actually arrived, so a
               server-side cap cannot make it skip invoices), parsed into the model
               by the same parser (so a faster parser speeds up both sides) and
               kept, as the caller collecting an account's invoices keeps them.
* fetch alone (``--fetch-alone``) — ``sync_all`` without cache or output, the cyclic
               GC paused as in the export: the export's time minus this is the
               store's share, the sort and the JSON.

Each side's CPU time is counted whole: this process's, that of the forked children it
waited for (the export's store writers and its half of the JSON), and the emulator's
(read from ``/proc``, where there is one). Their sum over the machine's CPUs is the
least time the side could take however well its work were spread: the *CPU floor*,
printed beside each side and, for the export, as a ratio to the loop's time.

The two targets of issue 8, each a median of ``--repeat`` runs:

* 100,000 invoices at 0 ms latency (CPU-bound): export time ≤ 0.8× the loop's;
* 5,000 invoices at 200 ms latency: no regression; also shown against the
  latency floor, ``ceil(pages / concurrency) × latency``.

Usage: .venv/bin/python benchmarks/bench_export.py [--repeat 3] [--big 100000]
       [--skip-big] [--skip-small] [--fetch-alone]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from invoice_tui import cli, gc_policy  # noqa: E402
from invoice_tui.config import load_config, save_config  # noqa: E402
from invoice_tui.model import Invoice  # noqa: E402
from invoice_tui.providers.voximplant import TokenSigner, load_credentials, parse_page  # noqa: E402
from invoice_tui.sync import SyncFailed, SyncOutcome, sync_all  # noqa: E402

ACCOUNT = "vox-main"  # a demo account ``--invoice-count`` sizes (it sizes each one)


@dataclass(frozen=True)
class Case:
    """One benchmark case: the server's settings and the client's."""

    title: str
    invoices: int
    latency_ms: int
    count_cap: int  # the largest page the server returns; both sides ask for this many
    concurrency: int = 8


@dataclass(frozen=True)
class Run:
    """One timed run: wall seconds, this process's CPU seconds, invoices seen, and the CPU
    seconds of the children it waited for and of the emulator (``None``: not readable)."""

    wall: float
    cpu: float
    invoices: int
    children: float = 0.0
    server: float | None = None

    @property
    def all_cpu(self) -> float:
        """CPU seconds of the whole side: this process, its children, the emulator."""
        return self.cpu + self.children + (self.server or 0.0)


class Emulator:
    """The running emulator: the config it wrote, and its CPU seconds so far (``None``
    where ``/proc`` does not tell)."""

    def __init__(self, config_path: Path, pid: int) -> None:
        self.config_path = config_path
        self.stat = Path(f"/proc/{pid}/stat")

    def cpu(self) -> float | None:
        try:
            fields = self.stat.read_text().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        except (OSError, ValueError, IndexError):
            return None


@contextlib.contextmanager
def emulator(root: Path, case: Case) -> Iterator[Emulator]:
    """Run ``invoice-tui demo-server`` as its own process; yields it once it listens.

    A separate process, like a real server: an in-process emulator's threads would
    compete with the client for the GIL and the benchmark would measure that.
    """
    config_path = root / "config.toml"
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "invoice_tui", "demo-server",
             "--latency-ms", str(case.latency_ms), "--invoice-count", str(case.invoices),
             "--count-cap", str(case.count_cap), "--write-config", str(config_path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            while b"Press Ctrl-C" not in log_path.read_bytes():
                if process.poll() is not None:
                    raise SystemExit(f"demo-server exited: {log_path.read_text()}")
                time.sleep(0.05)
            yield Emulator(config_path, process.pid)
        finally:
            process.send_signal(signal.SIGTERM)  # SIGINT is ignored in a background job
            process.wait(timeout=30)


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def _timed(work: Callable[[], int | Callable[[], int]], server: Emulator) -> Run:
    """Run ``work``; it returns the invoices it saw, or a function counting them untimed.

    The emulator is reaped only after the last run, so the children's CPU counted here
    is that of the forked children ``work`` waited for.
    """
    served, children = server.cpu(), _children_cpu()
    wall, cpu = time.perf_counter(), time.process_time()
    count = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    children = _children_cpu() - children
    now = server.cpu()
    server_cpu = now - served if now is not None and served is not None else None
    return Run(wall, cpu, count if isinstance(count, int) else count(), children, server_cpu)


def _export(config_path: Path, root: Path) -> Callable[[], int]:
    """The real export command for ACCOUNT (fetch + cache + JSON file); counts what it wrote."""
    output = root / "export.json"
    code = cli.main(["export", "--config", str(config_path), "--cache-dir", str(root / "cache"),
                     "--account", ACCOUNT, "--output", str(output)])
    if code != 0:
        raise SystemExit(f"export failed with exit code {code}")

    def count() -> int:
        with output.open("rb") as file:
            return sum(1 for line in file if line.startswith(b'    "account": '))
    return count


def _fetch_alone(config_path: Path) -> int:
    """The fetch phase alone (``sync_all`` without cache or rendering); invoices fetched."""
    outcomes: dict[str, SyncOutcome] = {}

    async def fetch() -> None:
        # Returns nothing, as cli._collect does: Python 3.11's asyncio.run reprs the main
        # task, result included, when it restores the SIGINT handler (seconds for 100k).
        outcomes.update(await sync_all(load_config(config_path), [ACCOUNT]))

    with gc_policy.paused():  # as the export fetches
        asyncio.run(fetch())
    outcome = outcomes[ACCOUNT]
    if isinstance(outcome, SyncFailed):
        raise SystemExit(f"sync failed: {outcome.error}")
    return len(outcome.invoices)


def _sequential(config_path: Path, page_size: int) -> int:
    """An SDK-style one-page-at-a-time loop (fetch + parse); invoices fetched.

    It keeps every invoice, as a caller collecting an account's invoices does and as
    the export does: holding 100,000 invoices has a cost of its own (the cyclic GC
    rescans what is alive), which both sides then pay.
    """
    options = load_config(config_path).account(ACCOUNT).options
    signer = TokenSigner(load_credentials(options["credentials"]))
    url = f"{options['base_url']}/GetAccountInvoices"
    invoices: list[Invoice] = []
    with httpx.Client(timeout=60) as client:
        while True:
            response = client.post(url, headers=signer.headers(),
                                   data={"count": str(page_size), "offset": str(len(invoices))})
            page = parse_page(ACCOUNT, json.loads(response.content, parse_float=Decimal))
            invoices += page.invoices
            if not page.invoices or (page.total_count is not None
                                     and len(invoices) >= page.total_count):
                return len(invoices)


def _median(runs: list[Run]) -> Run:
    served = [r.server for r in runs if r.server is not None]
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
               runs[0].invoices, statistics.median(r.children for r in runs),
               statistics.median(served) if len(served) == len(runs) else None)


def _show(label: str, runs: list[Run]) -> Run:
    median = _median(runs)
    walls = " ".join(f"{r.wall:.2f}" for r in runs)
    cpus = os.cpu_count() or 1
    served = "n/a" if median.server is None else f"{median.server:.2f} s"
    print(f"  {label:<44} {median.wall:7.2f} s  (runs {walls}; client CPU {median.cpu:.2f} s)  "
          f"{median.invoices / median.wall:8,.0f} invoices/s\n"
          f"  {'':<44} CPU: client {median.cpu:.2f} + its children {median.children:.2f} "
          f"+ emulator {served} = {median.all_cpu:.2f} s; floor on {cpus} CPUs "
          f"{median.all_cpu / cpus:.2f} s")
    return median


def run_case(case: Case, repeat: int, fetch_alone: bool) -> dict[str, Run]:
    """Time the export, the SDK-style loop (and optionally the fetch alone), ``repeat`` times."""
    pages = math.ceil(case.invoices / case.count_cap)
    print(f"\n{case.title}: {case.invoices:,} Voximplant invoices, latency {case.latency_ms} "
          f"ms/request, {case.count_cap}/page asked and served ({pages} pages), "
          f"concurrency {case.concurrency}, median of {repeat}")
    runs: dict[str, list[Run]] = {"export": [], "fetch": [], "sequential": []}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        with emulator(root, case) as server:
            config_path = server.config_path
            data = load_config(config_path).to_data()
            data["settings"] = {"page_size": case.count_cap, "concurrency": case.concurrency}
            save_config(config_path, data)
            for index in range(repeat):
                # Alternate which side goes first, so neither always meets a warmer machine.
                sides: list[tuple[str, Callable[[], int | Callable[[], int]]]] = [
                    ("export", lambda: _export(config_path, root)),
                    ("sequential", lambda: _sequential(config_path, case.count_cap)),
                ]
                if fetch_alone:
                    sides.append(("fetch", lambda: _fetch_alone(config_path)))
                for name, work in sides if index % 2 == 0 else sides[::-1]:
                    run = _timed(work, server)
                    if run.invoices != case.invoices:
                        raise SystemExit(f"{name} saw {run.invoices:,} invoices, "
                                         f"not {case.invoices:,}")
                    runs[name].append(run)
    medians = {"export": _show("export command (fetch + cache + JSON file):", runs["export"])}
    if fetch_alone:
        medians["fetch"] = _show("fetch alone (sync_all, no cache or output):", runs["fetch"])
    medians["sequential"] = _show("sequential SDK-style loop (fetch + parse):",
                                  runs["sequential"])
    return medians


def main() -> int:
    """Run the benchmark cases and print their numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; medians shown")
    parser.add_argument("--big", type=int, default=100_000, help="size of the big case")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-small", action="store_true")
    parser.add_argument("--fetch-alone", action="store_true",
                        help="also time sync_all alone (no cache, no output)")
    args = parser.parse_args()
    print(f"bench_export: python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    summary: list[str] = []
    if not args.skip_big:
        big = Case("CPU-bound", args.big, latency_ms=0, count_cap=1000)
        result = run_case(big, args.repeat, args.fetch_alone)
        exported, loop = result["export"], result["sequential"]
        floor = exported.all_cpu / (os.cpu_count() or 1) / loop.wall
        summary.append(f"{big.invoices:,} @ 0 ms: export takes {exported.wall / loop.wall:.2f}x "
                       f"the SDK loop's time (target <= 0.80x); its CPU alone, spread evenly "
                       f"over every CPU, would take {floor:.2f}x")
    if not args.skip_small:
        small = Case("Latency-bound", 5_000, latency_ms=200, count_cap=50)
        result = run_case(small, args.repeat, args.fetch_alone)
        floor = math.ceil(small.invoices / small.count_cap / small.concurrency) \
            * small.latency_ms / 1000
        seq, export = result["sequential"].wall, result["export"].wall
        line = (f"5,000 @ 200 ms: export {seq / export:.1f}x faster than the SDK loop, "
                f"{export / floor:.2f}x the latency floor ({floor:.1f} s)")
        if "fetch" in result:
            fetch = result["fetch"].wall
            line += f"; fetch alone {seq / fetch:.1f}x faster, {fetch / floor:.2f}x the floor"
        summary.append(line)
    print("\nTargets (issue 8):")
    for line in summary:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
