"""Deterministic demo data for the emulator: accounts, Voximplant invoices, Unleash invoices.

Everything is derived from the account and the invoice's position (seeded
``random.Random``), never from the wall clock — except that "now" is the
injectable ``today`` the server was started with. Amounts are ``Decimal`` with
two places and every total is the exact sum of its parts.

Voximplant invoices are generated lazily per requested index so an account can
claim 100 000+ invoices without building them up front.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .wire import json_bytes

CENT = Decimal("0.01")

#: Text a UI must show literally: Rich/Textual markup and terminal escape sequences
#: (an OSC 52 clipboard write and a clear-screen). Used in exactly one Voximplant
#: service row and one Unleash usage line.
UNTRUSTED_TEXT = (
    "Untrusted text test: [bold red]x[/] [link=https://example.com]click[/link] "
    "\x1b]52;c;ZXZpbA==\x07 \x1b[2J end"
)

#: Above this many invoices an account gets several invoices per day instead of one per month.
_MONTHLY_LIMIT = 120
#: Dense accounts spread their invoices over about this many days.
_DENSE_SPAN_DAYS = 1095


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demo account: a Voximplant account or an Unleash instance of the emulator."""

    name: str
    provider: str  # "voximplant" | "unleash"
    currency: str
    #: Voximplant: the numeric account id (the JWT ``iss``) and its service-account email.
    account_id: int | None = None
    email: str | None = None
    #: Voximplant: monthly invoices served when no ``invoice_count`` overrides it.
    invoices: int = 28
    #: Unleash: the instance's path prefix, its admin token and a client (frontend) token.
    prefix: str | None = None
    token: str | None = None
    client_token: str | None = None
    #: Unleash: False for an instance without Enterprise billing (the endpoint is a 404).
    enterprise: bool = True
    plan_price: Decimal | None = None
    tax_percentage: Decimal = Decimal(0)

    @property
    def key_id(self) -> str:
        """The demo service-account key id (Voximplant JWT ``kid``)."""
        return f"demo-key-{self.name}"


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(name="vox-main", provider="voximplant", currency="USD", account_id=1000001,
                email="billing@vox-main.demo.invalid", invoices=28),
    DemoAccount(name="vox-eu", provider="voximplant", currency="EUR", account_id=1000002,
                email="billing@vox-eu.demo.invalid", invoices=26),
    DemoAccount(name="unleash-acme", provider="unleash", currency="USD", prefix="/acme",
                token="user:demo-acme-3f9a1c7e5b", client_token="default:development.demo-acme-fe",
                plan_price=Decimal("1875.00"), tax_percentage=Decimal("8.25")),
    DemoAccount(name="unleash-contoso", provider="unleash", currency="EUR", prefix="/eu/contoso",
                token="*:*.demo-contoso-admin-8d2e", client_token="default:production.demo-co-be",
                plan_price=Decimal("1500.00"), tax_percentage=Decimal("19")),
)

#: An Unleash instance without Enterprise billing: its invoices endpoint answers 404.
#: Not in ``DEMO_ACCOUNTS`` (the demo config would show a failing account); for tests.
UNLICENSED_INSTANCE = DemoAccount(
    name="unleash-oss", provider="unleash", currency="USD", prefix="/oss",
    token="user:demo-oss-71b0", client_token="default:development.demo-oss-fe", enterprise=False,
)

ALL_ACCOUNTS: tuple[DemoAccount, ...] = (*DEMO_ACCOUNTS, UNLICENSED_INSTANCE)

#: The Voximplant account that carries the untrusted-text row.
FIRST_VOXIMPLANT = next(a for a in DEMO_ACCOUNTS if a.provider == "voximplant")
#: The Unleash instance with a past-due invoice and the untrusted-text usage line.
_FIRST_UNLEASH = next(a for a in DEMO_ACCOUNTS if a.provider == "unleash")

# Month names fixed in English: strftime("%B") would follow the process locale.
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")


def demo_account(name: str) -> DemoAccount:
    """The demo account (or instance) called ``name``; ``KeyError`` if there is none."""
    for account in ALL_ACCOUNTS:
        if account.name == name:
            return account
    raise KeyError(name)


def cents(value: int) -> Decimal:
    """An exact two-place amount from an integer number of cents."""
    return Decimal(value).scaleb(-2)


def _tax(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` away from ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return _add_months(first, 1) - dt.timedelta(days=1)


# --- Voximplant ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Service:
    name: str
    low_cents: int
    high_cents: int
    #: Taxes as (name, rate, level, category).
    taxes: tuple[tuple[str, Decimal, str, str], ...]


_US_SALES = ("Sales Tax (MA)", Decimal("0.0625"), "state", "sales_tax")
_US_USF = ("Federal Universal Service Fund", Decimal("0.034"), "federal", "telecom")
_DE_VAT = ("VAT (DE) 19%", Decimal("0.19"), "country", "vat")

_SERVICES: Mapping[str, tuple[_Service, ...]] = {
    "USD": (
        _Service("Calls — PSTN outbound (US/CA)", 5_000, 180_000, (_US_SALES, _US_USF)),
        _Service("Calls — SIP inbound", 1_000, 40_000, (_US_SALES, _US_USF)),
        _Service("Phone numbers — monthly rent", 200, 9_000, (_US_SALES,)),
        _Service("SMS — A2P 10DLC", 500, 30_000, (_US_SALES,)),
        _Service("Speech recognition (ASR)", 300, 60_000, (_US_SALES,)),
        _Service("通話 — Tokyo numbers", 100, 20_000, (_US_SALES,)),
        _Service("Call recording storage", 50, 5_000, ()),
    ),
    "EUR": (
        _Service("Téléphonie — München", 4_000, 150_000, (_DE_VAT,)),
        _Service("Звонки — входящие", 1_000, 50_000, (_DE_VAT,)),
        _Service("Rufnummern — Monatsmiete", 300, 8_000, (_DE_VAT,)),
        # Reverse-charge service: no taxes at all (an empty taxes list).
        _Service("SMS — Europe (reverse charge)", 500, 20_000, ()),
        _Service("Sprachsynthese (TTS)", 200, 30_000, (_DE_VAT,)),
    ),
}

_UNTRUSTED_SERVICE = _Service(UNTRUSTED_TEXT, 100, 100, (_US_SALES,))


def _vox_status(index: int, invoice_id: int) -> str:
    # The newest invoices walk through the workflow; older ones are final, a few cancelled.
    fixed = {0: "new", 1: "taxed", 2: "accepted", 3: "committed", 5: "cancelled"}
    if index in fixed:
        return fixed[index]
    return "cancelled" if invoice_id * 2654435761 % 1000 < 60 else "numbered"


def _money(tax: Decimal, total: Decimal, discount: Decimal, currency: str) -> dict[str, Any]:
    return {"tax_amount": tax, "total_amount": total, "amount_to_pay": total - discount,
            "discount_amount": discount, "currency": currency}


#: Distinct row sets per account (a prime, so consecutive invoices never share one).
_VARIANTS = 1009


class VoximplantInvoices:
    """The invoices of one demo Voximplant account, newest first, built lazily by index.

    An invoice is its header (id, number, dates, status) plus one of ``_VARIANTS``
    money bodies (amount and rows), each built once and kept as JSON text: a
    100 000-invoice account then costs one f-string per invoice served.
    """

    def __init__(self, account: DemoAccount, today: dt.date, invoice_count: int | None = None):
        if account.account_id is None:
            raise ValueError(f"{account.name} is not a Voximplant account")
        self.account = account
        self.today = today
        self.total_count = account.invoices if invoice_count is None else invoice_count
        if self.total_count < 0:
            raise ValueError("invoice_count must be >= 0")
        # Ids are unique across demo accounts and stable for a given count.
        self._id_base = account.account_id * 1000 % 1_000_000 * 10_000
        self._per_day = (0 if self.total_count <= _MONTHLY_LIMIT
                         else math.ceil(self.total_count / _DENSE_SPAN_DAYS))
        # variant → '"amount": {…}, "rows": […]'; -1 is the body with the untrusted-text row.
        self._bodies: dict[int, str] = {}

    def page_json(self, offset: int, count: int) -> bytes:
        """The GetAccountInvoices response for ``offset`` / ``count`` (fewer at the end)."""
        indexes = self._indexes(offset, count)
        invoices = ", ".join(self.invoice_json(index) for index in indexes)
        return (f'{{"result": [{invoices}], "total_count": {self.total_count}, '
                f'"count": {len(indexes)}}}').encode("utf-8")

    def page(self, offset: int, count: int) -> list[dict[str, Any]]:
        """Invoices ``offset`` .. ``offset + count - 1`` as dicts (fewer at the end)."""
        return [self.invoice(index) for index in self._indexes(offset, count)]

    def _indexes(self, offset: int, count: int) -> range:
        return range(max(offset, 0), min(self.total_count, offset + count))

    def invoice(self, index: int) -> dict[str, Any]:
        """The AccountInvoice at ``index`` as a dict (amounts ``Decimal``)."""
        parsed: dict[str, Any] = json.loads(self.invoice_json(index), parse_float=Decimal)
        return parsed

    def invoice_id(self, index: int) -> int:
        """The ``invoice_id`` of the invoice at ``index`` (0 = newest)."""
        return self._id_base + self.total_count - index

    def index_of(self, invoice_id: int) -> int | None:
        """The index of the invoice with ``invoice_id``, or ``None``."""
        index = self._id_base + self.total_count - invoice_id
        return index if 0 <= index < self.total_count else None

    def _dates(self, index: int) -> tuple[dt.date, dt.date, dt.date]:
        if self._per_day == 0:
            issued = _add_months(self.today, -index)
            start = _add_months(issued, -1)
            return issued, start, issued - dt.timedelta(days=1)
        day = self.today - dt.timedelta(days=1 + index // self._per_day)
        return day, day, day

    def invoice_json(self, index: int) -> str:
        """The AccountInvoice object at ``index`` as JSON text, exactly as the API sends it."""
        if not 0 <= index < self.total_count:
            raise IndexError(index)
        invoice_id = self.invoice_id(index)
        untrusted = self.account is FIRST_VOXIMPLANT and index == 1
        variant = -1 if untrusted else invoice_id % _VARIANTS
        body = self._bodies.get(variant)
        if body is None:  # a race only builds the same text twice
            body = self._bodies[variant] = self._body(variant)
        issued, start, end = self._dates(index)
        number = f"VOX-{self.account.account_id}-{self.total_count - index:06d}"
        return (f'{{"invoice_id": {invoice_id}, "invoice_number": "{number}", '
                f'"invoice_date": "{issued}", "status": "{_vox_status(index, invoice_id)}", '
                f'"period": {{"from": "{start}", "to": "{end}"}}, {body}}}')

    def _body(self, variant: int) -> str:
        rng = random.Random(f"{self.account.name}:{variant}")
        currency = self.account.currency
        catalogue = _SERVICES[currency]
        services = [catalogue[0], *rng.sample(catalogue[1:], rng.randint(1, 4))]
        if variant == -1:
            services.append(_UNTRUSTED_SERVICE)
        discounted = rng.random() < 0.2
        rows: list[dict[str, Any]] = []
        sums = [Decimal(0), Decimal(0), Decimal(0)]  # tax, total, discount
        for position, service in enumerate(services):
            net = cents(rng.randint(service.low_cents, service.high_cents))
            amounts = [_tax(net, rate) for _, rate, _, _ in service.taxes]
            taxes = [
                {"taxable_measure": net, "amount": amount, "level": level,
                 "rate": rate, "name": name, "currency": currency, "category": category}
                for (name, rate, level, category), amount in zip(service.taxes, amounts,
                                                                 strict=True)
            ]
            row_tax = sum(amounts, Decimal("0.00"))
            row_total = net + row_tax
            row_discount = _tax(row_total, Decimal("0.10")) if discounted and position == 0 \
                else Decimal("0.00")
            rows.append({"service_name": service.name,
                         "amount": _money(row_tax, row_total, row_discount, currency),
                         "taxes": taxes})
            sums[0] += row_tax
            sums[1] += row_total
            sums[2] += row_discount
        text = json_bytes({"amount": _money(sums[0], sums[1], sums[2], currency), "rows": rows})
        return text.decode("utf-8")[1:-1]  # the members, without the braces


def voximplant_account_info(account: DemoAccount) -> dict[str, Any]:
    """The ``result`` of GetAccountInfo for a demo Voximplant account."""
    rng = random.Random(f"{account.name}:info")
    return {
        "account_id": account.account_id, "account_name": account.name,
        "account_email": account.email, "active": True, "frozen": False,
        "balance": cents(rng.randint(10_000, 500_000)), "currency": account.currency,
        "created": "2021-03-15 09:30:00",
    }


# --- Unleash -------------------------------------------------------------------------------

_UNLEASH_MONTHS = 26  # past, issued invoices (plus the current estimate and the upcoming one)

_FRONTEND_TEXT = {
    "USD": "Frontend API requests — 東京 edge",
    "EUR": "Frontend-API-Anfragen — Zürich",
}


def _iso(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def _unleash_status(account: DemoAccount, months_back: int) -> str:
    if months_back == -1:
        return "upcoming"
    if months_back == 0:
        return "estimate"
    if months_back == 1:
        return "invoiced"
    if months_back == 2 and account is _FIRST_UNLEASH:
        return "past-due"
    return "paid"


def unleash_invoice_id(account: DemoAccount, period_start: dt.date) -> str:
    """The emulator's id of an Unleash invoice (used in its invoiceURL / invoicePDF)."""
    return f"in_{account.name}_{period_start:%Y%m}"


def _line(description: str, quantity: Decimal, unit_price: Decimal, currency: str,
          lookup_key: str, start: dt.date, end: dt.date, **extra: Decimal) -> dict[str, Any]:
    line: dict[str, Any] = {
        "description": description, "quantity": quantity,
        "totalAmount": (quantity * unit_price).quantize(CENT), "currency": currency,
        "lookupKey": lookup_key, "startDate": _iso(start),
        "endDate": f"{end.isoformat()}T23:59:59.999Z", "unitPrice": unit_price,
    }
    line.update(extra)
    return line


def _unleash_invoice(account: DemoAccount, today: dt.date, months_back: int,
                     server_url: str) -> dict[str, Any]:
    start = _add_months(today, -months_back)
    end = _month_end(start)
    rng = random.Random(f"{account.name}:{start:%Y%m}")
    currency = account.currency
    status = _unleash_status(account, months_back)
    seats = Decimal(12 + (start.year * 12 + start.month) % 7)
    month_text = f"{_MONTH_NAMES[start.month - 1]} {start.year}"
    main = [_line(f"Enterprise seats ({month_text})", seats, Decimal("75.00"), currency,
                  "enterprise-seat", start, end)]
    if start.month % 3 == 0:
        main.append(_line("Change requests add-on", Decimal(1), Decimal("150.00"), currency,
                          "change-requests", start, end))
    usage: list[dict[str, Any]] = []
    if status != "upcoming":  # seats are billed ahead; usage only once the month ran
        limit = Decimal(10_000_000)
        consumption = Decimal(rng.randint(4_000, 16_000) * 1000)
        over = max(Decimal(0), consumption - limit)
        usage.append(_line(_FRONTEND_TEXT[currency], Decimal(math.ceil(over / 1_000_000)),
                           Decimal("5.00"), currency, "frontend-traffic", start, end,
                           consumption=consumption, limit=limit))
        edges = Decimal(rng.randint(1, 5))
        usage.append(_line("Edge instances", max(Decimal(0), edges - 3), Decimal("100.00"),
                           currency, "edge-instances", start, end,
                           consumption=edges, limit=Decimal(3)))
        if account is _FIRST_UNLEASH and months_back == 1:
            usage.append(_line(UNTRUSTED_TEXT, Decimal(1), Decimal("1.00"), currency,
                               "untrusted-text-test", start, end,
                               consumption=Decimal(1), limit=Decimal(0)))
    subtotal = sum((line["totalAmount"] for line in (*main, *usage)), Decimal("0.00"))
    tax = _tax(subtotal, account.tax_percentage / 100)
    if status == "estimate":
        # As Unleash's API does for the running month: zero figures, which its billing page
        # (and the client) recompute from the lines. The second instance's edge line has no
        # amount yet: an incomplete estimate.
        subtotal = tax = Decimal("0.00")
        if account is not _FIRST_UNLEASH:
            del usage[-1]["totalAmount"]
    issued = _add_months(start, 1)
    invoice: dict[str, Any] = {
        "invoiceDate": _iso(start if status == "upcoming" else issued),
        "dueDate": _iso((start if status == "upcoming" else issued) + dt.timedelta(days=14)),
        "status": status, "totalAmount": subtotal + tax, "subtotal": subtotal,
        "currency": currency, "taxAmount": tax, "taxPercentage": account.tax_percentage,
    }
    if status not in ("estimate", "upcoming"):
        invoice_id = unleash_invoice_id(account, start)
        invoice["invoiceURL"] = f"{server_url}/invoices/{invoice_id}"
        invoice["invoicePDF"] = f"{server_url}/invoices/{invoice_id}.pdf"
    invoice["monthText"] = month_text
    invoice["mainLines"] = main
    invoice["usageLines"] = usage
    return invoice


def unleash_invoices(account: DemoAccount, today: dt.date, server_url: str) -> dict[str, Any]:
    """The whole ``/api/admin/invoices/list`` response of a demo Unleash instance, newest first.

    ``server_url`` is where the emulator serves the invoice pages and PDFs.
    """
    invoices = [_unleash_invoice(account, today, months_back, server_url)
                for months_back in range(-1, _UNLEASH_MONTHS + 1)]
    return {"planPrice": account.plan_price, "planCurrency": account.currency,
            "invoices": invoices}


def find_unleash_invoice(invoice_id: str, today: dt.date,
                         server_url: str) -> tuple[DemoAccount, dict[str, Any]] | None:
    """The Unleash instance and invoice with emulator id ``invoice_id``, or ``None``."""
    for account in DEMO_ACCOUNTS:
        if account.provider != "unleash" or not invoice_id.startswith(f"in_{account.name}_"):
            continue
        for invoice in unleash_invoices(account, today, server_url)["invoices"]:
            if invoice.get("invoiceURL", "").endswith(f"/invoices/{invoice_id}"):
                return account, invoice
    return None
