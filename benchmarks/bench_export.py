"""Benchmark: `invoice-tui export` for one big Voximplant account vs an SDK-style loop.

Prints numbers; asserts nothing. Both sides talk to the same emulator (its own
process, ``invoice-tui demo-server``) over real HTTP on loopback in the same run:

* export     — the real code path: ``cli.main(["export", ...])`` → ``sync_all`` →
               the Voximplant provider (concurrent pages) → JSON written to a file.
* sequential — what the official SDKs' ``get_account_invoices`` loop does: one
               ``GetAccountInvoices`` at a time with ``count=page_size``, advancing
               ``offset`` until ``total_count`` (by what actually arrived, so a
               server-side cap cannot make it skip invoices), parsed into the model.

Usage: .venv/bin/python benchmarks/bench_export.py [--big 100000] [--skip-big]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from invoice_tui import cli  # noqa: E402
from invoice_tui.config import Settings, load_config, save_config  # noqa: E402
from invoice_tui.providers.voximplant import TokenSigner, load_credentials, parse_page  # noqa: E402
from invoice_tui.sync import SyncFailed, sync_all  # noqa: E402

ACCOUNT = "vox-main"  # a demo account ``--invoice-count`` sizes (it sizes each one)


@contextlib.contextmanager
def emulator(root: Path, count: int, latency_ms: int, count_cap: int) -> Iterator[Path]:
    """Run ``invoice-tui demo-server`` as its own process; yields the config it wrote.

    A separate process, like a real server: an in-process emulator's threads would
    compete with the client for the GIL and the benchmark would measure that.
    """
    config_path = root / "config.toml"
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "invoice_tui", "demo-server", "--latency-ms", str(latency_ms),
             "--invoice-count", str(count), "--count-cap", str(count_cap),
             "--write-config", str(config_path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            while b"Press Ctrl-C" not in log_path.read_bytes():
                if process.poll() is not None:
                    raise SystemExit(f"demo-server exited: {log_path.read_text()}")
                time.sleep(0.05)
            yield config_path
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


def _export(config_path: Path, root: Path, settings: Settings) -> tuple[float, int]:
    """Wall time of the real export command for ACCOUNT, and how many invoices it wrote."""
    data = load_config(config_path).to_data()
    data["settings"] = {"page_size": settings.page_size, "concurrency": settings.concurrency}
    save_config(config_path, data)
    output = root / "export.json"
    started = time.perf_counter()
    code = cli.main(["export", "--config", str(config_path), "--cache-dir", str(root / "cache"),
                     "--account", ACCOUNT, "--output", str(output)])
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"export failed with exit code {code}")
    return elapsed, len(json.loads(output.read_text(encoding="utf-8")))


def _sync_only(config_path: Path) -> float:
    """Wall time of the fetch phase alone (``sync_all`` without cache or rendering)."""
    config = load_config(config_path)
    started = time.perf_counter()
    outcome = asyncio.run(sync_all(config, [ACCOUNT]))[ACCOUNT]
    if isinstance(outcome, SyncFailed):
        raise SystemExit(f"sync failed: {outcome.error}")
    return time.perf_counter() - started


def _sequential(config_path: Path, page_size: int) -> tuple[float, int, int]:
    """Wall time of an SDK-style one-page-at-a-time loop; invoices and pages fetched."""
    options = load_config(config_path).account(ACCOUNT).options
    signer = TokenSigner(load_credentials(options["credentials"]))
    url = f"{options['base_url']}/GetAccountInvoices"
    invoices = pages = offset = 0
    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        while True:
            response = client.post(url, headers=signer.headers(),
                                   data={"count": str(page_size), "offset": str(offset)})
            page = parse_page(ACCOUNT, json.loads(response.content, parse_float=Decimal))
            pages += 1
            invoices += len(page.invoices)
            offset += len(page.invoices)
            if not page.invoices or (page.total_count is not None and offset >= page.total_count):
                break
    return time.perf_counter() - started, invoices, pages


def _case(count: int, latency_ms: int, count_cap: int, settings: Settings) -> None:
    print(f"\n{count:,} Voximplant invoices, latency {latency_ms} ms/request, "
          f"page_size {settings.page_size} asked, server cap {count_cap}/page, "
          f"concurrency {settings.concurrency}")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        with emulator(root, count, latency_ms, count_cap) as config_path:
            export_s, exported = _export(config_path, root, settings)
            sync_s = _sync_only(config_path)
            seq_s, fetched, pages = _sequential(config_path, settings.page_size)
        print(f"  export command (fetch + cache + JSON file):    {export_s:8.2f} s  "
              f"{exported:,} invoices  {exported / export_s:8,.0f}/s")
        print(f"  fetch alone (sync_all, no cache or output):    {sync_s:8.2f} s  "
              f"{exported / sync_s:8,.0f}/s")
        print(f"  sequential SDK-style loop (fetch + parse):     {seq_s:8.2f} s  "
              f"{fetched:,} invoices  {fetched / seq_s:8,.0f}/s  ({pages} pages)")
        print(f"  speed-up of the fetch: {seq_s / sync_s:.1f}x; "
              f"of the whole export: {seq_s / export_s:.1f}x")


def main() -> int:
    """Run the benchmark cases and print their numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--big", type=int, default=100_000, help="size of the big case")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    print(f"bench_export: python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    _case(5_000, args.latency_ms, 50, Settings())
    if not args.skip_big:
        # The big case asks for the largest page the config allows (1000) so it stays quick.
        _case(args.big, args.latency_ms, 1000, Settings(page_size=1000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
