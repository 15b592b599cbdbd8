"""The Textual application and ``run_tui``, the entry point the CLI calls."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import rich
import rich.traceback
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import Theme

from invoice_tui import gc_policy
from invoice_tui.config import Config, ConfigError, ConfigMissing, did_you_mean, load_config
from invoice_tui.config_edit import set_setting
from invoice_tui.index import FirstRowsRead
from invoice_tui.store import InvoiceStore, open_store
from invoice_tui.sync import sync_account
from invoice_tui.ui.commands import InvoiceCommands
from invoice_tui.ui.keymap import config_keymap, keymap_losses
from invoice_tui.ui.messages import Clock, ConfigChanged, StartChoice, SyncFunction
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
        # Preferences (the theme, the keymap): applied before the first frame, so the
        # configured theme is the first one drawn.
        self.keymap: Mapping[str, str] = {}  # binding id → keys, as Textual's set_keymap takes
        self._file_theme: str | None = None  # the theme config.toml names (saved or read)
        self._notes: list[str] = []  # warnings about them, said once the app runs
        self._theme_lock = threading.Lock()  # one save at a time, the latest pick last
        self._theme_written: str | None = None  # by the last save that worked
        self._told_theme_unsaved = False
        self.apply_preferences(config)

    def on_mount(self) -> None:
        # Big invoice sets and the default GC thresholds froze the UI (see gc_policy).
        self._resources.enter_context(gc_policy.tuned())
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        for note in self._notes:
            self.notify(note, severity="warning", markup=False)
        self._notes.clear()
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

    # --- preferences: [settings] theme and [keymap] -----------------------------------

    def apply_preferences(self, config: Config | None) -> None:
        """Use ``config``'s keymap and theme (at start, or after a reload); ``ConfigError``
        (nothing changed) if its keymap names an unknown binding or key."""
        keymap = config_keymap(config)
        self._apply_keymap(keymap)
        self._apply_theme(config.settings.theme if config is not None else None)

    def _apply_keymap(self, keymap: Mapping[str, str]) -> None:
        if keymap != self.keymap:
            self.keymap = keymap
            self.set_keymap(keymap)  # the footer and ? help show the keys it gives
            for note in keymap_losses(keymap):
                self._warn(note)

    def _apply_theme(self, name: str | None) -> None:
        """The theme config.toml names, unless it names none or the one already in use
        (a theme saved here comes back through a reload: nothing to do)."""
        if name is None or name == self._file_theme:
            return
        self._file_theme = name
        if name in self.available_themes:
            self._use_theme(name)
            return
        self._warn(f"unknown theme {name!r}{did_you_mean(name, self.available_themes)} — "
                   f"using {self.theme}")

    def _warn(self, note: str) -> None:
        if self.is_running:
            self.notify(note, severity="warning", markup=False)
        else:
            self._notes.append(note)

    def _use_theme(self, name: str) -> None:
        if self.is_running:  # a reload: Textual's own watcher restyles what is drawn
            self.theme = name
            return
        # Before the start no CSS is parsed yet, so the stylesheet takes the theme's
        # variables now and the first parse uses them. Assigning App.theme would also
        # queue a reparse of all the CSS just after that first one (~50 ms of CPU):
        # set_reactive skips the watcher, and what else it does is done here.
        self.set_reactive(App.theme, name)
        self.stylesheet.set_variables(self.get_css_variables())
        dark = self.current_theme.dark
        self.update_classes({f"-theme-{name}": True, "-dark-mode": dark,
                             "-light-mode": not dark}, update=False)
        self._refresh_truecolor_filter(self.ansi_theme)

    def _on_theme_changed(self, theme: Theme) -> None:
        """A theme picked in the palette is saved as ``[settings] theme`` (in a thread)."""
        if theme.name == self._file_theme:
            return
        if self.demo or self.config is None or self.config_path is None:
            # The demo writes no config; the welcome and config-error screens have none
            # to write into (a file made just for a theme would hide the welcome screen).
            if not self._told_theme_unsaved:
                self._told_theme_unsaved = True
                self.notify("The theme is not saved: there is no config file in use — "
                            "it lasts until you quit", markup=False)
            return
        self._file_theme = theme.name
        self._save_theme(self.config_path)

    @work(thread=True, group="save-theme", exit_on_error=False)
    def _save_theme(self, path: Path) -> None:
        with self._theme_lock:  # picks in a row: each save writes the latest one, once
            name = self._file_theme
            if name is None or name == self._theme_written:
                return
            try:
                config = set_setting(path, "theme", name)
                self._theme_written = name
            except ConfigError as error:
                more = f" (and {len(error.problems) - 1} more)" if len(error.problems) > 1 \
                    else ""
                self._toast_from_thread(f"✗ theme not saved: {error.problems[0]}{more}")
            except OSError as error:
                self._toast_from_thread(f"✗ theme not saved: {path}: "
                                        f"{error.strerror or type(error).__name__} — check "
                                        "the folder's permissions and free space")
            else:
                self.post_message(ConfigChanged(config))

    def _toast_from_thread(self, message: str) -> None:
        self.call_from_thread(self.notify, message, severity="error", markup=False)

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
            self.push_screen(HelpScreen(self.BINDINGS, self.keymap))

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
        config_keymap(config)  # [keymap]'s ids and keys: only the UI knows them
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
