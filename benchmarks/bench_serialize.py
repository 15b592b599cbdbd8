"""Benchmark: the per-invoice CPU work of an export, without the network.

Prints numbers; asserts nothing. The demo's Voximplant data (the same bytes the
emulator sends) goes through every step an ``invoice-tui export`` takes after
the HTTP answer: JSON decoding, parsing into the model, ``invoice_to_dict``, the
store write (a whole sync through ``SyncWriter``, SQLite included; ``bench_store.py``
times the store alone), and the JSON and CSV exports. Each step is timed in CPU seconds
(``time.process_time``, the least noisy clock on a busy machine) as the best of
``--repeat`` runs, and each output's SHA-256 is printed so a change can show it
kept the bytes identical.

Usage: .venv/bin/python benchmarks/bench_serialize.py [--count 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from invoice_tui.config import AccountConfig  # noqa: E402
from invoice_tui.demo import demo_account  # noqa: E402
from invoice_tui.demo.data import VoximplantInvoices  # noqa: E402
from invoice_tui.export import iter_render  # noqa: E402
from invoice_tui.model import AccountSummary, Invoice, invoice_to_dict  # noqa: E402
from invoice_tui.providers._http import loads  # noqa: E402
from invoice_tui.providers.voximplant import parse_page  # noqa: E402
from invoice_tui.store import open_store  # noqa: E402
from invoice_tui.sync import STORE_BATCH_MAX  # noqa: E402

PAGE = 1000


def _best(repeat: int, step: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = step()
        best = min(best, time.process_time() - start)
    return best, result


def _digest(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:12]


def main() -> int:
    """Time each step on ``--count`` demo invoices and print µs per invoice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    today = dt.date(2026, 11, 15)
    data = VoximplantInvoices(demo_account("vox-main"), today, args.count)
    pages = [data.page_json(offset, PAGE) for offset in range(0, args.count, PAGE)]
    account = AccountConfig("vox-main", "voximplant", {})

    def parse(bodies: list[Any]) -> list[Invoice]:
        return [invoice for body in bodies for invoice in parse_page("vox-main", body).invoices]

    decode_s, bodies = _best(args.repeat, lambda: [loads(page) for page in pages])
    parse_s, invoices = _best(args.repeat, lambda: parse(bodies))

    def store_write() -> None:
        with tempfile.TemporaryDirectory() as directory:
            with open_store(Path(directory)).store as store:
                writer = store.begin_sync(account)
                for start in range(0, len(invoices), STORE_BATCH_MAX):
                    writer.add(invoices[start:start + STORE_BATCH_MAX])
                writer.finish(AccountSummary(), dt.datetime(2026, 11, 15, tzinfo=dt.UTC))

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("invoice_to_dict", lambda: [invoice_to_dict(invoice) for invoice in invoices]),
        ("store write", store_write),
        ("export json", lambda: "".join(iter_render(invoices, "json"))),
        ("export csv", lambda: "".join(iter_render(invoices, "csv"))),
        ("export csv --lines", lambda: "".join(iter_render(invoices, "csv", True))),
    ]
    count = len(invoices)
    print(f"bench_serialize: python {sys.version.split()[0]}, {count:,} invoices, "
          f"best of {args.repeat} (CPU time)")
    print(f"  {'JSON decode (Decimal numbers)':32} {1e6 * decode_s / count:8.1f} µs/invoice")
    print(f"  {'parse into the model':32} {1e6 * parse_s / count:8.1f} µs/invoice")
    for name, step in steps:
        seconds, output = _best(args.repeat, step)
        digest = f"  sha256 {_digest(output)}" if isinstance(output, str | bytes) else ""
        print(f"  {name:32} {1e6 * seconds / count:8.1f} µs/invoice{digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
