"""Shared helpers for turning untrusted provider JSON into model values.

Every helper raises :class:`FieldError` (field + problem) on a wrong shape; the
provider wraps it into a :class:`~invoice_tui.providers.base.ProviderError`
that names the invoice, so a bad value never crashes the app.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation, Overflow
from typing import Any, TypeVar, cast

from ..model import Invoice
from .base import ProviderError

# Amounts beyond these bounds are garbage, not money; rejecting them keeps every
# later difference exact within _EXACT's precision (15 + 18 + 40 digits < 100).
_MAX_ADJUSTED = 15
_MIN_ADJUSTED = -18
_DIGITS = Context(prec=40, traps=[Inexact])
_EXACT = Context(prec=100, traps=[InvalidOperation, Overflow, Inexact])

T = TypeVar("T")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# JWTs and "Bearer …" values are redacted even when we do not know them.
_JWT_LIKE = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+\S+")


class FieldError(Exception):
    """A JSON value that does not have the shape a field needs."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem

    def within(self, prefix: str) -> FieldError:
        """The same problem, its field named inside ``prefix`` (``rows[2]`` + ``.rate``)."""
        return FieldError(f"{prefix}.{self.field}" if self.field else prefix, self.problem)


def each(values: object, field: str, parse: Callable[[Any], T]) -> tuple[T, ...]:
    """``parse`` applied to each item of the list (or single object, see :func:`items`).

    A bad item's field is reported as ``field[i].name``; field names are only
    built on failure, as this is the hot path of big fetches.
    """
    parsed: list[T] = []
    for index, value in enumerate(items(values, field)):
        try:
            parsed.append(parse(value))
        except FieldError as exc:
            raise exc.within(f"{field}[{index}]") from None
    return tuple(parsed)


def invoice(service: str, raw: object, ref: Callable[[Mapping[str, Any]], str],
            build: Callable[[Mapping[str, Any]], Invoice]) -> Invoice:
    """``build(raw)``, with any bad field reported as a ProviderError naming the invoice."""
    if not isinstance(raw, Mapping):
        raise ProviderError(f"{service} sent an invoice that is not a JSON object",
                            "the API answer has an unexpected shape; try again later")
    try:
        return build(raw)
    except FieldError as exc:
        raise ProviderError(
            f"{service} invoice {ref(raw)}: {exc.field} {exc.problem}",
            f"the invoice data is malformed; try again later or report it to {service} support",
        ) from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def mapping(value: object, field: str, *, required: bool = False) -> Mapping[str, Any]:
    """``value`` as a JSON object; ``None`` becomes ``{}`` unless ``required``."""
    if type(value) is dict:  # what json.loads makes: skip the slower ABC check
        return value
    if value is None and not required:
        return {}
    if isinstance(value, Mapping):
        return value
    raise FieldError(field, f"should be an object, got {_kind(value)}")


def items(value: object, field: str) -> list[Any]:
    """A JSON list, or a single object treated as a one-item list (SDKs type some lists so)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return [value]
    raise FieldError(field, f"should be a list, got {_kind(value)}")


def amount(value: object, field: str, *, required: bool = False) -> Decimal | None:
    """An exact, finite ``Decimal`` from a JSON number (or numeric string); never via float."""
    kind = type(value)  # exact type checks: this runs for every amount of every invoice
    if kind is Decimal:
        result = cast(Decimal, value)
    elif kind is int:
        result = Decimal(cast(int, value))
    elif value is None:
        if required:
            raise FieldError(field, "is missing")
        return None
    elif kind is float or kind is str:
        try:
            # str() of a float is its shortest round-trip text: 0.1 stays 0.1.
            result = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise FieldError(field, "is not a number") from None
    else:
        raise FieldError(field, f"should be a number, got {_kind(value)}")
    if not result.is_finite():
        raise FieldError(field, "is not a finite number")
    if result:
        if not _MIN_ADJUSTED <= result.adjusted() < _MAX_ADJUSTED:
            raise FieldError(field, "is out of range for an amount")
        try:
            _DIGITS.plus(result)
        except Inexact:
            raise FieldError(field, "has too many digits for an amount") from None
    return result


def subtract(left: Decimal | None, right: Decimal | None, field: str) -> Decimal | None:
    """``left − right`` exactly (``None`` if either is unknown)."""
    if left is None or right is None:
        return None
    try:
        return _EXACT.subtract(left, right)
    except DecimalException:
        raise FieldError(field, "cannot be computed exactly") from None


def text(value: object, field: str, *, required: bool = False) -> str | None:
    """A string field; numbers are accepted as their text (ids and numbers are sometimes ints)."""
    if value is None or value == "":
        if required:
            raise FieldError(field, "is missing")
        return None if value is None else ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise FieldError(field, f"should be a string, got {_kind(value)}")


def date(value: object, field: str, *, required: bool = False) -> dt.date | None:
    """The date part of ``YYYY-MM-DD`` or an ISO date-time (``2026-05-01T00:00:00Z``)."""
    raw = text(value, field, required=required)
    if not raw:
        if required:
            raise FieldError(field, "is missing")
        return None
    raw = raw.strip()
    if len(raw) >= 10 and (len(raw) == 10 or raw[10] in "T "):
        try:
            return dt.date.fromisoformat(raw[:10])
        except ValueError:
            pass
    raise FieldError(field, "is not a YYYY-MM-DD date")


def clean(value: object, secrets: Iterable[str] = (), limit: int = 200) -> str:
    """Untrusted text made safe for a one-line message: secrets redacted, controls stripped."""
    result = str(value)
    for secret in secrets:
        if secret:
            result = result.replace(secret, "***")
    result = _JWT_LIKE.sub("***", result)
    result = _BEARER.sub("Bearer ***", result)
    result = " ".join(_CONTROL.sub(" ", result).split())
    return result if len(result) <= limit else result[: limit - 1] + "…"


def _id_order(invoice_id: str) -> tuple[int, str]:
    # Numeric ids sort as numbers ("10" after "9"), others as text.
    if invoice_id.isascii() and invoice_id.isdigit() and len(invoice_id) < 30:
        return (int(invoice_id), "")
    return (-1, invoice_id)


def newest_first(invoices: Iterable[Invoice]) -> tuple[Invoice, ...]:
    """Invoices sorted by issue date, newest first, then by id (descending) for a stable order."""
    return tuple(sorted(
        invoices,
        key=lambda inv: (inv.issued or dt.date.min, _id_order(inv.id)),
        reverse=True,
    ))
