"""Benchmark: bulk PDF download (``invoice-tui pdfs`` / the TUI's ``D``).

Prints numbers; asserts nothing. The emulator runs in its own process
(``invoice-tui demo-server``), so this process's CPU time is the client's alone.
One Voximplant account of ``--count`` invoices, ``--latency-ms`` per request.
Side by side, in one run:

* before: the only way there was, ``sync.download_pdf`` once per invoice (what
  pressing ``d`` on each one does: a client per PDF, one at a time);
* ``pdfs.download_pdfs`` with ``[settings] concurrency`` 1 (one client, one at a time)
  and 8 (the default);
* ``download_pdfs`` again over the folder it filled (every file already there: each PDF
  is still downloaded to compare its size, and nothing is written).

Each line: wall time, the client's CPU time (``time.process_time``), and wall time
against the latency floor (``count × latency`` for one at a time).

Usage: .venv/bin/python benchmarks/bench_pdfs.py [--count 400] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from invoice_tui.config import Config, load_config  # noqa: E402
from invoice_tui.model import Invoice  # noqa: E402
from invoice_tui.pdfs import download_pdfs  # noqa: E402
from invoice_tui.sync import SyncSucceeded, download_pdf, sync_account  # noqa: E402

ACCOUNT = "vox-main"


def _start_server(folder: Path, count: int,
                  latency_ms: int) -> tuple[subprocess.Popen[bytes], Path]:
    config = folder / "demo.toml"
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - the server writes it until stopped
    server = subprocess.Popen(
        [sys.executable, "-m", "invoice_tui", "demo-server", "--latency-ms", str(latency_ms),
         "--invoice-count", str(count), "--write-config", str(config)],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    for _ in range(600):
        if b"Press Ctrl-C" in (folder / "server.log").read_bytes():
            return server, config
        time.sleep(0.05)
    server.kill()
    raise SystemExit("the demo server did not start")


def _measure(label: str, run: Callable[[], Awaitable[object]], floor: float) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(run())  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    against = f"  {wall / floor:5.2f}× the one-at-a-time latency floor" if floor else ""
    print(f"{label:<52} wall {wall:7.2f} s  client CPU {cpu:6.2f} s{against}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pdfs-") as temp:
        folder = Path(temp)
        server, config_file = _start_server(folder, args.count, args.latency_ms)
        try:
            config = load_config(config_file)
            config = dataclasses.replace(config, accounts=tuple(
                a for a in config.accounts if a.name == ACCOUNT))
            _run(config, folder, args.count, args.latency_ms / 1000)
        finally:
            server.terminate()
            server.wait(10)


def _run(config: Config, folder: Path, count: int, latency: float) -> None:
    account = config.accounts[0]
    outcome = asyncio.run(sync_account(account, config.settings))
    assert isinstance(outcome, SyncSucceeded)
    invoices: list[Invoice] = list(outcome.invoices)[:count]
    floor = len(invoices) * latency
    print(f"{len(invoices)} Voximplant PDFs, {latency * 1000:g} ms latency, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    single = folder / "single"

    async def one_by_one() -> None:
        settings = dataclasses.replace(config.settings, downloads=str(single))
        for invoice in invoices:
            await download_pdf(account, settings, invoice)

    def bulk(target: Path, concurrency: int) -> Callable[[], Awaitable[object]]:
        settings = dataclasses.replace(config.settings, concurrency=concurrency)
        return lambda: download_pdfs(dataclasses.replace(config, settings=settings),
                                     invoices, target)

    before = _measure("before: download_pdf per invoice (d on each)", one_by_one, floor)
    sequential = _measure("download_pdfs, concurrency 1", bulk(folder / "c1", 1), floor)
    concurrent = _measure("download_pdfs, concurrency 8", bulk(folder / "c8", 8), floor)
    again = _measure("download_pdfs, concurrency 8, all already there",
                     bulk(folder / "c8", 8), floor)
    print(f"concurrency 8 takes {concurrent / before:.2f}× the time of one download_pdf per "
          f"invoice ({concurrent / sequential:.2f}× concurrency 1); a rerun over a full "
          f"folder {again / concurrent:.2f}× the first run")
    saved = sum(1 for _ in (folder / "c8").rglob("*.pdf"))
    print(f"files: {saved} in the bulk folder, {sum(1 for _ in single.glob('*.pdf'))} single")


if __name__ == "__main__":
    main()
