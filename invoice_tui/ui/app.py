"""The Textual application and ``run_tui``, the entry point the CLI calls."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import rich
import rich.traceback
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from invoice_tui import gc_policy
from invoice_tui.config import Config, ConfigError, ConfigMissing, load_config
from invoice_tui.index import FirstRowsRead
from invoice_tui.store import InvoiceStore, open_store
from invoice_tui.sync import sync_account
from invoice_tui.ui.commands import InvoiceCommands
from invoice_tui.ui.messages import Clock, StartChoice, SyncFunction
from invoice_tui.ui.screens.account_form import open_account_form
from invoice_tui.ui.screens.error import ConfigErrorScreen
from invoice_tui.ui.screens.help import HelpScreen
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.screens.welcome import WelcomeScreen


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InvoiceApp(App[int]):
    """invoice-tui. Every dependency is injected so tests and snapshots are deterministic.

    ``config=None`` opens the welcome screen (or, with ``config_error``, the config
    error screen); ``sync`` defaults to :func:`invoice_tui.sync.sync_account`.
    """

    CSS_PATH = "app.tcss"
    TITLE = "invoice-tui"
    COMMANDS = App.COMMANDS | {InvoiceCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit invoice-tui"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help",
                tooltip="Every key, by screen"),
    ]

    def __init__(
        self,
        config: Config | None,
        store: InvoiceStore | None = None,
        *,
        now: Clock = _utc_now,
        today: dt.date | None = None,
        sync: SyncFunction = sync_account,
        config_path: Path | None = None,
        config_error: str | None = None,
        demo: bool = False,
        demo_today: dt.date | None = None,
        store_warnings: tuple[str, ...] = (),
        first_rows: FirstRowsRead | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.store = store
        self.store_warnings = store_warnings  # from opening the store: toasted on start
        self._first_rows = first_rows  # for the first main screen (MainScreen.read_first_rows)
        self.now = now
        self.today = today or dt.date.today()
        self.sync = sync
        self.config_path = config_path
        self.config_error = config_error
        self.demo = demo
        self._demo_today = demo_today
        # Holds the GC tuning while mounted, and the in-process demo server once the demo
        # is chosen on the welcome screen.
        self._resources = contextlib.ExitStack()
        if demo:
            self.sub_title = "demo"
        elif config_path is not None:
            self.sub_title = str(config_path)

    def on_mount(self) -> None:
        # Big invoice sets and the default GC thresholds froze the UI (see gc_policy).
        self._resources.enter_context(gc_policy.tuned())
        # Pushed over the default screen (not returned by get_default_screen) so that the
        # welcome screen can give way to the main one when it is dismissed.
        if self.config is not None:
            self.push_screen(self._new_main_screen())
        else:
            self.push_screen(self._start_screen(), callback=self._on_start_choice)

    def _new_main_screen(self) -> MainScreen:
        if self.config is None or self.store is None:
            raise ValueError("InvoiceApp needs a store with a config")
        first_rows, self._first_rows = self._first_rows, None  # read once, at the start
        return MainScreen(self.config, self.store, self.store_warnings, sync=self.sync,
                          now=self.now, today=self.today, first_rows=first_rows)

    def _start_screen(self) -> Screen[StartChoice]:
        """Without a config: the config error, or (no file yet) the welcome screen."""
        path = self.config_path or Path("config.toml")
        if self.config_error is not None:
            return ConfigErrorScreen(path, self.config_error)
        return WelcomeScreen(path)

    def _on_start_choice(self, choice: StartChoice | None) -> None:
        if choice == "demo":
            self._open_demo()
        else:
            # A bad config file quits like the command line's config errors: status 2.
            self.exit(return_code=2 if self.config_error is not None else 0)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own palette commands, titled "category: action" like ours; "Keys" opens
        our help screen (every key of every screen) instead of the focused widget's panel."""
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                yield SystemCommand("Help: keys", "Every key, by screen", self.action_help)
            else:
                yield command._replace(title=f"App: {command.title.lower()}")

    def action_add_account(self) -> None:
        """`a` in the accounts pane: the account form (not in the demo, which saves nothing)."""
        path = None if self.demo else (self.config.path if self.config else None) or \
            self.config_path
        open_account_form(self, self.config, path)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.BINDINGS))

    def _open_demo(self) -> None:
        """Open the built-in demo in-process (chosen on the welcome or config error screen)."""
        # Imported here, not at the top: the emulator's modules (an HTTP server, demo
        # data, key generation) add ~0.13 s to every start that does not open it.
        from invoice_tui.demo import demo_environment

        environment = self._resources.enter_context(demo_environment(today=self._demo_today))
        self.config = environment.config
        self.store = environment.store
        self.demo = True
        self.sub_title = "demo"
        self.push_screen(self._new_main_screen())

    def _fatal_error(self) -> None:
        """Textual's crash dump, without every frame's local variables.

        Textual renders an unhandled exception with ``show_locals=True``: a token, a
        key or a JWT held in any frame's local would be printed on the terminal (and
        land in scrollback or a bug report). The traceback itself stays.
        """
        self.bell()
        self.panic(rich.traceback.Traceback(show_locals=False, width=None, suppress=[rich]))

    def on_unmount(self) -> None:
        self._resources.close()


def run_tui(config_path: Path, cache_dir: Path, demo: bool) -> int:
    """Run the TUI on the config at ``config_path`` (or the built-in demo); the exit code."""
    if demo:
        from invoice_tui.demo import demo_environment  # lazily: see InvoiceApp._open_demo

        with demo_environment() as environment:
            app = InvoiceApp(environment.config, environment.store, demo=True)
            app.run()
        return app.return_code or 0
    try:
        config = load_config(config_path)
    except ConfigMissing:
        app = InvoiceApp(None, config_path=config_path)
    except ConfigError as error:
        app = InvoiceApp(None, config_path=config_path, config_error=str(error))
    else:
        # The integrity check reads the whole file (0.4 s at 100k invoices): the main
        # screen runs it in its loader thread instead of before the first frame.
        opened = open_store(cache_dir, quick_check=False)
        with opened.store:
            # The first rows are read while Textual starts, on the other core.
            first_rows = MainScreen.read_first_rows(config, opened.store)
            app = InvoiceApp(config, opened.store, config_path=config_path,
                             store_warnings=opened.warnings, first_rows=first_rows)
            app.run()
        return app.return_code or 0
    app.run()
    return app.return_code or 0
