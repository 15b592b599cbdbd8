"""First run without a config: where it will live, and the ways on (add an account, the demo)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from invoice_tui.config import Config
from invoice_tui.text import sanitize
from invoice_tui.ui.messages import StartChoice
from invoice_tui.ui.screens.account_form import AccountFormScreen


class WelcomeScreen(Screen[StartChoice]):
    """Offers the account form, the demo, or quit.

    A saved account reaches the app as ``ConfigChanged`` (posted by the form), which
    opens the main screen; the demo and quit are handed back with ``dismiss``.
    """

    DEFAULT_CSS = """
    WelcomeScreen {
        align: center middle;
    }
    #welcome {
        width: 86;
        max-width: 95%;
        height: auto;
    }
    #welcome-result {
        margin-top: 1;
        height: auto;
    }
    """

    AUTO_FOCUS = "#add"

    BINDINGS = [
        Binding("a", "add_account", "Add an account", id="welcome.add",
                tooltip="A form for your first account (saved to the config file)"),
        Binding("d", "open_demo", "Open demo", id="welcome.demo",
                tooltip="Explore sample Voximplant and Unleash accounts"),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="welcome", classes="dialog"):
            yield Static(Content.assemble(
                ("invoice-tui", "bold $accent"),
                " shows what your Voximplant and Unleash accounts billed you.\n\n",
                "Add your first account here (a form, checked as you type, with a test\n"
                "of the connection), or look around the demo first. Accounts are saved in\n\n",
                ("  ", ""), (sanitize(self.path), "bold"), "\n\n",
                ("Prefer a text editor? E writes a commented example there and opens it.",
                 "$text-muted"),
            ), id="welcome-text")
            with Horizontal(classes="buttons"):
                yield Button("Add an account", id="add", variant="primary")
                yield Button("Open demo", id="demo", variant="success")
                yield Button("Quit", id="quit", variant="error")
            yield Static("", id="welcome-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#welcome").border_title = "Welcome"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add":
            self.action_add_account()
        elif event.button.id == "demo":
            self.action_open_demo()
        else:
            self.dismiss("quit")

    def action_add_account(self) -> None:
        self.app.push_screen(AccountFormScreen(self.path, None), callback=self._on_saved)

    def _on_saved(self, config: Config | None) -> None:
        if config is not None:  # the app opens the main screen on the ConfigChanged
            self.query_one("#welcome-result", Static).update(Content.assemble(
                ("✓ saved to ", "$success"), (sanitize(self.path), "bold")))

    def action_open_demo(self) -> None:
        self.dismiss("demo")
