"""First run without a config: where it goes, and three ways on."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from invoice_tui.config import ConfigError, example_config_text
from invoice_tui.fs import write_atomic
from invoice_tui.text import sanitize
from invoice_tui.ui.messages import StartChoice


class WelcomeScreen(Screen[StartChoice]):
    """Offers to write an example config, open the demo, or quit (the app acts on the choice)."""

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

    AUTO_FOCUS = "#write"

    BINDINGS = [
        Binding("w", "write_example", "Write example config", id="welcome.write",
                tooltip="Write a commented example config to edit"),
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
                " shows what your Voximplant and Unleash accounts billed you.\n",
                "Accounts live in a TOML config file, and there is none yet at\n\n",
                ("  ", ""), (str(self.path), "bold"), "\n\n",
                "Write an example there and edit it, or look around the demo first.",
            ), id="welcome-text")
            with Horizontal(classes="buttons"):
                yield Button("Write example config", id="write", variant="primary")
                yield Button("Open demo", id="demo", variant="success")
                yield Button("Quit", id="quit", variant="error")
            yield Static("", id="welcome-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#welcome").border_title = "Welcome"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "write":
            self.action_write_example()
        elif event.button.id == "demo":
            self.action_open_demo()
        else:
            self.dismiss("quit")

    def action_write_example(self) -> None:
        result = self.query_one("#welcome-result", Static)
        if self.path.exists():
            result.update(Content.styled(
                f"{self.path} already exists — edit it, then start invoice-tui again.",
                "$warning"))
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, example_config_text().encode("utf-8"), 0o600)
        except (OSError, ConfigError) as error:
            result.update(Content.styled(f"✗ could not write {self.path}: {error}", "$error"))
            return
        result.update(Content.assemble(
            ("✓ wrote ", "$success"), (str(self.path), "bold"), "\n",
            "Edit it (add your accounts' credentials), then start invoice-tui again.",
        ))
        self.notify(f"Example config written to {sanitize(self.path)}", markup=False)

    def action_open_demo(self) -> None:
        self.dismiss("demo")
