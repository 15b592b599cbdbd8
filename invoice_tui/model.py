"""The normalized billing model every provider maps into.

Frozen dataclasses, no I/O. Money is ``Decimal`` from the parse on and is only
ever summed within one currency (``meaning.money_totals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
)
from operator import attrgetter
from typing import Any, Literal, NamedTuple

# ISO 4217 minor digits for the currencies that are not the common "2".
_MINOR_DIGITS: Mapping[str, int] = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}

#: ISO 4217's "no currency": shown for a code that is not one (see :func:`currency_code`).
UNKNOWN_CURRENCY = "XXX"


def currency_code(value: object) -> str | None:
    """``value`` as an ISO 4217-shaped code (three ASCII letters, uppercased), else ``None``.

    Currency codes come from servers and from the cache file, neither of which we trust:
    only such a code is ever shown or used as a key for totals.
    """
    if type(value) is str and len(value) == 3 and value.isascii() and value.isalpha():
        return value if value.isupper() else value.upper()
    return None


def minor_digits(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency code (2 unless known otherwise)."""
    return _MINOR_DIGITS.get(currency.upper(), 2)


def format_money(amount: Decimal | None, currency: str, *, with_code: bool = False) -> str:
    """Format an exact amount with the currency's minor digits and thousands separators.

    ``format_money(Decimal("1234.5"), "USD") == "1,234.50"``; JPY shows no decimals.
    Amounts with more precision than the currency keep it rather than silently
    rounding a figure the provider sent (``0.125 USD`` stays ``0.125``).
    ``None`` renders as an empty string. A ``currency`` that is not an ISO-shaped code
    is shown as ``XXX`` (never as sent: it may hold escape sequences).
    """
    if amount is None:
        return ""
    code = currency_code(currency) or UNKNOWN_CURRENCY
    quantum = Decimal(1).scaleb(-minor_digits(code))
    try:
        rounded = amount.quantize(quantum, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:  # astronomically large: show it as sent
        rounded = amount
    shown = amount if rounded != amount else rounded
    text = f"{shown:,f}"
    return f"{text} {code}" if with_code else text


def percent_text(rate: Decimal | None, *, fraction: bool) -> str:
    """A tax rate as a percent, exactly: ``"20 %"``, ``"6.25 %"``; ``"—"`` when unknown.

    ``fraction`` says how the provider sent it: Voximplant taxes send fractions
    (``0.2`` → ``"20 %"``), Unleash invoices send percents (``8.25`` → ``"8.25 %"``).
    The decimal point moves by digits (no arithmetic, so no rounding however many
    digits the rate has) and trailing zeros go: ``0.20`` and ``0.2`` read the same.
    """
    if rate is None or not rate.is_finite():
        return "—"
    sign, digits, exponent = rate.as_tuple()
    assert isinstance(exponent, int)  # finite
    percent = Decimal((sign, digits, exponent + 2)) if fraction else rate
    text = f"{percent:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{'0' if text in ('-0', '') else text} %"


@dataclass(frozen=True, slots=True)
class Tax:
    """One tax applied to a line (Voximplant rows carry these).

    ``rate`` is a fraction, as Voximplant sends it (``0.2`` is 20 %); show it with
    :func:`percent_text` (``fraction=True``).
    """

    name: str | None = None
    rate: Decimal | None = None
    amount: Decimal | None = None
    level: str | None = None
    category: str | None = None
    taxable: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One line item of an invoice: a service row, a main (plan/seat) line or a usage line.

    ``amount`` is the figure as the provider sent it, whose meaning differs by provider
    (gross for Voximplant rows, net for Unleash lines); ``net`` (before tax) and
    ``gross`` (tax included) have one meaning everywhere, set by the provider's parser
    exactly, ``None`` when the provider's figures do not give them.
    """

    kind: str
    description: str
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    tax: Decimal | None = None
    net: Decimal | None = None
    gross: Decimal | None = None
    currency: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    consumption: Decimal | None = None
    limit: Decimal | None = None
    lookup_key: str | None = None
    taxes: tuple[Tax, ...] = ()


@dataclass(frozen=True, slots=True)
class Invoice:
    """One invoice of one account, whatever the provider.

    ``tax_rate`` is a percent, as Unleash sends it (``8.25`` is 8.25 %); show it with
    :func:`percent_text` (``fraction=False``).
    """

    account: str
    provider: str
    id: str
    currency: str
    status: str
    number: str | None = None
    label: str | None = None
    issued: dt.date | None = None
    due: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    subtotal: Decimal | None = None
    discount: Decimal | None = None
    tax: Decimal | None = None
    total: Decimal | None = None
    amount_due: Decimal | None = None
    tax_rate: Decimal | None = None
    url: str | None = None
    pdf_url: str | None = None
    #: The subtotal/tax/total are ours, computed from the lines (an Unleash estimate the
    #: API sent with 0 or absent totals, recomputed as Unleash's own billing page does).
    totals_computed: bool = False
    #: Computed totals that miss a line the provider sent without an amount: a lower bound.
    estimate_incomplete: bool = False
    lines: tuple[Line, ...] = field(default=())

    @property
    def is_estimate(self) -> bool:
        """True when the provider says these figures are an estimate (Unleash ``estimate``)."""
        return self.status.lower() == "estimate"

    @property
    def title(self) -> str:
        """What a person calls this invoice: its number, else its label, else its id."""
        return self.number or self.label or self.id


def line_gap(line: Line, currency: str) -> str | None:
    """Why ``line`` cannot be added into a total in ``currency`` (``None`` when it can).

    ``"a usage line has no amount"`` or ``"a main line is in EUR"``: the words the
    detail view shows after "incomplete:", so they name the line's kind.
    """
    if line.amount is None:
        return f"a {line.kind} line has no amount"
    code = currency_code(line.currency) if line.currency is not None else None
    if line.currency is not None and code != currency_code(currency):
        return f"a {line.kind} line is in {code or UNKNOWN_CURRENCY}"
    return None


def estimate_note(invoice: Invoice) -> str | None:
    """The word the detail view puts beside computed totals, else ``None``.

    ``"computed from the lines"``, or ``"incomplete: a usage line has no amount"``
    when a line could not be counted (the figures are then a lower bound).
    """
    if not invoice.totals_computed:
        return None
    if invoice.estimate_incomplete:
        gaps = (line_gap(line, invoice.currency) for line in invoice.lines)
        return f"incomplete: {next(filter(None, gaps), 'a line has no amount')}"
    return "computed from the lines"


def tax_exempt(invoice: Invoice) -> bool:
    """Whether to say "Tax exempt": Unleash sent no ``taxAmount`` at all (absent, not 0).

    As Unleash's own billing page does; other providers always send a tax figure.
    """
    return invoice.provider == "unleash" and invoice.tax is None


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """Account-level facts a provider may report beside the invoices."""

    plan_price: Decimal | None = None
    plan_currency: str | None = None
    balance: Decimal | None = None
    balance_currency: str | None = None


# --- do the provider's own figures add up? ------------------------------------

#: Arithmetic on amounts that is exact or raises: the parsers bound every amount (40
#: digits, below 1e15), so 100 digits hold any sum or difference of them. A sum that
#: would still round is not checked rather than checked wrongly. Shared with the parsers.
EXACT = Context(prec=100, traps=[InvalidOperation, Overflow, Inexact])

Verdict = Literal["exact", "rounding", "mismatch"]


class MoneyCheck(NamedTuple):
    """One equation between an invoice's own figures, as the provider defines them.

    ``computed`` is the left side worked out exactly from the provider's figures,
    ``stated`` the figure the provider sent for the right side. Each figure a
    provider sends may be rounded to the currency's minor unit, so each operand may
    be off by half a minor unit: ``tolerance`` is that half unit times the number of
    operands (for ``a + b = c`` in USD: 0.015, so a 0.01 difference is rounding, and
    anything from 0.02 on is a mismatch).
    """

    equation: str
    computed: Decimal
    stated: Decimal
    difference: Decimal  # stated − computed
    tolerance: Decimal

    @property
    def verdict(self) -> Verdict:
        """``exact``, off by no more than ``rounding``, or a ``mismatch`` beyond it."""
        difference = self.difference.copy_abs()  # exact, unlike abs()
        if not difference:
            return "exact"
        return "rounding" if difference <= self.tolerance else "mismatch"


def _check(equation: str, currency: str, stated: Decimal,
           operands: list[tuple[int, Decimal]]) -> MoneyCheck | None:
    # operands: (sign, amount); a sum that cannot be exact is no check at all.
    try:
        computed = Decimal(0)
        for sign, amount in operands:
            computed = EXACT.add(computed, amount) if sign > 0 \
                else EXACT.subtract(computed, amount)
        difference = EXACT.subtract(stated, computed)
    except DecimalException:
        return None
    half_unit = Decimal(5).scaleb(-minor_digits(currency) - 1)
    return MoneyCheck(equation, computed, stated, difference, half_unit * (len(operands) + 1))


def money_checks(invoice: Invoice) -> tuple[MoneyCheck, ...]:
    """The equations the invoice's own figures should satisfy, each with its verdict.

    * ``subtotal + tax = total`` (neither provider discounts before the total:
      Voximplant's subtotal is total − tax by definition, Unleash has no discount);
    * ``total − discount = amount due`` (Voximplant's ``amount_to_pay`` is after
      the discount; providers without an amount due skip it);
    * the lines against the invoice: ``Σ lines gross = total`` when every line has
      a gross (Voximplant rows), else ``Σ lines net = subtotal`` when every line has a
      net (Unleash lines). A line without the figure means no line check at all.

    An equation whose figures are not all known is left out, never guessed.
    """
    cur = invoice.currency
    checks: list[MoneyCheck | None] = []
    subtotal, tax, total = invoice.subtotal, invoice.tax, invoice.total
    if subtotal is not None and tax is not None and total is not None:
        checks.append(_check("subtotal + tax = total", cur, total, [(1, subtotal), (1, tax)]))
    if total is not None and invoice.amount_due is not None:
        checks.append(_check("total − discount = amount due", cur, invoice.amount_due,
                             [(1, total), (-1, invoice.discount or Decimal(0))]))
    lines = invoice.lines
    if lines and total is not None and all(line.gross is not None for line in lines):
        checks.append(_check("Σ lines gross = total", cur, total,
                             [(1, line.gross) for line in lines if line.gross is not None]))
    elif lines and subtotal is not None and all(line.net is not None for line in lines):
        checks.append(_check("Σ lines net = subtotal", cur, subtotal,
                             [(1, line.net) for line in lines if line.net is not None]))
    return tuple(check for check in checks if check is not None)


# --- the export / cache shape (SPEC §2) -------------------------------------

INVOICE_FIELDS = (
    "account", "provider", "id", "number", "label", "issued", "due",
    "period_start", "period_end", "status", "currency", "subtotal", "discount",
    "tax", "total", "amount_due", "tax_rate", "url", "pdf_url",
    "totals_computed", "estimate_incomplete",
)
#: The invoice fields that are JSON booleans (CSV ``true``/``false``), not text.
BOOL_FIELDS = ("totals_computed", "estimate_incomplete")
#: The export's file formats (here, not in :mod:`export`: the command line lists them,
#: and the first frame does not import the export).
FORMATS = ("json", "csv")
LINE_FIELDS = (
    "kind", "description", "quantity", "unit_price", "amount", "tax", "net", "gross", "currency",
    "period_start", "period_end", "consumption", "limit", "lookup_key",
)
TAX_FIELDS = ("name", "rate", "amount", "level", "category", "taxable", "currency")


# One C-level call fetches every field of an object, in export order.
_INVOICE_VALUES = attrgetter(*INVOICE_FIELDS)
_LINE_VALUES = attrgetter(*LINE_FIELDS)
_TAX_VALUES = attrgetter(*TAX_FIELDS)


def scalar_text(value: object) -> str | None:
    """A scalar field's text in the export and cache shape: amounts plain, dates ISO."""
    if value is None:
        return None
    if isinstance(value, bool):  # before Decimal/str: a flag, spelled as JSON spells it
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def decimal_text(value: Decimal) -> str:
    """An amount as exported and cached: plain notation, never ``1E+2`` (accounting tools
    read these); ``-0`` is ``0``. Only digits, ``.`` and ``-`` (or ``NaN``/``Infinity``)."""
    # str() is plain unless it shows an exponent, and three times faster than format(value, "f").
    text = str(value)
    if "E" in text or "e" in text:
        text = f"{value:f}"
    return "0" if text in ("-0", "-0.0") else text


def _scalars(fields: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, str | None]:
    # Runs for every field of every exported or cached invoice: strings and None
    # (most fields) are kept without a function call.
    return {name: value if value is None or type(value) is str else scalar_text(value)
            for name, value in zip(fields, values, strict=True)}


def tax_to_dict(tax: Tax) -> dict[str, str | None]:
    """A tax in the SPEC export shape."""
    return _scalars(TAX_FIELDS, _TAX_VALUES(tax))


def line_scalars(line: Line) -> dict[str, str | None]:
    """The line's scalar fields in SPEC order (CSV ``--lines`` columns)."""
    return _scalars(LINE_FIELDS, _LINE_VALUES(line))


def line_to_dict(line: Line) -> dict[str, Any]:
    """A line in the SPEC export shape (scalars as strings, then ``taxes``)."""
    data: dict[str, Any] = line_scalars(line)
    data["taxes"] = [tax_to_dict(t) for t in line.taxes]
    return data


def invoice_scalars(invoice: Invoice) -> dict[str, str | None]:
    """The invoice's scalar fields in SPEC order (CSV columns)."""
    return _scalars(INVOICE_FIELDS, _INVOICE_VALUES(invoice))


def invoice_to_dict(invoice: Invoice) -> dict[str, Any]:
    """An invoice in exactly the SPEC §2 export shape."""
    data: dict[str, Any] = invoice_scalars(invoice)
    for name in BOOL_FIELDS:  # JSON true/false, not the CSV text
        data[name] = getattr(invoice, name)
    data["lines"] = [line_to_dict(line) for line in invoice.lines]
    return data


def _dec(value: object) -> Decimal | None:
    if value is None:
        return None
    if type(value) is str:  # what invoice_to_dict writes: straight to Decimal
        result = Decimal(value)
    elif isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    else:
        result = Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return result


def _date(value: object) -> dt.date | None:
    if value is None:
        return None
    return dt.date.fromisoformat(str(value))


def _flag(value: object) -> bool:
    # Absent (an export written before the field existed) means False; anything but a
    # JSON boolean is refused rather than guessed.
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def tax_from_dict(data: Mapping[str, Any]) -> Tax:
    """Inverse of :func:`tax_to_dict`."""
    return Tax(
        name=_str(data.get("name")), rate=_dec(data.get("rate")), amount=_dec(data.get("amount")),
        level=_str(data.get("level")), category=_str(data.get("category")),
        taxable=_dec(data.get("taxable")), currency=_str(data.get("currency")),
    )


def line_from_dict(data: Mapping[str, Any]) -> Line:
    """Inverse of :func:`line_to_dict`."""
    return Line(
        kind=str(data["kind"]), description=str(data.get("description") or ""),
        quantity=_dec(data.get("quantity")), unit_price=_dec(data.get("unit_price")),
        amount=_dec(data.get("amount")), tax=_dec(data.get("tax")),
        net=_dec(data.get("net")), gross=_dec(data.get("gross")),
        currency=_str(data.get("currency")),
        period_start=_date(data.get("period_start")), period_end=_date(data.get("period_end")),
        consumption=_dec(data.get("consumption")), limit=_dec(data.get("limit")),
        lookup_key=_str(data.get("lookup_key")),
        taxes=tuple(tax_from_dict(t) for t in data.get("taxes") or ()),
    )


def invoice_from_dict(data: Mapping[str, Any]) -> Invoice:
    """Inverse of :func:`invoice_to_dict`; raises ValueError, KeyError or TypeError on bad data."""
    return Invoice(
        account=str(data["account"]), provider=str(data["provider"]), id=str(data["id"]),
        currency=str(data["currency"]), status=str(data["status"]),
        number=_str(data.get("number")), label=_str(data.get("label")),
        issued=_date(data.get("issued")), due=_date(data.get("due")),
        period_start=_date(data.get("period_start")), period_end=_date(data.get("period_end")),
        subtotal=_dec(data.get("subtotal")), discount=_dec(data.get("discount")),
        tax=_dec(data.get("tax")), total=_dec(data.get("total")),
        amount_due=_dec(data.get("amount_due")), tax_rate=_dec(data.get("tax_rate")),
        url=_str(data.get("url")), pdf_url=_str(data.get("pdf_url")),
        totals_computed=_flag(data.get("totals_computed")),
        estimate_incomplete=_flag(data.get("estimate_incomplete")),
        lines=tuple(line_from_dict(line) for line in data.get("lines") or ()),
    )
