"""Bytes on the wire: exact-decimal JSON and tiny but valid PDF documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

_MARK = "\x00decimal:"
# How json.dumps writes a marked Decimal: a string wrapped in NUL escapes.
_MARKED = re.compile(r'"\\u0000decimal:(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def _mark_decimal(value: object) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} has no JSON form")
        return f"{_MARK}{value:f}\x00"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def json_bytes(value: object) -> bytes:
    """UTF-8 JSON where every ``Decimal`` is written as a number exactly as it is.

    ``json.dumps`` cannot emit a Decimal without going through float, and the
    emulator must send ``12.50`` and ``0.0625`` exactly: the C encoder writes
    each Decimal as a NUL-marked string (fast), then the marks become numbers.
    (Demo data never contains such a NUL-marked string itself.)
    """
    text = json.dumps(value, ensure_ascii=False, default=_mark_decimal)
    return _MARKED.sub(lambda match: match[1], text).encode("utf-8")


def _pdf_text(text: str) -> str:
    # PDF string literals: only printable ASCII, with ( ) \ escaped.
    printable = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return printable.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def minimal_pdf(lines: Iterable[str]) -> bytes:
    """A one-page PDF 1.4 showing ``lines`` in Helvetica, with a correct xref table."""
    text_ops = ["BT", "/F1 12 Tf", "14 TL", "72 770 Td"]
    for line in lines:
        text_ops.append(f"({_pdf_text(line)}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    body = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref_at = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        body += b"%010d 00000 n \n" % offset
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref_at)
    return bytes(body)


def invoice_pdf(title: str, details: Sequence[str]) -> bytes:
    """The demo PDF of one invoice."""
    return minimal_pdf([title, "", *details, "", "invoice-tui demo emulator - not a real invoice"])
