"""Benchmark: JSON decoders for Voximplant pages — the stdlib against msgspec, if installed.

Prints numbers; asserts nothing. Issue 8 asked to measure a faster decoder (msgspec
decodes JSON numbers straight into Decimal) before adopting one. Each variant turns
the demo's 1,000-invoice pages (the emulator's bytes) into the same invoices, kept
as a fetch keeps them, and is timed in CPU seconds, best of ``--repeat``:

* stdlib          — ``json.loads(parse_float=Decimal)`` + ``parse_page`` (what ships);
* msgspec dicts   — ``msgspec.json.Decoder(float_hook=Decimal)`` + ``parse_page``;
* msgspec typed   — decoding alone into typed Structs (Decimal fields, no GC
                    tracking), the most a typed parser could save on decoding.

Measured on this project's 2-core machine (20,000 invoices): msgspec dicts save
~25% of the decoding but nothing measurable on the whole export (100k: 27.4 vs
26.9 s CPU, medians of 4 alternating runs), so the stdlib stays.

Usage: .venv/bin/python benchmarks/bench_decoders.py [--count 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from invoice_tui.demo import demo_account  # noqa: E402
from invoice_tui.demo.data import VoximplantInvoices  # noqa: E402
from invoice_tui.providers._http import loads  # noqa: E402
from invoice_tui.providers.voximplant import parse_page  # noqa: E402

PAGE = 1000


def _best(repeat: int, step: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        step()
        best = min(best, time.process_time() - start)
    return best


try:  # optional: the benchmark measures the stdlib alone without it
    import msgspec
except ImportError:  # pragma: no cover - depends on the environment
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:
    # GetAccountInvoices as typed Structs (module level: the annotations are strings).
    class _Money(msgspec.Struct, gc=False):
        tax_amount: Decimal | None = None
        total_amount: Decimal | None = None
        amount_to_pay: Decimal | None = None
        discount_amount: Decimal | None = None
        currency: str | None = None

    class _Tax(msgspec.Struct, gc=False):
        name: str | None = None
        rate: Decimal | None = None
        amount: Decimal | None = None
        level: str | None = None
        category: str | None = None
        taxable_measure: Decimal | None = None
        currency: str | None = None

    class _Row(msgspec.Struct, gc=False):
        service_name: str | None = None
        amount: _Money | None = None
        taxes: list[_Tax] | None = None

    class _Period(msgspec.Struct, gc=False):
        start: str | None = msgspec.field(default=None, name="from")
        to: str | None = None

    class _Invoice(msgspec.Struct, gc=False):
        invoice_id: int | None = None
        invoice_number: str | None = None
        invoice_date: str | None = None
        status: str | None = None
        period: _Period | None = None
        amount: _Money | None = None
        rows: list[_Row] | None = None

    class _Page(msgspec.Struct, gc=False):
        result: list[_Invoice] | None = None
        total_count: int | None = None


def main() -> int:
    """Time each decoder on ``--count`` demo invoices and print µs per invoice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = VoximplantInvoices(demo_account("vox-main"), dt.date(2026, 11, 15), args.count)
    pages = [data.page_json(offset, PAGE) for offset in range(0, args.count, PAGE)]

    def parsed(decode: Callable[[bytes], Any]) -> Callable[[], Any]:
        return lambda: [parse_page("vox-main", decode(page)) for page in pages]

    variants: list[tuple[str, Callable[[bytes], Any]]] = [("stdlib", loads)]
    if msgspec is None:
        print("msgspec is not installed (pip install msgspec to compare): stdlib only")
    else:
        variants.append(("msgspec dicts", msgspec.json.Decoder(float_hook=Decimal).decode))
    print(f"bench_decoders: python {sys.version.split()[0]}, {args.count:,} invoices, "
          f"best of {args.repeat} (CPU time)")
    for name, decode in variants:
        decode_s = _best(args.repeat, lambda: [decode(page) for page in pages])  # noqa: B023
        total_s = _best(args.repeat, parsed(decode))
        print(f"  {name:16} decode {1e6 * decode_s / args.count:7.1f} µs/invoice   "
              f"decode + parse_page {1e6 * total_s / args.count:7.1f} µs/invoice")
    if msgspec is not None:
        typed = msgspec.json.Decoder(_Page).decode
        typed_s = _best(args.repeat, lambda: [typed(page) for page in pages])
        print(f"  {'msgspec typed':16} decode {1e6 * typed_s / args.count:7.1f} µs/invoice   "
              "(no parser for Structs: a second parse path would be needed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
