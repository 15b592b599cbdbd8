"""Shared pieces of the UI tests: a frozen clock, the demo app, a scripted sync."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from store_helpers import fill_store, new_store
from textual.pilot import Pilot

from invoice_tui.config import AccountConfig, Config, Settings
from invoice_tui.demo import Fault, demo_environment
from invoice_tui.model import AccountSummary, Invoice, Line, Tax
from invoice_tui.providers import FetchProgress, ProviderError
from invoice_tui.store import InvoiceStore
from invoice_tui.sync import (
    EventCallback,
    SyncFailed,
    SyncOutcome,
    SyncProgress,
    SyncStarted,
    SyncSucceeded,
)
from invoice_tui.ui.app import InvoiceApp


def _load_screenshots_script() -> ModuleType:
    # The snapshot tests check exactly the screenshots the README shows, so the clock,
    # size and scenarios live in one place: scripts/screenshots.py.
    path = Path(__file__).resolve().parent.parent / "scripts" / "screenshots.py"
    spec = importlib.util.spec_from_file_location("invoice_tui_screenshots", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


screenshots = _load_screenshots_script()
TODAY: dt.date = screenshots.TODAY
NOW: dt.datetime = screenshots.NOW
SIZE: tuple[int, int] = screenshots.SIZE
frozen_now = screenshots.frozen_now
UNTRUSTED = "[bold red]x[/] [link=https://evil.example]click[/link] \x1b]52;c;ZXZpbA==\x07 \x1b[2J"


@contextmanager
def demo_app(faults: Iterable[Fault] = ()) -> Iterator[InvoiceApp]:
    """The app on the demo emulator (real HTTP on loopback) with a frozen clock."""
    with demo_environment(today=TODAY, faults=faults) as env:
        yield screenshots.demo_app(env)


async def settle(app: InvoiceApp, pilot: object) -> None:
    """Wait for every worker and for the messages they posted."""
    await screenshots.settle(pilot)


@asynccontextmanager
async def settled_demo(*, size: tuple[int, int] = SIZE, faults: Iterable[Fault] = ()
                       ) -> AsyncIterator[tuple[InvoiceApp, Pilot[int]]]:
    """The demo app running (real HTTP on loopback, frozen clock) once it has settled: every
    account's sync done and drawn. Yields the app and its pilot."""
    with demo_app(faults) as app:
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            yield app, pilot


async def run_palette_command(app: InvoiceApp, pilot: Any, title: str) -> None:
    """Open ctrl+p, type ``title``, wait for the matching hit, run it."""
    from textual.command import CommandList

    await pilot.press("ctrl+p", *title)
    # The palette searches in the background: wait (a bounded number of idle turns,
    # not a clock) until the first hit is the command asked for.
    for _ in range(500):
        hits = app.screen.query(CommandList)
        if hits and hits.first().option_count:
            prompt = hits.first().get_option_at_index(0).prompt
            if str(getattr(prompt, "plain", prompt)).startswith(title):
                break
        await pilot.pause(0.01)
    else:
        raise AssertionError(f"the palette never offered {title!r}")
    await pilot.press("enter")
    await pilot.pause()


# --- a scripted sync for states the emulator cannot hold still (syncing…) -----------


class ScriptedSync:
    """Stands in for ``sync_account``: per account, invoices or a ``ProviderError``.

    Accounts in ``hold`` report progress and then wait until ``release()``.
    """

    def __init__(self, results: dict[str, tuple[Invoice, ...] | ProviderError],
                 summaries: dict[str, AccountSummary] | None = None,
                 hold: Iterable[str] = ()) -> None:
        self.results = results
        self.summaries = summaries or {}
        self.hold = set(hold)
        self.calls: list[str] = []
        self._gate = asyncio.Event()

    def release(self) -> None:
        self._gate.set()

    async def __call__(self, account: AccountConfig, settings: Settings, *,
                       store: InvoiceStore | None = None,
                       on_event: EventCallback | None = None) -> SyncOutcome:
        emit = on_event or (lambda event: None)
        self.calls.append(account.name)
        emit(SyncStarted(account.name))
        emit(SyncProgress(account.name, FetchProgress(invoices=150, pages=3)))
        if account.name in self.hold:
            await self._gate.wait()
        result = self.results[account.name]
        outcome: SyncOutcome
        if isinstance(result, ProviderError):
            outcome = SyncFailed(account.name, result)
        else:
            summary = self.summaries.get(account.name, AccountSummary())
            if store is not None:  # as sync_account does: the table reads what is stored
                await asyncio.to_thread(fill_store, store, account, result, NOW, summary)
            outcome = SyncSucceeded(account.name, result, summary, NOW)
        emit(outcome)
        return outcome


def scripted_config(*accounts: tuple[str, str]) -> Config:
    return Config(path=None, accounts=tuple(
        AccountConfig(name=name, provider=provider, options={"name": name})
        for name, provider in accounts))


def scripted_app(tmp_path: Path, sync: ScriptedSync, *accounts: tuple[str, str]) -> InvoiceApp:
    return InvoiceApp(scripted_config(*accounts), new_store(tmp_path),
                      now=frozen_now, today=TODAY, sync=sync)


def hostile_invoice(account: str = "acme", provider: str = "unleash") -> Invoice:
    """An invoice whose every text field tries markup or terminal escapes."""
    return Invoice(
        account=account, provider=provider, id="evil-1", currency="EUR",
        status="paid\x1b[31m", number=f"INV {UNTRUSTED}", issued=dt.date(2026, 10, 1),
        subtotal=Decimal("10.00"), tax=Decimal("1.90"), total=Decimal("11.90"),
        url="https://billing.example/inv/1",
        lines=(
            Line(kind="usage", description=f"Calls {UNTRUSTED}", quantity=Decimal(3),
                 amount=Decimal("10.00"), currency="EUR", consumption=Decimal(1200),
                 limit=Decimal(1000), lookup_key="calls\x07",
                 taxes=(Tax(name=f"VAT {UNTRUSTED}", rate=Decimal("0.19"),
                            amount=Decimal("1.90"), taxable=Decimal("10.00"),
                            level="country", category="[b]std[/b]", currency="EUR"),)),
        ),
    )


def widget_text(widget: object) -> str:
    """What a widget shows right now, as plain text (lines joined with newlines)."""
    from textual.widget import Widget

    assert isinstance(widget, Widget)
    strips = widget.render_lines(widget.region.reset_offset)
    return "\n".join(strip.text for strip in strips)


def squashed(text: str) -> str:
    """``text`` with all whitespace removed.

    A dialog wraps a long path (and the words after it) wherever the width runs out,
    and the temp dir's length differs per machine and user; comparing squashed
    needle and haystack checks the words without depending on where lines break.
    """
    return "".join(text.split())


# --- small pieces several UI test files share ----------------------------------------

ACCOUNTS = (("vox-main", "voximplant"), ("acme", "unleash"))


def main_screen(app: object) -> Any:
    """The app's current screen, asserted to be the main screen."""
    from invoice_tui.ui.screens.main import MainScreen

    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, MainScreen)
    return screen


def simple_invoice(account: str, number: str, total: str = "1.00",
                   currency: str = "USD") -> Invoice:
    """A paid invoice of 2026-09-01 with just a number and a total."""
    return Invoice(account=account, provider="voximplant", id=number, currency=currency,
                   status="paid", number=number, issued=dt.date(2026, 9, 1),
                   total=Decimal(total))


async def wait_for_cache(main: Any, pilot: Any) -> None:
    """Wait until the main screen has read the store (in a thread, after the first paint)."""
    await main.cache_loaded.wait()
    await pilot.pause()
