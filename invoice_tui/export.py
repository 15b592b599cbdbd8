"""Export writers (SPEC §2): JSON in the model's export shape, CSV per invoice or per line.

Pure functions over model objects (no I/O, no UI), so the CLI and the TUI
export the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring as _encode_basestring

from .model import (
    INVOICE_FIELDS,
    LINE_FIELDS,
    Invoice,
    invoice_scalars,
    invoice_to_dict,
    line_scalars,
)

FORMATS = ("json", "csv")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> tuple[int, int]:
    """``"2026-03"`` → ``(2026, 3)``; ``ValueError`` with a fix-it message otherwise."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month — use YYYY-MM, e.g. 2026-03")
    return int(match.group(1)), int(match.group(2))


def filter_by_month(
    invoices: Iterable[Invoice],
    since: tuple[int, int] | None = None,
    until: tuple[int, int] | None = None,
) -> list[Invoice]:
    """Invoices issued in ``since``..``until`` (inclusive months); undated ones only unfiltered."""
    if since is None and until is None:
        return list(invoices)
    kept: list[Invoice] = []
    for invoice in invoices:
        if invoice.issued is None:
            continue
        month = (invoice.issued.year, invoice.issued.month)
        if since is not None and month < since:
            continue
        if until is not None and month > until:
            continue
        kept.append(invoice)
    return kept


def sort_for_export(invoices: Iterable[Invoice]) -> list[Invoice]:
    """Newest issued first, then by account and id; undated invoices last."""
    ordered = sorted(invoices, key=lambda inv: (inv.account, inv.id))
    # A stable second sort puts the date first while keeping account/id order.
    ordered.sort(key=lambda inv: inv.issued or dt.date.min, reverse=True)
    return ordered


#: Invoices per chunk when streaming: big enough for few writes, small enough to
#: keep memory flat on 100 000-invoice exports.
CHUNK_INVOICES = 500


def iter_json(invoices: Iterable[Invoice]) -> Iterator[str]:
    """The JSON export in chunks: exactly ``json.dumps(list, ensure_ascii=False, indent=2)``.

    A JSON array of invoices in the SPEC §2 shape (amounts as strings), built
    one invoice at a time so a huge export never exists as one dict list.
    """
    inner = "\n" + _INDENT
    separator = "[" + inner
    batch: list[str] = []
    for count, invoice in enumerate(invoices, start=1):
        batch.append(separator)
        batch.append(_dumps(invoice_to_dict(invoice), inner))
        separator = "," + inner
        if count % CHUNK_INVOICES == 0:
            yield "".join(batch)
            batch = []
    if separator.startswith("["):
        yield "[]"  # no invoices at all
    else:
        yield "".join(batch) + "\n]"


def to_json(invoices: Sequence[Invoice]) -> str:
    """The JSON export as one string (see :func:`iter_json`)."""
    return "".join(iter_json(invoices))


_INDENT = "  "


def dumps_indented(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2)`` for str/None/bool/int/list/dict data.

    The stdlib only uses its C encoder without ``indent``; this writer keeps the
    C string escaper and skips the pure-Python encoder's generic machinery.
    Other types fall back to ``json.dumps`` for that value.
    """
    return _dumps(value, "\n")


def _dumps(value: object, newline: str) -> str:
    # ``newline`` is "\n" plus the current indentation.
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = newline + _INDENT
        body = ("," + inner).join([
            f"{_string(key if isinstance(key, str) else json.dumps(key))}: "
            f"{_string(item) if isinstance(item, str) else _dumps(item, inner)}"
            for key, item in value.items()
        ])
        return f"{{{inner}{body}{newline}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        inner = newline + _INDENT
        body = ("," + inner).join([_dumps(item, inner) for item in value])
        return f"[{inner}{body}{newline}]"
    return json.dumps(value, ensure_ascii=False)


def _string(text: str) -> str:
    # The C-accelerated escaper behind json.dumps(ensure_ascii=False).
    escaped: str = _encode_basestring(text)
    return escaped


def csv_header(lines: bool = False) -> list[str]:
    """CSV columns: the invoice scalars, or with ``lines`` ``invoice_``-prefixed + line scalars."""
    if not lines:
        return list(INVOICE_FIELDS)
    return [f"invoice_{name}" for name in INVOICE_FIELDS] + list(LINE_FIELDS)


def iter_csv(invoices: Iterable[Invoice], lines: bool = False) -> Iterator[str]:
    """CSV text in chunks: one row per invoice, or with ``lines`` one row per line item.

    An invoice without lines still gets one row (empty line columns) with
    ``lines``, so no invoice silently drops out of an accounting export. A
    line's taxes are not in the CSV (use JSON for those).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_header(lines))
    empty_line = [None] * len(LINE_FIELDS)
    for count, invoice in enumerate(invoices, start=1):
        head = list(invoice_scalars(invoice).values())
        if not lines:
            writer.writerow(head)
        elif not invoice.lines:
            writer.writerow(head + empty_line)
        else:
            writer.writerows(head + list(line_scalars(line).values()) for line in invoice.lines)
        if count % CHUNK_INVOICES == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def to_csv(invoices: Sequence[Invoice], lines: bool = False) -> str:
    """The CSV export as one string (see :func:`iter_csv`)."""
    return "".join(iter_csv(invoices, lines))


def iter_render(invoices: Iterable[Invoice], fmt: str, lines: bool = False) -> Iterator[str]:
    """The export text of ``invoices`` in ``fmt`` (``"json"`` or ``"csv"``), in chunks.

    JSON ends with a newline so a terminal prompt starts on its own line.
    """
    if fmt == "json":
        yield from iter_json(invoices)
        yield "\n"
    elif fmt == "csv":
        yield from iter_csv(invoices, lines)
    else:
        raise ValueError(f"unknown export format {fmt!r} — use one of: {', '.join(FORMATS)}")


def render(invoices: Sequence[Invoice], fmt: str, lines: bool = False) -> str:
    """The whole export text of ``invoices`` in ``fmt`` (see :func:`iter_render`)."""
    return "".join(iter_render(invoices, fmt, lines))
