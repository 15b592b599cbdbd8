"""Export writers (SPEC §2): JSON in the model's export shape, CSV per invoice or per line.

Pure functions over model objects (no UI), so the CLI and the TUI export the same
bytes; the one function that writes, :func:`export_file`, does it through
``fs.write_output`` (atomic, mode 0600).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from decimal import Decimal
from json.encoder import encode_basestring as _encode_basestring
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from . import forked
from .fs import output_problem, write_output
from .model import (
    BOOL_FIELDS,
    FORMATS,
    INVOICE_FIELDS,
    LINE_FIELDS,
    TAX_FIELDS,
    Invoice,
    Line,
    Tax,
    decimal_text,
    invoice_scalars,
    line_scalars,
    scalar_text,
)
from .text import sanitize

log = logging.getLogger(__name__)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> tuple[int, int]:
    """``"2026-03"`` → ``(2026, 3)``; ``ValueError`` with a fix-it message otherwise."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month — use YYYY-MM, e.g. 2026-03")
    return int(match.group(1)), int(match.group(2))


_YEAR = re.compile(r"^(\d{4})$")


def parse_month_bound(text: str, *, end: bool = False) -> tuple[int, int]:
    """A ``--since``/``--until`` value: ``"2026-03"``, or a year ``"2026"`` meaning its
    first month (``end``: its last, so ``--until 2026`` takes in December).

    ``ValueError`` with a fix-it message otherwise.
    """
    match = _YEAR.match(text.strip())
    if match:
        return int(match.group(1)), 12 if end else 1
    try:
        return parse_month(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a month or a year — use YYYY-MM or YYYY, "
                         "e.g. 2026-03 or 2026") from None


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
    """The JSON export in chunks: ``json.dumps(list, ensure_ascii=False, indent=2)``.

    Byte for byte, except that DEL, C1, bidi and zero-width characters in strings
    are ``\\u``-escaped too (see :func:`dumps_indented`). A JSON array of invoices
    in the SPEC §2 shape (``invoice_to_dict``, amounts as strings), written one
    invoice at a time so a huge export never exists as one dict list.
    """
    return _json_part(invoices, first=True, last=True)


def _json_part(invoices: Iterable[Invoice], *, first: bool, last: bool) -> Iterator[str]:
    """:func:`iter_json`'s text for a run of the invoices: with the array's opening if
    ``first``, its closing if ``last``; a run that is neither first nor last, or
    not both, must not be empty."""
    separator = "[\n" + _INDENT if first else ",\n" + _INDENT
    batch: list[str] = []
    count = 0
    for count, invoice in enumerate(invoices, start=1):
        batch.append(separator)
        batch.append(_invoice_json(invoice))
        separator = ",\n" + _INDENT
        if count % CHUNK_INVOICES == 0:
            yield _escape_del("".join(batch))
            batch = []
    if not count:
        if not (first and last):
            raise ValueError("a part of the JSON export without invoices")
        yield "[]"  # no invoices at all
    else:
        yield _escape_del("".join(batch) + ("\n]" if last else ""))


_INDENT = "  "


def dumps_indented(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2)`` for str/None/bool/int/list/dict data.

    One difference: DEL, C1 controls, bidi controls, zero-width characters and
    U+2028/U+2029 inside strings are written as ``\\uXXXX`` (json.dumps leaves
    them raw), so the file never carries them to a terminal; the decoded text is
    the same. The stdlib only uses its C encoder without ``indent``; this writer
    keeps the C string escaper and skips the pure-Python encoder's generic machinery.
    Other types fall back to ``json.dumps`` for that value.
    """
    return _escape_del(_dumps(value, "\n"))


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


# Characters JSON may carry raw but a terminal or editor showing the file must not
# get raw: C1 controls (U+009B is a one-byte CSI), bidi controls (Trojan Source),
# zero-width characters, and the line/paragraph separators. \uXXXX keeps the text
# exact for any JSON reader.
_JSON_UNSAFE = (0x7F, *range(0x80, 0xA0), 0x061C, *range(0x200B, 0x2010),
                *range(0x2028, 0x202F), 0x2060, *range(0x2066, 0x206A), 0xFEFF)
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in _JSON_UNSAFE}


def _string(text: str) -> str:
    # The C-accelerated escaper behind json.dumps(ensure_ascii=False) escapes C0
    # controls; the rest of _JSON_UNSAFE but DEL is non-ASCII and non-printable, and
    # isascii() is O(1) in CPython, so nearly every string skips the translation.
    escaped: str = _encode_basestring(text)
    if text.isascii() or text.isprintable():
        return escaped
    return escaped.translate(_JSON_ESCAPES)


def _escape_del(json_text: str) -> str:
    # DEL, the one ASCII control the escaper leaves, can only stand inside a JSON
    # string: one fast scan of the whole text instead of one per string.
    return json_text.replace("\x7f", "\\u007f") if "\x7f" in json_text else json_text


# --- the JSON export, written straight from the model ------------------------------------
# invoice_to_dict + _dumps build a dict per invoice, line and tax, then walk it
# generically. The shape is fixed, so here each key's text (indentation, quoted name,
# colon) is built once and each value is written by its type, the common ones (None,
# str, amounts) inline: twice as fast, the same text (tests compare the two). (The C
# encoder behind json.dumps is no faster here: its per-call setup costs more than the
# few values of an object.)


def _scalar_json(value: object) -> str:
    """A scalar field's value as invoice_to_dict + the generic writer write it."""
    if type(value) is Decimal:  # digits, ".", "-", NaN or Infinity: nothing to escape
        return f'"{decimal_text(value)}"'
    text = scalar_text(value)
    return "null" if text is None else _string(text)


def _flag_json(value: object, newline: str) -> str:
    # BOOL_FIELDS are JSON true/false; anything else a hand-made model holds there is
    # written as invoice_to_dict hands it to the generic writer.
    if type(value) is bool:
        return "true" if value else "false"
    return _dumps(value, newline)


def _object_keys(names: Sequence[str], depth: int) -> tuple[str, ...]:
    """The text before each value of an object whose keys sit at ``depth``."""
    newline = "\n" + _INDENT * depth
    return tuple(f"{',' if index else '{'}{newline}{_string(name)}: "
                 for index, name in enumerate(names))


def _scalars_json(keys: tuple[str, ...], values: tuple[Any, ...]) -> str:
    # Each key's text, then its value: None, ASCII text and amounts (nearly every value)
    # inline, anything else through _scalar_json.
    return "".join([
        key + ("null" if value is None
               else _encode_basestring(value) if type(value) is str and value.isascii()
               else _scalar_json(value))
        for key, value in zip(keys, values, strict=True)])


def _closing(depth: int, bracket: str) -> str:
    return "\n" + _INDENT * depth + bracket


def _items(texts: list[str], depth: int) -> str:
    """A JSON array value whose items (already written) sit at ``depth``."""
    if not texts:
        return "[]"
    newline = "\n" + _INDENT * depth
    return f"[{newline}{(',' + newline).join(texts)}{_closing(depth - 1, ']')}"


# An invoice sits at depth 1 of the array, its lines at 3, their taxes at 5.
_TAX_KEYS = _object_keys(TAX_FIELDS, 6)
_TAX_VALUES = attrgetter(*TAX_FIELDS)
_TAX_END = _closing(5, "}")
_LINE_KEYS = _object_keys(LINE_FIELDS, 4)
_LINE_VALUES = attrgetter(*LINE_FIELDS)
_TAXES_KEY = f",\n{_INDENT * 4}{_string('taxes')}: "
_LINE_END = _closing(3, "}")
_FLAGS = frozenset(BOOL_FIELDS)
_INVOICE_SCALARS = tuple(name for name in INVOICE_FIELDS if name not in _FLAGS)
_INVOICE_KEYS = _object_keys(_INVOICE_SCALARS, 2)
_INVOICE_VALUES = attrgetter(*_INVOICE_SCALARS)
_FLAG_KEYS = tuple((name, f",\n{_INDENT * 2}{_string(name)}: ") for name in BOOL_FIELDS)
_LINES_KEY = f",\n{_INDENT * 2}{_string('lines')}: "
_INVOICE_END = _closing(1, "}")
# invoice_to_dict keeps INVOICE_FIELDS' order; the flags are written after the other
# scalars, so they must come last in it.
assert INVOICE_FIELDS[len(_INVOICE_SCALARS):] == BOOL_FIELDS


def _tax_json(tax: Tax) -> str:
    return _scalars_json(_TAX_KEYS, _TAX_VALUES(tax)) + _TAX_END


def _line_json(line: Line) -> str:
    head = _scalars_json(_LINE_KEYS, _LINE_VALUES(line))
    taxes = _items([_tax_json(tax) for tax in line.taxes], 5)
    return f"{head}{_TAXES_KEY}{taxes}{_LINE_END}"


def _invoice_json(invoice: Invoice) -> str:
    """One invoice as :func:`dumps_indented` writes ``invoice_to_dict(invoice)`` at depth 1."""
    head = _scalars_json(_INVOICE_KEYS, _INVOICE_VALUES(invoice))
    flags = "".join([key + _flag_json(getattr(invoice, name), "\n" + _INDENT * 2)
                     for name, key in _FLAG_KEYS])
    lines = _items([_line_json(line) for line in invoice.lines], 3)
    return f"{head}{flags}{_LINES_KEY}{lines}{_INVOICE_END}"


def csv_header(lines: bool = False) -> list[str]:
    """CSV columns: the invoice scalars, or with ``lines`` ``invoice_``-prefixed + line scalars."""
    if not lines:
        return list(INVOICE_FIELDS)
    return [f"invoice_{name}" for name in INVOICE_FIELDS] + list(LINE_FIELDS)


# --- CSV cells ------------------------------------------------------------------------

# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(…),
# +cmd|' /C calc'!A0, @SUM(…), -2+3); tab and CR start one in some importers.
_FORMULA_START = frozenset("=+-@\t\r")
# ... but "-12.50" or "+3" is a number to a spreadsheet, not a formula: kept as is.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
def _csv_text(value: str) -> str:
    """A provider's text as a CSV cell: no control characters, never a formula."""
    text = value if value.isprintable() else sanitize(value)
    # " =1+1" is a formula too once an importer trims it; a leading tab or CR (gone
    # from ``text``, now a space) still marks the cell.
    first = text.lstrip(" ")[:1]
    if first in _FORMULA_START and first in "+-" and _PLAIN_NUMBER.fullmatch(text.strip()):
        return text  # a number, not a formula
    if first in _FORMULA_START or value.lstrip(" ")[:1] in _FORMULA_START:
        return "'" + text  # the spreadsheet convention: a leading quote means "text"
    return text


def _text_positions(cls: type, names: Sequence[str]) -> tuple[int, ...]:
    """Indexes of the CSV columns holding provider text (not our exact amounts or dates).

    Decided by column from the model's annotations; a column the model does not
    annotate counts as text (the plain-number rule still keeps any amount in it).
    """
    kinds = {item.name: str(item.type) for item in fields(cls)}
    return tuple(index for index, name in enumerate(names)
                 if kinds.get(name, "str") in ("str", "str | None"))


_INVOICE_TEXT = _text_positions(Invoice, INVOICE_FIELDS)
_LINE_TEXT = _text_positions(Line, LINE_FIELDS)
assert len(_INVOICE_TEXT) > 1 and len(_LINE_TEXT) > 1  # so itemgetter returns tuples
_INVOICE_TEXT_CELLS = itemgetter(*_INVOICE_TEXT)
_LINE_TEXT_CELLS = itemgetter(*_LINE_TEXT)
_FIRST_CHARACTER = itemgetter(0)
# A text cell starting with one of these needs a closer look (" " may hide a formula).
_LOOK_CLOSER = _FORMULA_START | {" "}


def _plain(texts: Iterable[str | None]) -> bool:
    """Whether no text cell starts a formula or holds a control: C-level checks, no loop."""
    present = list(filter(None, texts))
    return _LOOK_CLOSER.isdisjoint(map(_FIRST_CHARACTER, present)) \
        and "".join(present).isprintable()


def _neutralize(row: list[str | None], text_positions: tuple[int, ...]) -> None:
    for index in text_positions:
        value = row[index]
        if value:
            row[index] = _csv_text(value)


def iter_csv(invoices: Iterable[Invoice], lines: bool = False, *, header: bool = True
             ) -> Iterator[str]:
    """CSV text in chunks: one row per invoice, or with ``lines`` one row per line item.

    An invoice without lines still gets one row (empty line columns) with
    ``lines``, so no invoice silently drops out of an accounting export. A
    line's taxes are not in the CSV (use JSON for those). Provider text never
    carries control characters and never starts a formula (a leading ``'``);
    our exact amounts stay numbers (``-12.50``). ``header=False`` leaves out the
    header row (the rows of a later part of one export).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(csv_header(lines))
    empty_line = [None] * len(LINE_FIELDS)
    for count, invoice in enumerate(invoices, start=1):
        # Most rows are plain and pass one quick check; the others go cell by cell.
        head = list(invoice_scalars(invoice).values())
        if not _plain(_INVOICE_TEXT_CELLS(head)):
            _neutralize(head, _INVOICE_TEXT)
        if not lines:
            writer.writerow(head)
        elif not invoice.lines:
            writer.writerow(head + empty_line)
        else:
            for line in invoice.lines:
                row = list(line_scalars(line).values())
                if not _plain(_LINE_TEXT_CELLS(row)):
                    _neutralize(row, _LINE_TEXT)
                writer.writerow(head + row)
        if count % CHUNK_INVOICES == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


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


def _render_part(invoices: Sequence[Invoice], fmt: str, lines: bool, *, first: bool,
                 last: bool) -> Iterator[str]:
    """:func:`iter_render`'s text for a run of the invoices (see :func:`_json_part`)."""
    if fmt == "json":
        yield from _json_part(invoices, first=first, last=last)
        if last:
            yield "\n"
    elif fmt == "csv":
        yield from iter_csv(invoices, lines, header=first)
    else:
        raise ValueError(f"unknown export format {fmt!r} — use one of: {', '.join(FORMATS)}")


#: Fewest invoices whose export is rendered half in a forked child (see iter_encoded).
PARALLEL_MIN = 20_000
#: Bytes per chunk read back from the child's half.
_COPY_CHUNK = 1 << 20


def iter_encoded(invoices: Iterable[Invoice], fmt: str, lines: bool = False) -> Iterator[bytes]:
    """:func:`iter_render` as UTF-8 chunks; the same bytes, made faster for a big list.

    A list of at least ``PARALLEL_MIN`` invoices has its second half rendered by a
    forked child (see :mod:`forked`) into an unnamed temporary file while this
    process renders the first; the child's half follows. A child that fails has
    its half rendered here instead: the output is the same either way.
    """
    if not (isinstance(invoices, list) and len(invoices) >= PARALLEL_MIN
            and fmt in FORMATS and forked.available()):
        for chunk in iter_render(invoices, fmt, lines):
            yield chunk.encode("utf-8")
        return
    middle = len(invoices) // 2
    head, tail = invoices[:middle], invoices[middle:]
    try:
        spool = tempfile.TemporaryFile()
    except OSError:  # no room or no temp dir: all of it is rendered here
        log.debug("no temporary file for half of the export", exc_info=True)
        spool = None
    child: forked.Child[None] | None = None
    if spool is not None:
        def render_tail() -> None:  # in the child
            for chunk in _render_part(tail, fmt, lines, first=False, last=True):
                spool.write(chunk.encode("utf-8"))
            spool.flush()

        child = forked.start(render_tail)
    try:
        if child is None:
            for chunk in iter_render(invoices, fmt, lines):
                yield chunk.encode("utf-8")
            return
        for chunk in _render_part(head, fmt, lines, first=True, last=False):
            yield chunk.encode("utf-8")
        try:
            child.result()
        except Exception:  # noqa: BLE001 - whatever went wrong there, the half is made here
            log.debug("rendering half of the export in a child failed", exc_info=True)
            for chunk in _render_part(tail, fmt, lines, first=False, last=True):
                yield chunk.encode("utf-8")
            return
        assert spool is not None
        spool.seek(0)
        # Up to a newline: a chunk never ends inside a character.
        while data := spool.read(_COPY_CHUNK):
            yield data + spool.readline()
    finally:  # also when the reader stops early (a full disk, a closed pipe, Ctrl-C)
        if child is not None:
            child.stop()
        if spool is not None:
            spool.close()


def format_for_path(path: Path) -> str:
    """The export format a file name asks for: ``.csv`` → ``"csv"``, ``.json`` → ``"json"``
    (any case); ``ValueError`` with a fix-it message for anything else."""
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in FORMATS:
        raise ValueError(f"{sanitize(path.name) or 'the file'} does not end in .csv or .json "
                         "— name the format by the file's extension")
    return fmt


def export_file(path: Path, invoices: Iterable[Invoice], fmt: str | None = None) -> None:
    """Write ``invoices`` to ``path`` in ``fmt`` (default: by its extension, see
    :func:`format_for_path`), streamed, through :func:`~invoice_tui.fs.write_output`.

    A regular file is replaced atomically with mode 0600 (a failed export leaves the
    old one whole), a FIFO or device is written to, anything else is refused
    (``fs.OutputRefused``); other failures are ``OSError``.
    """
    chosen = fmt or format_for_path(path)
    write_output(path, iter_encoded(invoices, chosen), 0o600)


def home_relative(path: Path) -> str:
    """``path`` with the home folder as ``~`` (shorter, and the same on every machine)."""
    home = Path.home()
    return f"~/{path.relative_to(home).as_posix()}" if path.is_relative_to(home) else str(path)


def export_target(text: str, folder: Path) -> tuple[Path | None, str | None]:
    """The file a typed path names (``~`` expanded; relative: inside ``folder``) and why it
    cannot take an export (``None`` when it can)."""
    typed = text.strip()
    if not typed:
        return None, "type a file name ending in .csv or .json"
    path = Path(os.path.expanduser(typed))
    if not path.is_absolute():
        path = folder / path
    try:
        format_for_path(path)
    except ValueError as exc:
        return None, str(exc)
    problem = output_problem(path)
    if problem is not None:
        return None, f"{sanitize(home_relative(path))} {problem}"
    return path, None
