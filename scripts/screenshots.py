"""Make screenshots/*.svg from the demo emulator, deterministically.

    .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]

A fixed terminal size, a fixed demo "today" and a frozen clock: the same code and
demo data give the same SVGs. Every screenshot runs the real app over real HTTP
against the emulator on loopback; nothing touches the user's config or cache.
``tests/test_snapshots.py`` snapshot-tests exactly these scenarios.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invoice_tui.demo import DemoEnvironment, Fault, demo_environment
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.screens.account_form import AccountFormScreen
from invoice_tui.ui.screens.error import ConfigErrorScreen
from invoice_tui.ui.screens.main import MainScreen

SIZE = (140, 40)
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
WELCOME_PATH = Path("~/.config/invoice-tui/config.toml")
ROOT = Path(__file__).resolve().parent.parent

Steps = Callable[[Any], Awaitable[None]]


def frozen_now() -> dt.datetime:
    """The clock every screenshot and snapshot sees."""
    return NOW


def demo_app(env: DemoEnvironment) -> InvoiceApp:
    """The app on a running demo environment, with the frozen clock and demo today."""
    return InvoiceApp(env.config, env.store, now=frozen_now, today=TODAY, demo=True)


def welcome_app() -> InvoiceApp:
    """The app as a first run without a config sees it."""
    return InvoiceApp(None, config_path=WELCOME_PATH, now=frozen_now, today=TODAY)


async def settle(pilot: Any) -> None:
    """Wait for every worker and the messages they posted, and for the workers those
    started (a finished sync starts a read of the store)."""
    for _ in range(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        if not any(True for _ in pilot.app.workers):
            return


def _main_screen(pilot: Any) -> MainScreen:
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def _nothing(pilot: Any) -> None:
    return None


async def _filter(pilot: Any) -> None:
    _main_screen(pilot).filter_input.cursor_blink = False
    await pilot.press("slash", *"acme", "enter", "p")


async def _query_chips(pilot: Any) -> None:
    # Field terms and a negation as chips (80 columns: the first whole, the rest counted),
    # and a term the box cannot use, with its hint under it.
    _main_screen(pilot).filter_input.cursor_blink = False
    await pilot.press("slash", *"-status:cancelled total>1000 currency:usd due<2026-13")


async def _detail(pilot: Any) -> None:
    _main_screen(pilot).show_account("unleash-acme")
    # The estimate: usage bars and the ESTIMATE badge (and no link: links carry the
    # emulator's random port, which would make the picture differ run to run).
    await pilot.press("j", "enter")


async def _line_detail(pilot: Any) -> None:
    _main_screen(pilot).show_account("vox-eu")
    await pilot.press("enter", "enter")


async def _failure(pilot: Any) -> None:
    pane = _main_screen(pilot).pane
    pane.focus()
    pane.select_account("vox-eu")


async def _failure_detail(pilot: Any) -> None:
    await _failure(pilot)
    await pilot.press("e")


async def _help(pilot: Any) -> None:
    await pilot.press("question_mark")


async def _spend(pilot: Any) -> None:
    await pilot.press("m")
async def _export(pilot: Any) -> None:
    _main_screen(pilot).show_account("vox-main")
    await pilot.press("ctrl+e")
    pilot.app.screen.query_one("#export-path").cursor_blink = False


async def _config_error_reload(pilot: Any) -> None:
    # What a bad edit of config.toml shows over the accounts still loaded (ctrl+r, E, or
    # the file saved in another window): the loader's own one-line reason.
    reason = (f"{WELCOME_PATH} line 8, column 16: Illegal character '\\n'"
              " — fix the TOML syntax")
    await pilot.app.push_screen(ConfigErrorScreen(WELCOME_PATH, reason, keep_last_good=True))


def _no_keyring_problem() -> str | None:
    return None  # the picture shows the keyring choice on, whatever this machine has


async def _account_form(pilot: Any, provider: str, values: dict[str, str]) -> None:
    app = pilot.app
    form = AccountFormScreen(WELCOME_PATH, app.config, provider=provider,
                             find_keyring=_no_keyring_problem)
    await app.push_screen(form)
    await settle(pilot)
    for field, text in values.items():
        box = form.query_one(f"#input-{field}")
        box.cursor_blink = False
        box.focus()
        box.value = text
        await pilot.pause()
    await pilot.press("tab")  # leaving the last field checks it
    for box in form.query("Input"):
        box.cursor_blink = False
    await pilot.pause(0.5)


async def _form_unleash(pilot: Any) -> None:
    await _account_form(pilot, "unleash", {
        "name": "unleash-prod", "base_url": "https://us.app.unleash-hosted.com/acme",
        "token": "user:not-a-real-token-0123456789"})


async def _form_voximplant(pilot: Any) -> None:
    # A key file path and a base_url the loader refuses: its problem under the field.
    await _account_form(pilot, "voximplant", {
        "name": "vox-prod", "credentials": "~/keys/vox-credentials.json",
        "base_url": "http://api.voximplant.com/platform_api"})


FAILING = (Fault("vox_error", account="vox-eu", code=100, times=-1),)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One screenshot: the demo app, then these steps."""

    name: str
    steps: Steps
    faults: tuple[Fault, ...] = ()
    size: tuple[int, int] = SIZE
    #: False: snapshot-tested only (a size variant), not written to screenshots/.
    in_readme: bool = True

    async def run_before(self, pilot: Any) -> None:
        """Sync, take the steps, settle (a ``snap_compare`` ``run_before``)."""
        await settle(pilot)
        # The table's cursor follows its invoice as accounts land in whatever order
        # their syncs finish; start every picture from the top row.
        _main_screen(pilot).table.action_cursor_first()
        await self.steps(pilot)
        await settle(pilot)


SCENARIOS = (
    Scenario("main", _nothing),
    Scenario("filter", _filter),
    Scenario("query-chips", _query_chips, size=(80, 24)),
    Scenario("detail", _detail),
    Scenario("line-detail", _line_detail),
    Scenario("failure", _failure, FAILING),
    Scenario("failure-detail", _failure_detail, FAILING),
    Scenario("help", _help),
    Scenario("spend", _spend),
    Scenario("export", _export),
    Scenario("config-error-reload", _config_error_reload),
    Scenario("account-form", _form_unleash),
    Scenario("account-form-unleash-80x24", _form_unleash, size=(80, 24), in_readme=False),
    Scenario("account-form-unleash-120x32", _form_unleash, size=(120, 32), in_readme=False),
    Scenario("account-form-voximplant-80x24", _form_voximplant, size=(80, 24), in_readme=False),
    Scenario("account-form-voximplant-120x32", _form_voximplant, size=(120, 32), in_readme=False),
)


async def _shoot(output: Path, scenario: Scenario) -> None:
    with demo_environment(today=TODAY, faults=scenario.faults) as env:
        app = demo_app(env)
        # Toasts on: the failure screenshot shows the one-per-round summary.
        async with app.run_test(size=scenario.size, notifications=True) as pilot:
            await scenario.run_before(pilot)
            app.save_screenshot(f"{scenario.name}.svg", str(output))
    print(output / f"{scenario.name}.svg")


async def _welcome(output: Path) -> None:
    app = welcome_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.save_screenshot("welcome.svg", str(output))
    print(output / "welcome.svg")


async def main(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for scenario in SCENARIOS:
        if scenario.in_readme:
            await _shoot(output, scenario)
    await _welcome(output)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"))
