"""The Textual application and ``run_tui``, the entry point the CLI calls."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from invoice_tui.config import Config, ConfigError, ConfigMissing, load_config
from invoice_tui.store import InvoiceStore, open_store
from invoice_tui.sync import SyncOutcome, sync_account
from invoice_tui.ui.commands import InvoiceCommands
from invoice_tui.ui.screens.main import MainScreen

SyncFunction = Callable[..., Awaitable[SyncOutcome]]
Clock = Callable[[], dt.datetime]


GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700)


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
    ) -> None:
        super().__init__()
        self.config = config
        self.store = store
        self.store_warnings = store_warnings  # from opening the store: toasted on start
        self.now = now
        self.today = today or dt.date.today()
        self.sync = sync
        self.config_path = config_path
        self.config_error = config_error
        self.demo = demo
        self._demo_today = demo_today
        self._gc_thresholds = gc.get_threshold()
        # Holds the in-process demo server when "Open demo" is chosen on the welcome screen.
        self._resources = contextlib.ExitStack()
        if demo:
            self.sub_title = "demo"
        elif config_path is not None:
            self.sub_title = str(config_path)

    def on_mount(self) -> None:
        # 100 000 invoices are millions of objects the cyclic GC rescans on every full
        # collection: with the default thresholds that froze the UI for 1-2 s, over and over,
        # during a big sync. Rarer young collections make full ones rare too; the invoice
        # graph is acyclic, so reference counting still frees it.
        self._gc_thresholds = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *self._gc_thresholds[1:])
        # Pushed over the default screen (not returned by get_default_screen) so that
        # "Open demo" can switch_screen() the welcome screen for the main one.
        self.push_screen(self._first_screen())

    def _first_screen(self) -> Screen[None]:
        if self.config is not None:
            if self.store is None:
                raise ValueError("InvoiceApp needs a store with a config")
            return MainScreen(self.config, self.store, self.store_warnings)
        path = self.config_path or Path("config.toml")
        if self.config_error is not None:
            from invoice_tui.ui.screens.error import ConfigErrorScreen

            return ConfigErrorScreen(path, self.config_error)
        from invoice_tui.ui.screens.welcome import WelcomeScreen

        return WelcomeScreen(path)

    @property
    def main_screen(self) -> MainScreen | None:
        """The main screen if it is open (it stays mounted under pushed screens)."""
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own palette commands, titled "category: action" like ours; "Keys" opens
        our help screen (every key of every screen) instead of the focused widget's panel."""
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                yield SystemCommand("Help: keys", "Every key, by screen", self.action_help)
            else:
                yield command._replace(title=f"App: {command.title.lower()}")

    def action_help(self) -> None:
        from invoice_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_demo(self) -> None:
        """Switch to the built-in demo in-process (from the welcome screen)."""
        from invoice_tui.demo import demo_environment

        environment = self._resources.enter_context(demo_environment(today=self._demo_today))
        self.config = environment.config
        self.store = environment.store
        self.demo = True
        self.sub_title = "demo"
        self.switch_screen(MainScreen(self.config, self.store))

    def _fatal_error(self) -> None:
        """Textual's crash dump, without every frame's local variables.

        Textual renders an unhandled exception with ``show_locals=True``: a token, a
        key or a JWT held in any frame's local would be printed on the terminal (and
        land in scrollback or a bug report). The traceback itself stays.
        """
        import rich
        from rich.traceback import Traceback

        self.bell()
        self.panic(Traceback(show_locals=False, width=None, suppress=[rich]))

    def on_unmount(self) -> None:
        gc.set_threshold(*self._gc_thresholds)
        gc.unfreeze()  # the main screen freezes big invoice sets; hand them back to the GC
        self._resources.close()


def run_tui(config_path: Path, cache_dir: Path, demo: bool) -> int:
    """Run the TUI on the config at ``config_path`` (or the built-in demo); the exit code."""
    if demo:
        from invoice_tui.demo import demo_environment

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
            app = InvoiceApp(config, opened.store, config_path=config_path,
                             store_warnings=opened.warnings)
            app.run()
        return app.return_code or 0
    app.run()
    return app.return_code or 0
