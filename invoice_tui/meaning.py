"""What an invoice's status means, and the money totals a finance person means.

Providers send free-form statuses, and the same word does not mean the same thing
everywhere: Voximplant is a prepaid platform, so its ``new`` invoice documents spend
already charged to the balance, while an Unleash ``invoiced`` one is waiting to be
paid. Each provider has its own table below (raw status → :data:`Meaning`); a
provider without one gets the generic table.

The totals, per currency and never across currencies (:func:`money_totals`):

- **billed**: Σ ``total`` of the real charges — meaning paid, open, overdue or issued;
- **due**: Σ ``amount_due`` (``total`` where the provider sends no amount due) of the
  open and overdue invoices;
- **est.**: Σ ``total`` of the estimates and the upcoming (next) invoice, apart.

Cancelled invoices count nowhere. Neither does ``other`` (a draft, or a status we do
not know): an unknown word may well be a charge, but claiming it as billed would be a
guess, and the detail view says why such an invoice is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from invoice_tui.model import UNKNOWN_CURRENCY, Invoice, currency_code, format_money
from invoice_tui.text import sanitize

__all__ = [
    "BILLED_MEANINGS", "DUE_MEANINGS", "ESTIMATED_MEANINGS", "MEANING_TEXT", "Meaning",
    "MoneyFacts", "MoneyTotals", "billed_exclusion", "fit_totals", "label_of_status", "meaning",
    "money_facts", "money_totals", "status_label", "status_meaning", "totals_phrases",
]

Meaning = Literal["paid", "open", "overdue", "cancelled", "estimate", "upcoming", "issued",
                  "other"]

#: Meanings whose ``total`` counts toward billed: real charges.
BILLED_MEANINGS: frozenset[Meaning] = frozenset({"paid", "open", "overdue", "issued"})
#: Meanings whose amount due counts toward due: not paid yet.
DUE_MEANINGS: frozenset[Meaning] = frozenset({"open", "overdue"})
#: Meanings whose ``total`` counts toward est.: figures that are not a charge yet.
ESTIMATED_MEANINGS: frozenset[Meaning] = frozenset({"estimate", "upcoming"})

#: What each meaning says, in words (the detail view shows it beside the raw status).
MEANING_TEXT: Mapping[Meaning, str] = {
    "paid": "paid",
    "open": "open, to be paid",
    "overdue": "overdue",
    "cancelled": "cancelled",
    "estimate": "an estimate",
    "upcoming": "the next invoice, not billed yet",
    "issued": "issued; prepaid, already charged to the balance",
    "other": "not known to be a charge",
}

# Voximplant GetAccountInvoices (SPEC §1; seen: new, taxed, accepted, committed, numbered,
# cancelled). These are the steps of preparing the document, not of payment: the
# platform is prepaid and the spend was taken from the balance as it happened, so no
# Voximplant invoice is ever unpaid or overdue. A status we have not seen yet is most
# likely another such step, hence "issued" too, never "open".
_VOXIMPLANT: Mapping[str, Meaning] = {
    "new": "issued", "taxed": "issued", "accepted": "issued", "committed": "issued",
    "numbered": "issued", "cancelled": "cancelled", "canceled": "cancelled",
}

# Unleash Get Detailed Invoices (seen: estimate, upcoming, invoiced, paid; past-due and
# Stripe's words possible). A status we do not know is "other": not counted anywhere.
_UNLEASH: Mapping[str, Meaning] = {
    "paid": "paid",
    "invoiced": "open", "open": "open",
    "past-due": "overdue", "past_due": "overdue", "overdue": "overdue", "unpaid": "overdue",
    "uncollectible": "overdue",
    "void": "cancelled", "cancelled": "cancelled", "canceled": "cancelled",
    "estimate": "estimate",
    "upcoming": "upcoming",
    "draft": "other",
}

# Any other provider: the common billing words; anything else is "other".
_GENERIC: Mapping[str, Meaning] = {
    **_UNLEASH,
    "issued": "issued",
    "due": "open", "pending": "open",
}

# provider → (its table, the meaning of a status not in it)
_TABLES: Mapping[str, tuple[Mapping[str, Meaning], Meaning]] = {
    "voximplant": (_VOXIMPLANT, "issued"),
    "unleash": (_UNLEASH, "other"),
}
_GENERIC_TABLE: tuple[Mapping[str, Meaning], Meaning] = (_GENERIC, "other")


def meaning(invoice: Invoice) -> Meaning:
    """What the invoice's raw status means for its provider (see the tables above)."""
    return status_meaning(invoice.provider, invoice.status)


def status_meaning(provider: str, status: str) -> Meaning:
    """What a raw ``status`` means for ``provider`` (see the tables above)."""
    table, unknown = _TABLES.get(provider, _GENERIC_TABLE)
    found = table.get(status)  # the common case: the word exactly as the tables spell it
    if found is None:
        found = table.get(status.strip().casefold(), unknown)
    return found


# Short: the detail view's money block is narrow ("Billed  no — the next invoice").
_EXCLUSION: Mapping[Meaning, str] = {
    "cancelled": "cancelled",
    "estimate": "an estimate",
    "upcoming": "the next invoice",
    "other": "not a known charge",
}


def billed_exclusion(invoice: Invoice) -> str | None:
    """``None`` when the invoice counts toward billed, else why not, in words."""
    return _EXCLUSION.get(meaning(invoice))


def status_label(invoice: Invoice) -> str:
    """The status as the table and detail view show it: the raw word, sanitized.

    Unleash's ``upcoming`` reads "Next invoice", as on Unleash's own billing page.
    """
    return label_of_status(invoice.provider, invoice.status)


def label_of_status(provider: str, status: str) -> str:
    """:func:`status_label` of an invoice of ``provider`` in ``status``."""
    if provider == "unleash" and status.strip().casefold() == "upcoming":
        return "Next invoice"
    return sanitize(status)


@dataclass(frozen=True)
class MoneyTotals:
    """One currency's totals: billed (real charges), due (unpaid) and estimated."""

    billed: Decimal
    due: Decimal
    estimated: Decimal


_ZERO = Decimal(0)


#: What the money totals read of an invoice: provider, status, currency, total, amount due.
#: A plain tuple, so a compact index can stream it without building an Invoice.
MoneyFacts = tuple[str, str, str, Decimal | None, Decimal | None]


def money_facts(invoice: Invoice) -> MoneyFacts:
    """The invoice's :data:`MoneyFacts`, for :func:`money_totals`."""
    return (invoice.provider, invoice.status, invoice.currency, invoice.total,
            invoice.amount_due)


def money_totals(records: Iterable[MoneyFacts]) -> dict[str, MoneyTotals]:
    """Billed, due and estimated per currency, in alphabetical order of the codes.

    ``records`` are :data:`MoneyFacts`, one per invoice (``map(money_facts, invoices)``).
    A currency appears when any of the invoices is in it, even if all of its figures are
    zero (all cancelled, say). Invoices in an unknown currency (``XXX``, or a code that is
    not ISO-shaped) are left out: they may be in different currencies, so no sum of them
    means anything. A missing ``total`` adds nothing. The order is that of the codes, so
    it does not change when the table is sorted.
    """
    sums: dict[str, list[Decimal]] = {}  # code → [billed, due, estimated]
    # 100 000 invoices hold a handful of currencies and statuses: look each up once.
    entries: dict[str, list[Decimal] | None] = {}  # currency as sent → its sums (None: skip)
    kinds: dict[tuple[str, str], Meaning] = {}
    for provider, status, currency, total, amount_due in records:
        try:
            entry = entries[currency]
        except KeyError:
            code = currency_code(currency)
            entry = entries[currency] = (
                None if code is None or code == UNKNOWN_CURRENCY
                else sums.setdefault(code, [_ZERO, _ZERO, _ZERO]))
        if entry is None:
            continue
        key = (provider, status)
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = status_meaning(provider, status)
        if kind in BILLED_MEANINGS:
            if total is not None:
                entry[0] += total
            if kind in DUE_MEANINGS:
                owed = amount_due if amount_due is not None else total
                if owed is not None:
                    entry[1] += owed
        elif kind in ESTIMATED_MEANINGS and total is not None:
            entry[2] += total
    return {code: MoneyTotals(*sums[code]) for code in sorted(sums)}


def totals_phrases(totals: Mapping[str, MoneyTotals], *, estimates: bool = True) -> list[str]:
    """One phrase per currency: ``"billed 1,234.50 EUR · due 100.00 EUR · est. 50.00 EUR"``.

    ``billed`` always; ``due`` only when not zero; ``est.`` only when not zero and
    ``estimates`` is true.
    """
    phrases = []
    for code, money in totals.items():
        parts = [f"billed {format_money(money.billed, code, with_code=True)}"]
        if money.due:
            parts.append(f"due {format_money(money.due, code, with_code=True)}")
        if estimates and money.estimated:
            parts.append(f"est. {format_money(money.estimated, code, with_code=True)}")
        phrases.append(" · ".join(parts))
    return phrases


def fit_totals(totals: Mapping[str, MoneyTotals], width: int | None = None,
               separator: str = "  │  ") -> list[str]:
    """The per-currency phrases to show in ``width`` cells, joined by ``separator``.

    Never a cut figure or a mixed sum: when everything does not fit, whole parts go —
    first the ``est.`` figures, then whole currencies from the end, named in a last
    ``"+JPY, USD"`` phrase (a currency is never hidden without a word), then the first
    currency's ``due``. The first currency's ``billed`` always stays (the caller crops
    if even that is too wide).
    """
    def length(phrases: list[str]) -> int:
        return sum(len(p) for p in phrases) + len(separator) * max(0, len(phrases) - 1)

    full = totals_phrases(totals)
    if width is None or length(full) <= width:
        return full
    short = totals_phrases(totals, estimates=False)
    if length(short) <= width:
        return short
    codes = list(totals)
    for kept in range(len(short) - 1, 0, -1):
        shown = [*short[:kept], "+" + ", ".join(codes[kept:])]
        if length(shown) <= width:
            return shown
    first = codes[0]
    billed_only = f"billed {format_money(totals[first].billed, first, with_code=True)}"
    return [billed_only, "+" + ", ".join(codes[1:])] if len(codes) > 1 else [billed_only]
