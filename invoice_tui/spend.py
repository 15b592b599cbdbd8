"""Spend over time: the billed figure per account and month, per currency (issue 9 §1).

Plain data in, plain data out, no Textual. Built from the compact per-account index the
TUI already holds (:class:`~invoice_tui.index.AccountIndex`), never from ``Invoice``
objects:

1. :func:`account_spend` sums one account's invoices per month of issue (the month the
   main screen's period filter puts them in, ``view.Period``), per currency, with
   :func:`~invoice_tui.meaning.money_totals` — the one money rule, so a cell's billed
   figure is exactly what the status line says for that account and month (no
   cancelled, estimates or upcoming; an unknown currency left out). It is the costly
   step (a pass over every invoice): :class:`SpendBook` keeps its result per index and
   runs it again only for an account whose index was replaced.
2. :func:`spend_table` lays those sums out for a period and a set of accounts: one
   block per currency (never a mixed sum), a provider row with its accounts under it,
   a total row, month-over-month changes, and the current estimate apart. It costs
   accounts × months, nothing per invoice.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from invoice_tui.index import AccountIndex
from invoice_tui.meaning import ESTIMATED_MEANINGS, money_totals, status_meaning
from invoice_tui.view import Period

__all__ = [
    "BLOCKS", "AccountSpend", "Change", "CurrencySpend", "Drill", "SpendBook", "SpendRow",
    "SpendTable", "account_spend", "bar_blocks", "change_text", "month_change",
    "month_label", "month_number", "month_period", "shown_months", "spend_table",
]

_ZERO = Decimal(0)

# --- months ------------------------------------------------------------------------------
# A month is one int, year * 12 + month - 1: consecutive months are consecutive numbers.


def month_number(year: int, month: int) -> int:
    """The month's number (``year * 12 + month - 1``): the next month is one more."""
    return year * 12 + month - 1


def month_of(date: dt.date) -> int:
    """The number of the month ``date`` lies in."""
    return month_number(date.year, date.month)


def month_label(month: int) -> str:
    """``"2026-03"``, as the period filter names a month."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def month_period(month: int) -> Period:
    """The main screen's period filter for that month."""
    return Period("month", month // 12, month % 12 + 1)


# --- one account ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountSpend:
    """One account's invoices summed per month of issue, per currency.

    ``billed`` and ``estimated``: currency code → month → the sum (see
    :func:`~invoice_tui.meaning.money_totals`). A month is there when the account has
    any invoice in that currency then, even if nothing of it is billed (all cancelled:
    ``0``). ``undated``: invoices without an issue date, so in no month.
    ``estimate_statuses``: the raw statuses of its estimates and upcoming invoices.
    """

    account: str
    provider: str
    billed: Mapping[str, Mapping[int, Decimal]]
    estimated: Mapping[str, Mapping[int, Decimal]]
    undated: int = 0
    estimate_statuses: frozenset[str] = frozenset()


def account_spend(index: AccountIndex) -> AccountSpend:
    """Sum one account's index per month of issue and currency (one pass over it)."""
    days = index.days
    # A few hundred distinct days in 100 000 invoices: a month per day, once (undated: -1).
    month_of_day = {day: month_of(dt.date.fromordinal(day)) if day else -1
                    for day in set(days)}
    months = list(map(month_of_day.__getitem__, days))
    # Each month's invoices in the order they are stored: summing them in the index's
    # tie order (by date) instead reads its lists out of order, and costs three times
    # as much (cache misses on 100 000 Decimals). A stable sort keeps that order.
    positions = sorted(range(len(months)), key=months.__getitem__)
    by_month = list(map(months.__getitem__, positions))
    providers, statuses = index.providers, index.statuses
    currencies, totals, dues = index.currencies, index.totals, index.amounts_due
    billed: dict[str, dict[int, Decimal]] = {}
    estimated: dict[str, dict[int, Decimal]] = {}
    start = bisect_right(by_month, -1)  # after the undated
    while start < len(by_month):
        month = by_month[start]
        end = bisect_right(by_month, month, start)
        low, high = positions[start], positions[end - 1] + 1
        if high - low == end - start:  # stored together (pages arrive by date): slices
            facts = zip(providers[low:high], statuses[low:high], currencies[low:high],
                        totals[low:high], dues[low:high], strict=True)
        else:
            group = positions[start:end]
            facts = zip(map(providers.__getitem__, group), map(statuses.__getitem__, group),
                        map(currencies.__getitem__, group), map(totals.__getitem__, group),
                        map(dues.__getitem__, group), strict=True)
        for code, money in money_totals(facts).items():
            billed.setdefault(code, {})[month] = money.billed
            estimated.setdefault(code, {})[month] = money.estimated
        start = end
    pairs = set(zip(providers, statuses, strict=True))
    return AccountSpend(
        account=index.account,
        provider=providers[0] if providers else "",
        billed=billed, estimated=estimated, undated=bisect_right(by_month, -1),
        estimate_statuses=frozenset(status for provider, status in pairs
                                    if status_meaning(provider, status) in ESTIMATED_MEANINGS),
    )


class SpendBook:
    """:func:`account_spend` of each account, worked out once per index.

    An account's index is replaced (never changed) when its data changes, so the index
    object itself says whether the sums are still current.
    """

    def __init__(self) -> None:
        self._kept: dict[str, tuple[AccountIndex, AccountSpend]] = {}

    def spend(self, index: AccountIndex) -> AccountSpend:
        """The account's sums, from the cache when ``index`` is the one they were made of."""
        kept = self._kept.get(index.account)
        if kept is not None and kept[0] is index:
            return kept[1]
        made = account_spend(index)
        self._kept[index.account] = (index, made)
        return made

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the sums of every account not in ``keep`` (removed from the config)."""
        wanted = set(keep)
        for name in [name for name in self._kept if name not in wanted]:
            del self._kept[name]


# --- month-over-month ----------------------------------------------------------------------

#: A month-over-month change: a percentage, ``"new"`` (nothing billed the month before,
#: something now: no finite percentage), or ``None`` (nothing to compare).
Change = Decimal | Literal["new"] | None


def month_change(previous: Decimal | None, current: Decimal | None) -> Change:
    """The change from ``previous`` to ``current`` in percent (``None``: no invoice).

    Only a positive previous month is a base: from nothing (or a credit) to a charge is
    ``"new"``, never an infinite or negative-based percentage.
    """
    now = current if current is not None else _ZERO
    if previous is None or previous <= 0:
        return "new" if now > 0 else None
    return (now - previous) * 100 / previous


def change_text(change: Change) -> str:
    """``"+12 %"``, ``"-3 %"``, ``"0 %"``, ``"new"`` or ``""`` (whole percents, rounded
    half to even; a change under 10 % keeps one decimal, so 0.4 % is not "0 %")."""
    if change is None:
        return ""
    if change == "new":
        return "new"
    digits = Decimal(1) if abs(change) >= 10 else Decimal("0.1")
    rounded = change.quantize(digits, rounding=ROUND_HALF_EVEN)
    if not rounded:
        return "0 %"
    return f"{rounded:+f} %"


# --- the table ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One row of a currency's block: a provider (its accounts summed), an account, or
    the total of the block.

    ``billed`` is aligned with the table's months (``None``: no invoice in this currency
    that month); ``before`` is the month before the first one shown, for its change;
    ``estimate`` is the current estimate (``None``: none).
    """

    kind: Literal["provider", "account", "total"]
    provider: str  # "" for the total
    account: str  # "" for a provider or the total
    accounts: frozenset[str]  # what the row sums (what Enter filters the table to)
    billed: tuple[Decimal | None, ...]
    before: Decimal | None
    estimate: Decimal | None
    estimate_statuses: frozenset[str] = frozenset()

    def change(self, column: int) -> Change:
        """The month-over-month change of the month in ``column``."""
        previous = self.billed[column - 1] if column > 0 else self.before
        return month_change(previous, self.billed[column])

    def changes(self) -> tuple[Change, ...]:
        """:meth:`change` of every month."""
        return tuple(self.change(column) for column in range(len(self.billed)))


@dataclass(frozen=True, slots=True)
class CurrencySpend:
    """One currency's block: provider rows each followed by its accounts, then the total."""

    currency: str
    rows: tuple[SpendRow, ...]

    @property
    def total(self) -> SpendRow:
        """The block's total row (its last)."""
        return self.rows[-1]


@dataclass(frozen=True, slots=True)
class Drill:
    """What Enter on a cell shows in the invoice table: these accounts, this period, and
    (the estimate column) only these statuses."""

    accounts: frozenset[str]
    period: Period
    statuses: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class SpendTable:
    """Billed per month, per currency, for a period and a set of accounts.

    ``months`` are month numbers, ascending and consecutive; ``current`` is today's
    month. ``has_estimate``: the last month shown is the current one, so the current
    estimate (estimates and upcoming invoices of this month on) is shown apart.
    """

    months: tuple[int, ...]
    current: int
    blocks: tuple[CurrencySpend, ...]
    has_estimate: bool
    undated: int = 0
    accounts: frozenset[str] | None = None  # the account filter carried over
    period: Period = field(default_factory=Period)  # the period filter carried over

    def drill(self, row: SpendRow, column: int | None) -> Drill:
        """What Enter on ``row`` in month ``column`` (``None``: the estimate) shows."""
        if column is None:
            return Drill(row.accounts, Period(), row.estimate_statuses or None)
        return Drill(row.accounts, month_period(self.months[column]))


def shown_months(period: Period, data: Iterable[int], current: int) -> tuple[int, ...]:
    """The months a period shows: all time from the first month with an invoice, a year
    from January, one month alone — up to this month (or a later month with billed
    invoices); a year wholly in the future shows all twelve."""
    present = sorted(data)
    last = max(current, present[-1]) if present else current
    if period.kind == "month":
        return (month_of(dt.date(period.year or 1, period.month or 1, 1)),)
    if period.kind == "year":
        first = month_number(period.year or 1, 1)
        months = tuple(range(first, min(first + 11, last) + 1))
        return months or tuple(range(first, first + 12))
    return tuple(range(present[0], last + 1)) if present else (current,)


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    present = [value for value in values if value is not None]
    return sum(present, _ZERO) if present else None


def _row(kind: Literal["provider", "account", "total"], provider: str, account: str,
         members: Sequence[AccountSpend], code: str, months: Sequence[int],
         estimate_from: int | None) -> SpendRow:
    series = [spend.billed.get(code, {}) for spend in members]
    estimates = [spend.estimated.get(code, {}) for spend in members]
    estimate = None
    if estimate_from is not None:
        estimate = _sum(amount for month_sums in estimates
                        for month, amount in month_sums.items() if month >= estimate_from)
    return SpendRow(
        kind=kind, provider=provider, account=account,
        accounts=frozenset(spend.account for spend in members),
        billed=tuple(_sum(sums.get(month) for sums in series) for month in months),
        before=_sum(sums.get(months[0] - 1) for sums in series),
        estimate=estimate,
        estimate_statuses=frozenset().union(*(spend.estimate_statuses for spend in members)),
    )


def spend_table(spends: Iterable[AccountSpend], period: Period, today: dt.date,
                accounts: frozenset[str] | None = None) -> SpendTable:
    """Lay the accounts' sums out for ``period`` (the main screen's period filter) and
    ``accounts`` (its account filter; ``None``: all): a block per currency in code order,
    providers in name order, each followed by its accounts in name order, then the total.
    """
    chosen = sorted((spend for spend in spends if accounts is None or spend.account in accounts),
                    key=lambda spend: (spend.provider, spend.account.casefold(), spend.account))
    current = month_of(today)
    # Months holding a real charge: a later one than today (a clock behind the
    # provider's) still shows; months with only an estimate are the estimate's.
    data = {month for spend in chosen for sums in spend.billed.values()
            for month, amount in sums.items() if amount}
    data |= {month for spend in chosen for sums in spend.billed.values() for month in sums
             if month <= current}
    months = shown_months(period, data, current)
    has_estimate = months[-1] == current
    estimate_from = current if has_estimate else None
    blocks = []
    for code in sorted({code for spend in chosen for code in spend.billed}):
        members = [spend for spend in chosen if code in spend.billed]
        rows: list[SpendRow] = []
        for provider in dict.fromkeys(spend.provider for spend in members):
            own = [spend for spend in members if spend.provider == provider]
            rows.append(_row("provider", provider, "", own, code, months, estimate_from))
            rows += [_row("account", provider, spend.account, [spend], code, months,
                          estimate_from) for spend in own]
        rows.append(_row("total", "", "", members, code, months, estimate_from))
        blocks.append(CurrencySpend(code, tuple(rows)))
    return SpendTable(months=months, current=current, blocks=tuple(blocks),
                      has_estimate=has_estimate,
                      undated=sum(spend.undated for spend in chosen),
                      accounts=accounts, period=period)


# --- the chart -------------------------------------------------------------------------------

#: Eighths of a cell, empty to full: a bar's top cell.
BLOCKS = " ▁▂▃▄▅▆▇█"


def bar_blocks(value: Decimal | None, largest: Decimal, height: int) -> list[str]:
    """A vertical bar of ``height`` cells for ``value`` on a scale up to ``largest``: one
    block character per cell, top first. Anything above zero shows at least an eighth;
    nothing, zero or a credit shows no bar."""
    if value is None or value <= 0 or largest <= 0:
        return [" "] * height
    eighths = int((min(value, largest) * height * 8 / largest).to_integral_value())
    eighths = max(1, eighths)
    cells = []
    for level in range(height - 1, -1, -1):  # top cell first
        filled = eighths - level * 8
        cells.append(BLOCKS[max(0, min(8, filled))])
    return cells
