"""The `/` query spelled out over whole ``Invoice`` objects: what the view, working on its
compact index, must agree with."""

from __future__ import annotations

from invoice_tui.model import Invoice
from invoice_tui.query import (
    Query,
    compare_amount,
    compare_day,
    status_matches,
    text_field_matches,
)


def matches_query(inv: Invoice, query: Query) -> bool:
    """The query spelled out over one invoice's own fields (the view works on its index)."""
    fields = [inv.number or "", inv.label or "", inv.status, inv.account]
    fields += [line.description for line in inv.lines]
    folded = [f.casefold() for f in fields]
    if not all(any(w in f for f in folded) for w in query.words):
        return False
    if any(any(w in f for f in folded) for w in query.excluded_words):
        return False
    for term in query.field_terms:
        if term.field == "status":
            held = status_matches(term, inv.provider, inv.status)
        elif term.field in ("provider", "account", "currency"):
            held = text_field_matches(term, getattr(inv, term.field))
        elif term.field == "total":
            held = compare_amount(term, inv.total)
        else:
            held = compare_day(term, inv.due if term.field == "due" else inv.issued)
        if held == term.negated:
            return False
    return True
