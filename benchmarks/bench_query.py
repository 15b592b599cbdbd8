"""Benchmark: the `/` query on the view alone, per key typed, in CPU time (no UI, no frames).

    .venv/bin/python benchmarks/bench_query.py [--count 100000] [--runs 3] [--totals]

Over the store ``bench_tui.py`` builds (``--count`` Voximplant invoices × 2 lines), each
query is typed one key at a time into :class:`invoice_tui.view.InvoiceView`; a key's cost
is the process CPU time of ``set_query`` and reading the rows' count (``--totals``: and
summing their totals, which the app does in a thread after the frame). The best of
``--runs`` per key, so another job on the machine inflates it the least. Prints numbers;
asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_tui import build_store  # noqa: E402
from store_fill import load_view  # noqa: E402

from invoice_tui.index import StoreReader  # noqa: E402
from invoice_tui.store import DB_NAME  # noqa: E402
from invoice_tui.view import InvoiceView  # noqa: E402

#: Words (as before field terms), field terms typed on, and negations: each key of a
#: negated word keeps more than the key before, so it is scanned afresh.
QUERIES = ("0999", "status:issued total>100", "currency:usd due<2026-06", "-status:cancelled",
           "-0999")


def typed(view: InvoiceView, query: str, totals: bool) -> list[float]:
    """CPU seconds of each key of ``query``, typed from an empty box."""
    spent = []
    for end in range(1, len(query) + 1):
        started = time.process_time()
        view.set_query(query[:end])
        len(view.rows)
        if totals:
            view.totals()
        spent.append(time.process_time() - started)
    view.set_query("")
    len(view.rows)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--totals", action="store_true")
    args = parser.parse_args()
    path = build_store(args.count) / DB_NAME
    view = load_view(InvoiceView(StoreReader(path)), path)
    len(view.rows)
    print(f"/ query on {view.total_count:,} invoices, per key typed: CPU ms of the rows"
          f"{' and their totals' if args.totals else ''} (best of {args.runs})")
    for query in QUERIES:
        best = [min(key) * 1000 for key in zip(*(typed(view, query, args.totals)
                                                 for _ in range(args.runs)), strict=True)]
        print(f"  {query!r:28} median {statistics.median(best):5.1f}, max {max(best):5.1f}, "
              f"all keys {sum(best):6.0f}:  " + " ".join(f"{ms:.0f}" for ms in best))


if __name__ == "__main__":
    main()
