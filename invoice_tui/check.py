"""Is an account reachable? One request for the first page of its invoice list (no UI here).

``invoice-tui check`` and the account form's "Test connection" ask this: can the
configured credentials read the invoices, and how many are there. It reads the
first page only, through the provider's own request, retry and parsing code
(:meth:`~invoice_tui.providers.base.Provider.first_page`), within the configured
deadline (``[settings] timeout``, retries included), and writes nothing: no
store, no cache, no config.

What the count means (one thing, whatever the provider): how many invoices the
account's list holds according to the provider's answer, which is what a full
sync would read. Voximplant states it (``total_count``); Unleash sends its whole
list in one answer without a total, so its length is that count and the line
says it was counted; a Voximplant answer without ``total_count`` gives no count
(``None``), and the line says how many the first page held instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from .config import AccountConfig, Config, Settings
from .providers.base import FirstPage, Provider, ProviderError
from .sync import as_provider_error, make_client
from .text import sanitize

__all__ = ["CheckResult", "Counted", "check_account", "check_all"]

#: How ``CheckResult.invoices`` was obtained: the provider's stated total
#: (``"provider_total"``), the length of a list the provider sends whole
#: (``"whole_list"``), or ``None`` when there is no count.
Counted = Literal["provider_total", "whole_list"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One account's check: ``ok`` with a count, or the one-line reason and hint of the failure.

    ``invoices`` is how many invoices the account's list holds (see the module
    docstring), ``None`` when the provider gave no count or the check failed;
    ``counted`` says how it was obtained; ``first_page`` is how many invoices the
    answer actually carried (``None`` on failure). ``reason`` and ``hint`` are empty
    when ``ok``; every text field is sanitized and holds no secret.
    """

    name: str
    provider: str
    ok: bool
    invoices: int | None = None
    reason: str = ""
    hint: str = ""
    counted: Counted | None = None
    first_page: int | None = None

    @classmethod
    def passed(cls, account: AccountConfig, page: FirstPage) -> CheckResult:
        """The result for an account whose first page arrived and parsed."""
        seen = len(page.invoices)
        if page.total is not None:
            return cls(_name(account), account.provider, True, page.total,
                       counted="provider_total", first_page=seen)
        if page.whole:
            return cls(_name(account), account.provider, True, seen,
                       counted="whole_list", first_page=seen)
        return cls(_name(account), account.provider, True, None, first_page=seen)

    @classmethod
    def failed(cls, account: AccountConfig, error: ProviderError) -> CheckResult:
        """The result for an account whose check failed with ``error`` (already safe text)."""
        return cls(_name(account), account.provider, False, None,
                   reason=error.reason, hint=error.hint)

    def summary(self) -> str:
        """What the check found, without the mark and name: ``28 invoices reachable``, or
        ``reason — hint`` (the same words the TUI shows for a failed sync)."""
        if not self.ok:
            return f"{self.reason} — {self.hint}" if self.hint else self.reason
        if self.counted is not None:  # the same figure either way: what a sync would read
            return f"{_invoices(self.invoices or 0)} reachable"
        return (f"reachable ({_invoices(self.first_page or 0)} on the first page; "
                "the server gave no total)")

    def line(self, width: int = 0) -> str:
        """The human form: ``✓ NAME  N invoices reachable`` or ``✗ NAME  reason — hint``;
        the name padded to ``width`` so several lines align."""
        return f"{'✓' if self.ok else '✗'} {self.name.ljust(width)}  {self.summary()}"

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form: every field, ``null`` where there is no value."""
        return {
            "name": self.name, "provider": self.provider, "ok": self.ok,
            "invoices": self.invoices, "counted": self.counted, "first_page": self.first_page,
            "reason": self.reason or None, "hint": self.hint or None,
        }


def _name(account: AccountConfig) -> str:
    # Names come from the config, which anyone may have edited: shown, so sanitized.
    return sanitize(account.name, limit=80)


def _invoices(count: int) -> str:
    return f"{count:,} invoice" + ("" if count == 1 else "s")


def _provider_and_client(account: AccountConfig, settings: Settings
                         ) -> tuple[Provider, httpx.AsyncClient]:
    return account.build(), make_client(settings)


async def check_account(account: AccountConfig, settings: Settings) -> CheckResult:
    """Fetch the first page of ``account``'s invoice list; never raises but on cancellation.

    One request (with the provider's usual retries), bounded by ``settings.timeout``
    as a whole; its own HTTP client, so checks of several accounts run side by side.
    Nothing is written anywhere. A failure comes back as ``ok=False`` with the same
    reason and hint a failed sync shows.
    """
    try:
        # Loading an RSA key and a TLS context takes ~100 ms each: off the event loop,
        # as in sync, so a form's "Test connection" never freezes the UI.
        provider, client = await asyncio.to_thread(_provider_and_client, account, settings)
        async with client:
            page = await provider.first_page(client, settings.fetch_options())
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug must still reach the user as one line
        return CheckResult.failed(account, as_provider_error(exc, f"checking {account.name}"))
    return CheckResult.passed(account, page)


async def check_all(config: Config, names: Iterable[str] | None = None) -> list[CheckResult]:
    """Check the named accounts (default: all) concurrently, in the order asked.

    Unknown names raise ``KeyError`` before anything starts.
    """
    accounts = (list(config.accounts) if names is None
                else [config.account(name) for name in dict.fromkeys(names)])
    return list(await asyncio.gather(*(check_account(account, config.settings)
                                       for account in accounts)))
