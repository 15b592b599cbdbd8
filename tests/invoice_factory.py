"""Invoices built directly as ``model.Invoice`` for the table/view tests and the benchmark.

Synthetic but realistic: several accounts of both providers, USD/EUR/JPY, every
status, line items with descriptions, a few undated or amount-less invoices.
Deterministic (a seeded ``random.Random``), so a failing case reproduces.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from invoice_tui.model import Invoice, Line

ACCOUNTS = (
    ("vox-main", "voximplant", "USD"),
    ("vox-eu", "voximplant", "EUR"),
    ("unleash-acme", "unleash", "USD"),
    ("unleash-contoso", "unleash", "EUR"),
    ("vox-jp", "voximplant", "JPY"),
)
VOX_STATUSES = ("new", "taxed", "accepted", "committed", "cancelled", "numbered")
UNLEASH_STATUSES = ("estimate", "upcoming", "invoiced", "paid", "past-due")
SERVICES = ("Calls", "SMS", "Recording storage", "Phone numbers", "Seats", "Feature flags",
            "Frontend API requests — 東京 edge", "Zürich traffic")


def make_invoice(account: str = "acct", invoice_id: str = "1", **fields: object) -> Invoice:
    """One invoice with sensible defaults; any field can be overridden."""
    values: dict[str, object] = {
        "provider": "voximplant", "currency": "USD", "status": "paid",
        "issued": dt.date(2026, 1, 1), "total": Decimal("10.00"),
    }
    values.update(fields)
    return Invoice(account=account, id=invoice_id, **values)  # type: ignore[arg-type]


def synthetic_invoices(count: int, seed: int = 7) -> list[Invoice]:
    """``count`` invoices spread over the accounts in :data:`ACCOUNTS`."""
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1)
    invoices: list[Invoice] = []
    for index in range(count):
        account, provider, currency = ACCOUNTS[index % len(ACCOUNTS)]
        issued = start + dt.timedelta(days=rng.randrange(0, 1200))
        period_start = issued.replace(day=1)
        period_end = (period_start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        digits = 0 if currency == "JPY" else 2
        subtotal = Decimal(rng.randrange(0, 5_000_000)).scaleb(-digits)
        tax = (subtotal * Decimal("0.19")).quantize(Decimal(1).scaleb(-digits))
        lines = tuple(
            Line(kind="service", description=rng.choice(SERVICES),
                 amount=subtotal / 2, currency=currency)
            for _ in range(rng.randrange(1, 4))
        )
        if provider == "voximplant":
            status = rng.choice(VOX_STATUSES)
            number, label = f"VOX-{index:06d}", None
        else:
            status = rng.choice(UNLEASH_STATUSES)
            number, label = None, f"{issued:%B %Y}"
        undated = index % 997 == 3  # a few invoices without dates or amounts
        invoices.append(Invoice(
            account=account, provider=provider, id=str(100000 + index), currency=currency,
            status=status, number=number, label=label,
            issued=None if undated else issued,
            due=None if undated else issued + dt.timedelta(days=14),
            period_start=period_start, period_end=period_end,
            subtotal=subtotal, tax=tax, total=None if undated else subtotal + tax,
            lines=lines,
        ))
    return invoices
