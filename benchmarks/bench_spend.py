"""Benchmark: building the spend-by-month table for 100 000 invoices (issue 9 §1).

    .venv/bin/python benchmarks/bench_spend.py [--count 100000] [--repeat 5]

The invoices (``tests/invoice_factory.synthetic_invoices``: 5 accounts, 3 currencies,
every status, ~40 months) are stored once in a temp store and read into the compact
indexes the TUI holds (``index.load_account``), then timed, in CPU seconds
(``time.process_time``: the least noisy clock on a shared machine), best of ``--repeat``:

* cold: what ``m`` costs after a data change — every account summed per month
  (``spend.account_spend``, through ``meaning.money_totals``) and the table laid out
* warm: what ``m`` costs again — the sums kept by ``SpendBook``, only the layout
* the status line's totals over the same invoices (one ``money_totals`` pass), side by
  side, as the yardstick: the cold build does the same sums, grouped by month

Two layouts of the same invoices: ``shuffled`` (stored in random date order: each month's
invoices spread over the whole account, the worst case for memory locality) and
``by date`` (stored newest first, as a provider's pages arrive). Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from invoice_factory import synthetic_invoices  # noqa: E402
from store_fill import read_index, store_of, stored_accounts  # noqa: E402

from invoice_tui.index import AccountIndex  # noqa: E402
from invoice_tui.meaning import money_totals  # noqa: E402
from invoice_tui.model import Invoice  # noqa: E402
from invoice_tui.spend import SpendBook, spend_table  # noqa: E402
from invoice_tui.view import Period  # noqa: E402

TODAY = dt.date(2026, 3, 20)  # inside the synthetic invoices' dates


def _best_cpu(step: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        step()
        best = min(best, time.process_time() - start)
    return best


def _indexes(invoices: Sequence[Invoice]) -> list[AccountIndex]:
    path = store_of(invoices).path
    return [read_index(path, name, extras=False)[0] for name in stored_accounts(path)]


def _measure(label: str, indexes: list[AccountIndex], repeat: int) -> None:
    def cold() -> None:
        book = SpendBook()
        spend_table([book.spend(index) for index in indexes], Period(), TODAY)

    warm_book = SpendBook()
    for index in indexes:
        warm_book.spend(index)

    def warm() -> None:
        spend_table([warm_book.spend(index) for index in indexes], Period(), TODAY)

    def totals() -> None:
        for index in indexes:
            money_totals(index.money_facts())

    count = sum(map(len, indexes))
    cold_s, warm_s, totals_s = (_best_cpu(step, repeat) for step in (cold, warm, totals))
    print(f"{label:<9} {count:>7,} invoices  cold {cold_s * 1000:7.1f} ms  "
          f"warm {warm_s * 1000:6.2f} ms  status-line totals {totals_s * 1000:6.1f} ms  "
          f"cold/totals {cold_s / totals_s:4.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    invoices = synthetic_invoices(args.count)
    print(f"spend table, CPU seconds (process_time), best of {args.repeat}")
    _measure("shuffled", _indexes(invoices), args.repeat)
    by_date = sorted(invoices, key=lambda i: (i.issued or dt.date.min, i.id), reverse=True)
    _measure("by date", _indexes(by_date), args.repeat)


if __name__ == "__main__":
    main()
