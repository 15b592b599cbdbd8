"""Shared helpers for turning untrusted provider JSON into model values.

Every helper raises :class:`FieldError` (field + problem) on a wrong shape; the
provider wraps it into a :class:`~invoice_tui.providers.base.ProviderError`
that names the invoice, so a bad value never crashes the app.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
    Subnormal,
)
from typing import Any, TypeVar

from ..model import EXACT, UNKNOWN_CURRENCY, Invoice, currency_code
from ..text import sanitize
from .base import ProviderError

# Amounts beyond these bounds are garbage, not money; rejecting them keeps every
# later difference exact within EXACT's precision (15 + 18 + 40 digits < 100).
_MAX_ADJUSTED = 15
_MIN_ADJUSTED = -18
_DIGITS = Context(prec=40, traps=[Inexact])
_HALF_UP = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Overflow])

T = TypeVar("T")


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


class Warnings:
    """Values a fetch replaced by a safe marker, as warning lines (``FetchResult.warnings``).

    One line per kind of problem, however many invoices have it: the first case, then
    how many more (10 000 bad invoices are one line, not 10 000). Thread-safe: the pages
    of one fetch may be parsed in threads at the same time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, tuple[str, set[object]]] = {}

    def add(self, kind: str, line: str, key: object = None) -> None:
        """Record one case of ``kind``; ``key`` (e.g. an invoice id) counts a case once."""
        with self._lock:
            _, keys = self._kinds.setdefault(kind, (line, set()))
            keys.add(key)

    def lines(self) -> tuple[str, ...]:
        """One line per kind, in the order first seen."""
        with self._lock:
            return tuple(
                first if len(keys) == 1 else
                f"{first} (and {len(keys) - 1:,} more invoice{'s' if len(keys) > 2 else ''})"
                for first, keys in self._kinds.values())


def invoice(service: str, raw: object, ref: Callable[[Mapping[str, Any]], str],
            build: Callable[[Mapping[str, Any], list[str]], Invoice],
            warnings: Warnings | None = None) -> Invoice:
    """``build(raw, bad)``, with any bad field reported as a ProviderError naming the invoice.

    ``build`` hands ``bad`` to :func:`currency`; bad currencies anywhere in the invoice
    become one case of the ``currency`` warning in ``warnings``.
    """
    if not isinstance(raw, Mapping):
        raise ProviderError(f"{service} sent an invoice that is not a JSON object",
                            "the API answer has an unexpected shape; try again later")
    bad: list[str] = []
    try:
        result = build(raw, bad)
    except FieldError as exc:
        raise ProviderError(
            f"{service} invoice {ref(raw)}: {exc.field} {exc.problem}",
            f"the invoice data is malformed; try again later or report it to {service} support",
        ) from None
    if bad and warnings is not None:
        warnings.add("currency", f"invoice {sanitize(result.title, limit=40)}: {bad[0]}",
                     key=result.id)
    return result


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


def amount(value: Any, field: str, *, required: bool = False) -> Decimal | None:
    """An exact, finite ``Decimal`` from a JSON number (or numeric string); never via float."""
    # Exact type checks and no cast() calls: this runs for every amount of every invoice.
    kind = type(value)
    result: Decimal
    if kind is Decimal:
        result = value
    elif kind is int:
        result = Decimal(value)
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


# --- the fast path: well-formed values without a call per field --------------------------
# A big fetch is 100,000 invoices of ~60 fields each, nearly all of them well formed.
# A provider's fast parser takes each value as is when these checks show that the helpers
# above would return it unchanged, and otherwise gives up on the invoice (NotPlain) so the
# helpers parse it and name what is wrong. Tests check both ways give the same invoices.


class NotPlain(Exception):  # noqa: N818 - a signal, not an error: the slow path decides
    """A value the fast path does not take as is: parse the invoice the careful way."""


#: Plain amounts: at most 40 digits (Inexact), adjusted exponent within
#: [_MIN_ADJUSTED, _MAX_ADJUSTED) (Subnormal, Overflow) — :func:`amount`'s bounds, checked
#: in one C call. Zero passes whatever its exponent, as in :func:`amount`.
_BOUNDS = Context(prec=40, Emax=_MAX_ADJUSTED - 1, Emin=_MIN_ADJUSTED,
                  traps=[Inexact, Overflow, Subnormal, InvalidOperation])


def plain_amount(value: Any) -> Decimal | None:
    """:func:`amount`'s result for ``None``, an ``int`` or an in-bounds finite ``Decimal``;
    :class:`NotPlain` for anything else (strings, floats, NaN, out of bounds)."""
    # Parameters typed Any: no cast() calls, this runs ~30 times per invoice.
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        value = Decimal(value)
    elif kind is not Decimal:
        raise NotPlain
    try:
        if value.is_finite():
            _BOUNDS.plus(value)
            return value  # type: ignore[no-any-return]
    except DecimalException:
        pass
    raise NotPlain


def plain_text(value: Any) -> str | None:
    """:func:`text`'s result for ``None``, an ``int`` or text that needs no sanitizing;
    :class:`NotPlain` otherwise."""
    if value is None:
        return None
    kind = type(value)
    # sanitize()'s own test for text it would leave alone.
    if kind is str and value.isprintable() and "  " not in value and value[:1] != " " \
            and value[-1:] != " ":
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    raise NotPlain


def plain_currency(value: Any) -> str | None:
    """:func:`currency`'s result for ``None`` or an upper-case ISO code; :class:`NotPlain`
    otherwise (the careful path uppercases, replaces by ``XXX`` and warns)."""
    if value is None:
        return None
    if type(value) is str and len(value) == 3 and value.isupper() and value.isalpha() \
            and value.isascii():
        return value
    raise NotPlain


def plain_date(value: Any) -> dt.date | None:
    """:func:`date`'s result for ``None`` or a plain ``YYYY-MM-DD``; :class:`NotPlain`
    otherwise (date-times, padding, garbage)."""
    if value is None:
        return None
    if type(value) is str and len(value) == 10 and value.isascii() and value.isprintable() \
            and value[:1] != " " and value[-1:] != " ":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise NotPlain


def plain_list(value: Any) -> list[Any]:
    """:func:`items`' result for ``None`` or a list; :class:`NotPlain` otherwise."""
    if value is None:
        return []
    if type(value) is list:
        return value
    raise NotPlain


def plain_object(value: Any) -> dict[str, Any]:
    """A JSON object as is; :class:`NotPlain` for anything else (``None`` included)."""
    if type(value) is dict:
        return value
    raise NotPlain


def subtract(left: Decimal | None, right: Decimal | None, field: str) -> Decimal | None:
    """``left − right`` exactly (``None`` if either is unknown)."""
    if left is None or right is None:
        return None
    try:
        return EXACT.subtract(left, right)
    except DecimalException:
        raise FieldError(field, "cannot be computed exactly") from None


def total(values: Iterable[Decimal], field: str) -> Decimal:
    """The exact sum of ``values`` (``0`` for none)."""
    result = Decimal(0)
    try:
        for value in values:
            result = EXACT.add(result, value)
    except DecimalException:
        raise FieldError(field, "cannot be computed exactly") from None
    return result


def product(left: Decimal, right: Decimal, field: str) -> Decimal:
    """``left × right`` exactly."""
    try:
        return EXACT.multiply(left, right)
    except DecimalException:
        raise FieldError(field, "cannot be computed exactly") from None


def rounded(value: Decimal, digits: int, field: str) -> Decimal:
    """``value`` rounded half up (away from zero) to ``digits`` decimals."""
    try:
        return _HALF_UP.quantize(value, Decimal(1).scaleb(-digits))
    except DecimalException:
        raise FieldError(field, "cannot be computed exactly") from None


def text(value: object, field: str, *, required: bool = False) -> str | None:
    """A string field, sanitized; numbers are accepted as their text (ids and numbers are
    sometimes ints).

    Sanitized here (:func:`~invoice_tui.text.sanitize`), once, so no escape sequence,
    bidi or zero-width character reaches the model, the cache, an export or a screen.
    Text that sanitizes to nothing counts as missing.
    """
    if type(value) is str:
        # sanitize()'s own fast test, inlined: this runs for every text field of every
        # invoice, and nearly all of them are already clean.
        if not value.isprintable() or "  " in value or value[:1] == " " or value[-1:] == " ":
            value = sanitize(value)
    elif isinstance(value, str):
        value = sanitize(value)
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    elif value is not None:
        raise FieldError(field, f"should be a string, got {_kind(value)}")
    if not value:
        if required:
            raise FieldError(field, "is missing")
        return None if value is None else ""
    return value


def currency(value: object, field: str, bad: list[str], *, required: bool = False) -> str | None:
    """A currency code: three ASCII letters, uppercased (``usd`` → ``USD``).

    Anything else (escape sequences, ``US$``, four letters, a number) becomes ``XXX``,
    ISO 4217's "no currency", and a description of it is appended to ``bad`` (one
    warning per fetch, see :class:`Warnings`): a code is shown beside every amount, so a
    raw one would reach every screen. Absent (``null`` or ``""``): ``None``.
    """
    if type(value) is str and len(value) == 3 and value.isupper() and value.isalpha() \
            and value.isascii():  # the common case first: no call for "USD"
        return value
    code = currency_code(value)
    if code is not None:
        return code
    if value is None or value == "":
        if required:
            raise FieldError(field, "is missing")
        return None
    # Shown sanitized, never spelled out with repr(): "\\x1b]52;…" as text would still carry
    # the payload to the screen and to anything that scans it.
    text = value if isinstance(value, str) else repr(value)
    shown = sanitize(text, limit=20)
    removed = " with control characters" if sanitize(text) != text else ""
    bad.append(f"{field} {shown!r}{removed} is not an ISO code — shown as {UNKNOWN_CURRENCY}")
    return UNKNOWN_CURRENCY


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
