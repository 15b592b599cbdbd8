"""Error screens: a failed account's full reason and hint (modal) and a bad config file."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Static

from invoice_tui.providers import ProviderError
from invoice_tui.text import sanitize
from invoice_tui.ui.messages import StartChoice
from invoice_tui.ui.widgets.provider_pane import provider_display_name


class AccountErrorScreen(ModalScreen[bool]):
    """Why an account failed to sync, and what to do about it; the result: retry it now."""

    AUTO_FOCUS = "#close"

    BINDINGS = [
        Binding("escape", "close", "Close", id="error.close", tooltip="Back to the accounts"),
        Binding("enter", "close", "Close", show=False, id="error.close_enter"),
        Binding("r", "retry", "Retry", id="error.retry", tooltip="Refresh this account now"),
    ]

    def __init__(self, account: str, provider: str, error: ProviderError) -> None:
        super().__init__()
        self.account = account
        self.provider = provider
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog", classes="dialog"):
            yield Static(Content.assemble(
                ("Account  ", "$text-muted"), (sanitize(self.account), "bold"), "\n",
                ("Provider ", "$text-muted"), provider_display_name(self.provider), "\n\n",
                ("✗ ", "bold $error"), (sanitize(self.error.reason), "bold $error"), "\n\n",
                ("Hint  ", "bold $accent"), sanitize(self.error.hint) or "no hint",
            ), id="error-text")
            with Horizontal(classes="buttons"):
                yield Button("Retry", id="retry", variant="primary")
                yield Button("Close", id="close")
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#error-dialog")
        dialog.border_title = "Sync failed"
        if self.error.retryable:
            dialog.border_subtitle = "transient — retry may help"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry":
            self.action_retry()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(False)

    def action_retry(self) -> None:
        self.dismiss(True)


class ConfigErrorScreen(Screen[StartChoice]):
    """The config file exists but is invalid: the one-line reason, the file, the fix.

    At the start (no accounts yet) the result is the user's way on: the demo, or quit
    with status 2. After a bad edit (``keep_last_good``: the last good accounts are
    loaded underneath) it is "keep" (Esc: back to them) or "quit". Either way `E`
    (the app's key) opens the file in the editor, and a good save closes this screen
    by itself.
    """

    AUTO_FOCUS = "#demo, #keep"

    BINDINGS = [
        Binding("d", "open_demo", "Open demo", id="config_error.demo",
                tooltip="Explore the built-in demo instead"),
        Binding("escape", "keep", "Keep last good config", id="config_error.keep",
                tooltip="Back to the accounts of the last good config"),
        Binding("E", "app.edit_config", "Edit config", id="config_error.edit",
                tooltip="Open the file in $VISUAL / $EDITOR, then reload it"),
        Binding("q", "quit_config_error", "Quit", id="config_error.quit",
                tooltip="Quit (at the start: with exit status 2, a config error)"),
    ]

    def __init__(self, path: Path, reason: str, *, keep_last_good: bool = False) -> None:
        super().__init__()
        self.path = path
        self.reason = reason
        self.keep_last_good = keep_last_good

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="config-error", classes="dialog"):
            yield Static(self._text(), id="config-error-text")
            with Horizontal(classes="buttons"):
                if self.keep_last_good:
                    yield Button("Keep last good config", id="keep", variant="primary")
                else:
                    yield Button("Open demo", id="demo", variant="primary")
                yield Button("Edit config", id="edit")
                yield Button("Quit", id="quit", variant="error")
        yield Footer()

    def _text(self) -> Content:
        # A ConfigError is one line per problem.
        problems = [sanitize(line) for line in self.reason.splitlines() if line.strip()]
        way_on = ("The last good config stays loaded: Esc goes back to it."
                  if self.keep_last_good else "Or open the demo to look around.")
        return Content.assemble(
            *(part for problem in problems
              for part in (("✗ ", "bold $error"), (problem, "$text-error"), "\n")),
            "\n", ("File  ", "$text-muted"), (sanitize(str(self.path)), "bold"), "\n\n",
            "Fix the file in your editor (E opens it): it is read again when saved. ",
            way_on,
        )

    def show_reason(self, reason: str) -> None:
        """The file was saved again, and is still invalid: this reason now."""
        self.reason = reason
        self.query_one("#config-error-text", Static).update(self._text())

    def on_mount(self) -> None:
        self.query_one("#config-error").border_title = "The config file has a problem"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "keep":
            return self.keep_last_good
        if action == "open_demo":
            return not self.keep_last_good
        return True

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "demo":
            self.action_open_demo()
        elif event.button.id == "keep":
            self.action_keep()
        elif event.button.id == "edit":
            await self.run_action("app.edit_config")
        else:
            self.action_quit_config_error()

    def action_quit_config_error(self) -> None:
        self.dismiss("quit")

    def action_open_demo(self) -> None:
        self.dismiss("demo")

    def action_keep(self) -> None:
        self.dismiss("keep")
