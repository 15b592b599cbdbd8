"""The Textual application and ``run_tui``, the entry point the CLI calls."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import rich
import rich.traceback
from textual import on, work
from textual.app import App, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from invoice_tui import gc_policy
from invoice_tui import sync as syncs
from invoice_tui.config import (
    Config,
    ConfigError,
    ConfigMissing,
    did_you_mean,
    example_config_text,
    load_config,
)
from invoice_tui.config_edit import set_setting
from invoice_tui.editor import editor_command
from invoice_tui.fs import write_atomic
from invoice_tui.index import FirstRowsRead
from invoice_tui.store import InvoiceStore, StoreError, open_store
from invoice_tui.sync_state import AccountChanges
from invoice_tui.text import sanitize
from invoice_tui.ui.commands import InvoiceCommands
from invoice_tui.ui.keymap import config_keymap, keymap_losses
from invoice_tui.ui.messages import Clock, ConfigChanged, StartChoice, SyncFunction

# Modules, not names: the screens that the main screen's first frame does without are
# deferred (invoice_tui.deferred), and load when first shown.
from invoice_tui.ui.screens import account_form, welcome
from invoice_tui.ui.screens import error as error_screens
from invoice_tui.ui.screens import help as help_screen
from invoice_tui.ui.screens.main import MainScreen


async def sync_account(*args: Any, **kwargs: Any) -> syncs.SyncOutcome:
    """:func:`invoice_tui.sync.sync_account`, looked up when a sync starts: the sync module
    (deferred) loads after the first frame, not when this default is bound."""
    return await syncs.sync_account(*args, **kwargs)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: Runs the editor command (arguments, no shell) to its end; its exit status.
EditorRunner = Callable[[Sequence[str]], int]
#: What identifies one version of config.toml without reading it: (mtime_ns, size, inode).
FileStamp = tuple[int, int, int]


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
        Binding("ctrl+r", "reload_config", "Reload config", show=False, id="app.reload_config",
                tooltip="Read config.toml again and apply what changed"),
        Binding("E", "edit_config", "Edit config", show=False, id="app.edit_config",
                tooltip="Open config.toml in $VISUAL / $EDITOR, then reload it"),
    ]
    #: Seconds between two looks (a stat) at config.toml for changes made outside the app.
    CONFIG_POLL = 2.0

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
        cache_dir: Path | None = None,
        editor: EditorRunner | None = None,
    ) -> None:
        """``cache_dir``: where to open the store when a config comes in after the start
        (the welcome or config error screen was up); ``editor``: runs the editor for
        `E` (default: in the terminal, the app suspended)."""
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
        self.cache_dir = cache_dir
        self._editor = editor or self._edit_in_terminal
        self._config_stamp: FileStamp | None = None  # of the config version last looked at
        self._reload_error: error_screens.ConfigErrorScreen | None = None  # a bad edit
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
        # welcome screen can give way to the main one when it is dismissed. Pushed once
        # Textual's start (a batch update) is over: pushed in it, the screen drew its first
        # frame inside the batch, where it was thrown away while its widgets counted as
        # drawn, and the rows showed only at the next full layout (~0.2 s of CPU later).
        if self.config is not None:
            self.call_later(self.push_screen, self._new_main_screen())
        else:
            self.call_later(self.push_screen, self._start_screen(), self._on_start_choice)
        self._watch_config()

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
            return error_screens.ConfigErrorScreen(path, self.config_error)
        return welcome.WelcomeScreen(path)

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
        yield from self._config_commands()

    def action_add_account(self) -> None:
        """`a` on the main screen: the account form (not in the demo, which saves nothing)."""
        path = None if self.demo else (self.config.path if self.config else None) or \
            self.config_path
        account_form.open_account_form(self, self.config, path)

    def action_help(self) -> None:
        if not isinstance(self.screen, help_screen.HelpScreen):
            self.push_screen(help_screen.HelpScreen(self.BINDINGS, self.keymap))

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

    # --- a new config without a restart (issue 10 §2) -----------------------------------

    @on(ConfigChanged)
    def _on_config_changed(self, message: ConfigChanged) -> None:
        message.stop()
        # Whoever saved it has said so (the form's "Saved account …"); a theme picked in
        # the palette is no news at all. Edits from outside are toasted by the reload.
        self.apply_config(message.config)

    def apply_config(self, config: Config) -> AccountChanges | None:
        """The one way a new config comes in (a reload, an in-app edit's ``ConfigChanged``).

        Over the main screen, it applies what changed (``MainScreen.apply_config``).
        Without one (the welcome or config error screen is up) it opens the store and
        the main screen in their place. ``None``: nothing was applied (the store could
        not be opened, or a first config has no account yet).
        """
        try:
            # [keymap] is checked before anything changes: a bad one keeps the last good.
            self.apply_preferences(config)
        except ConfigError as error:
            self._show_config_error(str(error))
            return None
        self._close_reload_error()
        main = self._main_screen()
        if main is not None:
            changes = main.apply_config(config)
            self.config = config
            return changes
        if not config.accounts:
            self.notify(f"{sanitize(str(self.config_path or 'the config'))} has no account yet"
                        " — add one ([[accounts]]) and save", title="Config", markup=False)
            return None
        if not self._open_store():
            return None
        self.config, self.config_error = config, None
        self._replace_start_screen(self._new_main_screen())
        return AccountChanges(added=tuple(config.account_names))

    def _replace_start_screen(self, screen: Screen[Any], callback: Any = None) -> None:
        """``screen`` in place of the welcome or config error screen and of whatever was
        opened over it (help, an account form); their result callbacks are not called."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen, callback=callback)

    def _main_screen(self) -> MainScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)

    def _open_store(self) -> bool:
        """Open the store for a first config that came in after the start; whether it is."""
        if self.store is not None:
            return True
        if self.cache_dir is None:
            self.notify("✗ no invoice store to open — start invoice-tui again", severity="error",
                        markup=False)
            return False
        try:
            opened = open_store(self.cache_dir, quick_check=False)
        except StoreError as error:
            self.notify(f"✗ {sanitize(str(error))}", title="Invoice store", severity="error",
                        markup=False)
            return False
        self.store = self._resources.enter_context(opened.store)  # closed when the app ends
        self.store_warnings = opened.warnings
        return True

    def _watch_config(self) -> None:
        """Look at config.toml every ``CONFIG_POLL`` s: a stat, cheap; it is read and
        parsed (in a thread) only when its (mtime, size, inode) changed."""
        if self.config_path is None or self.demo:
            return
        self._config_stamp = self._stat_config()
        self.set_interval(self.CONFIG_POLL, self._poll_config, name="config poll")

    def _stat_config(self) -> FileStamp | None:
        if self.config_path is None:
            return None
        try:
            st = self.config_path.stat()
        except OSError:
            return None  # gone (or unreadable) for now: the last config stays
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _poll_config(self) -> None:
        if self.demo:  # the demo was opened from the welcome screen: no file of ours
            return
        stamp = self._stat_config()
        if stamp != self._config_stamp:
            self._config_stamp = stamp
            if stamp is not None:
                self.reload_config(announce=False)

    def action_reload_config(self) -> None:
        if self.config_path is None or self.demo:
            self.notify("The demo has no config file to reload.", markup=False)
            return
        self._config_stamp = self._stat_config()  # this version is the one read now
        self.reload_config(announce=True)

    def reload_config(self, *, announce: bool) -> None:
        """Read config.toml again (in a thread) and apply it; ``announce``: say so even
        when nothing changed (ctrl+r, after the editor). A change is always toasted."""
        self.run_worker(self._reload(announce), name="reload config", group="config-reload",
                        exclusive=True, exit_on_error=False)

    async def _reload(self, announce: bool) -> None:
        path = self.config_path
        if path is None:
            return
        try:
            config = await asyncio.to_thread(load_config, path)
        except ConfigMissing:
            if announce:
                self.notify(f"no config at {sanitize(str(path))} — the last one stays",
                            title="Config", severity="warning", markup=False)
            return
        except ConfigError as error:
            self._show_config_error(str(error))
            return
        if self.config is not None and config == self.config:
            self._close_reload_error()
            if announce:
                self.notify("config unchanged", title="Config", markup=False)
            return
        changes = self.apply_config(config)
        if changes is not None and (announce or not changes.empty):
            self.notify(f"config reloaded: {changes.summary()}", title="Config", markup=False)

    def _show_config_error(self, reason: str) -> None:
        """A bad edit: the config error screen, over the last good accounts if there are."""
        path = self.config_path or Path("config.toml")
        if self._reload_error is not None and self._reload_error.is_attached:
            self._reload_error.show_reason(reason)  # still broken, maybe otherwise
            return
        if self._main_screen() is not None:
            self._reload_error = error_screens.ConfigErrorScreen(path, reason, keep_last_good=True)
            self.push_screen(self._reload_error, callback=self._after_reload_error)
            return
        # No accounts yet (welcome, or the config was broken from the start).
        self.config_error = reason
        self._reload_error = error_screens.ConfigErrorScreen(path, reason)
        self._replace_start_screen(self._reload_error, self._on_start_choice)

    def _after_reload_error(self, choice: StartChoice | None) -> None:
        self._reload_error = None
        if choice == "quit":
            self.exit()

    def _close_reload_error(self) -> None:
        """The config is good again: the error screen of a bad edit goes by itself."""
        screen, self._reload_error = self._reload_error, None
        if screen is not None and screen.is_attached and screen.keep_last_good:
            screen.dismiss("keep")

    # --- E: the config in the user's editor ----------------------------------------------

    def action_edit_config(self) -> None:
        path = self.config_path
        if path is None or self.demo:
            self.notify("The demo has no config file to edit.", markup=False)
            return
        try:
            command = editor_command(path)
        except ValueError as error:
            self._config_toast(f"✗ {error}")
            return
        if not path.exists() and not self._write_example(path):
            return
        try:
            self._editor(command)
        except SuspendNotSupported:
            self._config_toast("✗ this terminal cannot hand the screen to an editor — edit "
                               f"{path} in another window: it is reloaded when saved")
            return
        except FileNotFoundError:
            self._config_toast(f"✗ editor {command[0]} not found — set $VISUAL or $EDITOR")
            return
        except OSError as error:
            self._config_toast(f"✗ editor {command[0]} could not run "
                               f"({error.strerror or type(error).__name__})"
                               " — check $VISUAL or $EDITOR")
            return
        self._config_stamp = self._stat_config()  # read now: the poll need not again
        self.reload_config(announce=True)

    def _write_example(self, path: Path) -> bool:
        """No config yet: the commented example, so that the editor opens something to
        fill in rather than an empty file; whether it is there."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, example_config_text().encode("utf-8"), 0o600)
        except (OSError, ConfigError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            self._config_toast(f"✗ could not write {path} ({reason or type(error).__name__})"
                               " — check the folder's permissions, or pass --config PATH")
            return False
        self.notify(f"wrote the example config to {sanitize(str(path))}", title="Config",
                    markup=False)
        return True

    def _config_toast(self, text: str) -> None:
        self.notify(sanitize(text), title="Config", severity="error", markup=False)

    @on(Worker.StateChanged)
    def _on_reload_failed(self, event: Worker.StateChanged) -> None:
        # Run with exit_on_error=False: a bug while reloading must neither end the app
        # nor vanish. Only the type: an exception's text could quote the file (a secret).
        worker = event.worker
        if worker.group == "config-reload" and event.state == WorkerState.ERROR:
            self._config_toast(f"✗ internal error while reloading the config: "
                               f"{type(worker.error).__name__} — this is a bug in "
                               "invoice-tui; please report it")

    def _edit_in_terminal(self, command: Sequence[str]) -> int:
        """Run the editor in the terminal, the app suspended (it gets the screen and the
        keys) until the editor quits."""
        with self.suspend():
            return subprocess.call(list(command))

    def _config_commands(self) -> Iterable[SystemCommand]:
        if self.config_path is None or self.demo:
            return
        yield SystemCommand("Config: reload", "Read config.toml again and apply what changed "
                            "(ctrl+r)", self.action_reload_config)
        yield SystemCommand("Config: edit in $EDITOR", "Open config.toml in your editor, then "
                            "reload it (E)", self.action_edit_config)

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
        app = InvoiceApp(None, config_path=config_path, cache_dir=cache_dir)
    except ConfigError as error:
        app = InvoiceApp(None, config_path=config_path, config_error=str(error),
                         cache_dir=cache_dir)
    else:
        # The integrity check reads the whole file (0.4 s at 100k invoices): the main
        # screen runs it in its loader thread instead of before the first frame.
        opened = open_store(cache_dir, quick_check=False)
        with opened.store:
            # The first rows are read while Textual starts, on the other core.
            first_rows = MainScreen.read_first_rows(config, opened.store)
            app = InvoiceApp(config, opened.store, config_path=config_path,
                             store_warnings=opened.warnings, first_rows=first_rows,
                             cache_dir=cache_dir)
            app.run()
        return app.return_code or 0
    app.run()
    return app.return_code or 0
