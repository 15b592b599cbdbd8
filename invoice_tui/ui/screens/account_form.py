"""Accounts inside the app: the add/edit form and the remove confirmation (issue 10 §1).

The form draws the fields each provider declares (``Provider.form_fields``), checks
them with the loader's own rules as the user leaves a field or pauses typing
(:mod:`invoice_tui.account_setup`), tests the connection with one real request in a
worker, and saves through :mod:`invoice_tui.config_edit`. A save posts
:class:`~invoice_tui.ui.messages.ConfigChanged` to the app, which applies it, and hands
the saved config back (``dismiss``); Esc writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Paste
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from invoice_tui.account_setup import (
    GENERAL,
    NAME_FIELD,
    AccountDraft,
    complete_path,
    draft_problems,
    draft_warnings,
    form_fields,
    keyring_spec,
    raw_account,
    remove_saved_account,
    save_draft,
    suggest_name,
    testable_account,
)
from invoice_tui.check import CheckResult, check_account
from invoice_tui.config import AccountConfig, Config, ConfigError, Settings
from invoice_tui.keyring_store import keyring_problem
from invoice_tui.providers import provider_class, provider_names
from invoice_tui.providers.base import FormField, ProviderError
from invoice_tui.text import sanitize
from invoice_tui.ui.messages import ConfigChanged

#: Tests one account: :func:`invoice_tui.check.check_account` or a test's stand-in.
CheckFunction = Callable[[AccountConfig, Settings], Awaitable[CheckResult]]
#: Seconds of no typing before a changed field is checked again.
VALIDATE_DELAY = 0.4


class PathSuggester(Suggester):
    """Completes file paths from the file system (``~`` expanded; relative to the config)."""

    def __init__(self, base: Path) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.base = base

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value, self.base)


class PastedKeyInput(Input):
    """A password input that takes a whole pasted key file: Textual's Input keeps only a
    paste's first line, and a key file's JSON spans many. Line breaks between JSON
    tokens are whitespace (inside strings they are escaped), so they become spaces."""

    def _on_paste(self, event: Paste) -> None:
        event.prevent_default()  # Input's own handler would add the first line again
        event.stop()
        if event.text:
            self.insert_text_at_cursor(" ".join(event.text.splitlines()))


def _row(name: str, label: str, field: Widget, note: str = "") -> ComposeResult:
    """A labelled field, its note, and the line its problem shows on (hidden while none)."""
    with Horizontal(classes="form-row", id=f"form-{name}"):
        yield Label(label, classes="form-label")
        yield field
    if note:
        yield Static(Content(note), classes="form-note")
    yield Static("", id=f"problem-{name}", classes="form-problem")


class ProviderFields(Vertical):
    """The rows of one provider's declared fields (replaced whole when the provider changes)."""

    def __init__(self, fields: list[tuple[FormField, Input]], *, id: str) -> None:  # noqa: A002
        super().__init__(id=id)
        self.fields = fields

    def compose(self) -> ComposeResult:
        for item, field in self.fields:
            yield from _row(item.name, item.label, field, item.help)


def _problem_text(item_key: str, text: str) -> str:
    """A problem under its field without the field's name in front (``base_url: …``)."""
    head, sep, rest = text.partition(": ")
    return rest if sep and item_key in head.split("/") else text


class AccountFormScreen(ModalScreen[Config | None]):
    """Add an account (``editing=None``) or change account ``editing`` of the config at ``path``."""

    DEFAULT_CSS = """
    AccountFormScreen { align: center middle; }
    #account-form { width: 84; max-width: 100%; height: auto; max-height: 100%;
                    padding: 0 1; }
    ProviderFields { height: auto; }
    .form-row { height: auto; }
    .form-label { width: 14; padding: 0 1 0 0; text-align: right; color: $text-muted; }
    .form-row Input, .form-row Select { width: 1fr; }
    .form-row Input { background: $boost; }
    .form-row Input:focus { background: $surface-lighten-2; }
    .form-note { margin-left: 14; height: auto; color: $text-muted; }
    .form-problem { margin-left: 14; height: auto; display: none; }
    .form-problem.-shown { display: block; }
    #keyring { border: none; padding: 0; height: 1; margin-left: 14; background: transparent; }
    #keyring.-absent, #keyring-note.-absent { display: none; }
    #form-problem { margin-left: 0; }
    #test-result { height: auto; }
    #account-form .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    #account-form .buttons Button { margin-left: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="account_form.cancel",
                tooltip="Close the form; nothing is written"),
        Binding("ctrl+s", "save", "Save", id="account_form.save",
                tooltip="Check every field and write the account to config.toml"),
        Binding("ctrl+t", "test", "Test connection", id="account_form.test",
                tooltip="One real request: can these credentials read the invoices?"),
    ]

    def __init__(self, path: Path, config: Config | None, *, editing: str | None = None,
                 provider: str | None = None, check: CheckFunction = check_account,
                 find_keyring: Callable[[], str | None] = keyring_problem) -> None:
        """``check`` tests a connection and ``find_keyring`` says why there is no OS keyring
        (``None``: there is one); screenshots and tests pass their own."""
        super().__init__()
        self.path = path
        self.config = config
        self.editing = editing
        self.check = check
        self.find_keyring = find_keyring
        self.previous = None
        if editing is not None:
            # The table as the user wrote it (relative paths kept); the loaded one if not.
            self.previous = raw_account(path, editing) or (
                dict(config.account(editing).options) if config else {})
        names = provider_names()
        chosen = provider or (self.previous or {}).get("provider")
        self.provider = chosen if chosen in names else names[0]
        self._touched: set[str] = set()
        self._timer: Timer | None = None

    # --- drawing ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="account-form", classes="dialog"):
            with Horizontal(classes="form-row"):
                yield Label("Provider", classes="form-label")
                yield Select([(self._display(name), name) for name in provider_names()],
                             value=self.provider, allow_blank=False, compact=True,
                             id="provider", disabled=self.editing is not None,
                             tooltip="Which billing provider this account is at")
            yield from _row(NAME_FIELD, "Name", Input(
                self._initial_name(), placeholder="unique, shown in the accounts pane",
                compact=True, id="input-name", tooltip="Unique; shown in the accounts pane"))
            yield self._provider_fields(self.provider)
            yield Checkbox("Keep the secret in the OS keyring (not in the file)", id="keyring",
                           value=self._in_keyring(), disabled=True,
                           tooltip="The token or pasted key goes to the OS keyring; the "
                                   "config only says it is there")
            yield Static(Content.styled("checking for an OS keyring…", "$text-muted"),
                         id="keyring-note", classes="form-note")
            yield Static("", id="form-problem", classes="form-problem")
            yield Static("", id="test-result")
            with Horizontal(classes="buttons"):
                yield Button("Test connection", id="test", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", variant="error", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        form = self.query_one("#account-form")
        form.border_title = (f"Edit account {sanitize(self.editing)}" if self.editing
                             else "Add an account")
        form.border_subtitle = "Enter saves · ctrl+t tests · Esc cancels"
        self.query_one("#provider" if self.editing is None else "#input-name").focus()
        self._show_keyring_choice()
        self._probe_keyring()

    def _in_keyring(self) -> bool:
        spec = keyring_spec(self.provider)
        return bool(spec and (self.previous or {}).get(spec.option) is True)

    def _show_keyring_choice(self) -> None:
        absent = keyring_spec(self.provider) is None
        self.query_one("#keyring").set_class(absent, "-absent")
        self.query_one("#keyring-note").set_class(absent, "-absent")

    @work(thread=True, exclusive=True, group="account-form-keyring", exit_on_error=False)
    def _probe_keyring(self) -> None:
        # Finding the keyring backend imports its plugins (~0.15 s): off the event loop.
        problem = self.find_keyring()
        self.app.call_from_thread(self._keyring_found, problem)

    def _keyring_found(self, problem: str | None) -> None:
        checkbox = self.query_one("#keyring", Checkbox)
        checkbox.disabled = problem is not None
        if problem is not None:
            checkbox.value = False
        note = self.query_one("#keyring-note", Static)
        note.update(Content.styled(sanitize(problem), "$text-muted") if problem else "")
        note.display = problem is not None

    @staticmethod
    def _display(provider: str) -> str:
        cls = provider_class(provider)
        return cls.display_name if cls is not None else provider

    def _initial_name(self) -> str:
        if self.previous is not None:
            return sanitize(str(self.previous.get("name", self.editing or "")))
        taken = self.config.account_names if self.config else []
        return suggest_name(self.provider, taken)

    def _provider_fields(self, provider: str) -> ProviderFields:
        return ProviderFields([(item, self._input(item)) for item in form_fields(provider)],
                              id="form-fields")

    def _input(self, item: FormField) -> Input:
        previous = self.previous or {}
        secret = item.kind in ("secret", "json_secret")
        # A stored secret is never put back on screen (the path of a pasted key shows in
        # the path field); other values come from the file: sanitized like all file text.
        value = "" if secret else sanitize(str(previous.get(item.key, "") or ""))
        placeholder = item.placeholder
        if secret and self._stored_secret(item):
            placeholder = "(stored — type to replace)"
        kind = PastedKeyInput if item.kind == "json_secret" else Input
        suggester = PathSuggester(self.path.parent) if item.kind == "path" else None
        return kind(value, placeholder, password=secret, suggester=suggester, compact=True,
                    id=f"input-{item.name}", tooltip=item.help or None)

    def _stored_secret(self, item: FormField) -> bool:
        previous = self.previous or {}
        if item.kind == "json_secret":
            return False
        spec = keyring_spec(self.provider)
        return item.key in previous or bool(
            spec and item.key in spec.replaces and previous.get(spec.option) is True)

    # --- the draft and its problems ------------------------------------------------------

    def draft(self) -> AccountDraft:
        """What the form holds now."""
        values = {item.name: self.query_one(f"#input-{item.name}", Input).value
                  for item in form_fields(self.provider)}
        name = self.query_one("#input-name", Input).value
        checkbox = self.query_one("#keyring", Checkbox)
        keyring = checkbox.value and not checkbox.disabled and \
            keyring_spec(self.provider) is not None
        return AccountDraft(self.provider, name, values, previous=self.previous,
                            keyring=keyring)

    def show_problems(self, *, every_field: bool = False) -> dict[str, str]:
        """Check the draft; show each problem under its field (only the fields the user
        has been to, unless ``every_field``). The problems, by field."""
        draft = self.draft()
        problems = draft_problems(draft, self.config, self.path, self.editing)
        warnings = {} if problems else draft_warnings(draft, self.path)
        keys = {item.name: item.key for item in form_fields(self.provider)}
        keys[NAME_FIELD] = "name"
        for name in [*keys, GENERAL]:
            target = self.query_one("#form-problem" if name == GENERAL else f"#problem-{name}",
                                    Static)
            shown = every_field or name in self._touched or name == GENERAL
            text, style = problems.get(name), "$error"
            if text is None:
                text, style = warnings.get(name), "$warning"
            if text and shown:
                mark = "✗" if style == "$error" else "!"
                target.update(Content.styled(f"{mark} {_problem_text(keys.get(name, ''), text)}",
                                             style))
            target.set_class(bool(text and shown), "-shown")
        return problems

    @on(Input.Changed)
    def _on_changed(self, event: Input.Changed) -> None:
        # Only typing touches a field (a value set while the form is built does not).
        if event.input.has_focus and event.input.id and event.input.id.startswith("input-"):
            self._touched.add(event.input.id.removeprefix("input-"))
        self._result("")  # it was about other values
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(VALIDATE_DELAY, self.show_problems)

    @on(Input.Blurred)
    def _on_blurred(self, event: Input.Blurred) -> None:
        if event.input.id and event.input.id.startswith("input-"):
            self._touched.add(event.input.id.removeprefix("input-"))
            self.show_problems()

    @on(Select.Changed, "#provider")
    async def _on_provider_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self.provider:
            return
        name_input = self.query_one("#input-name", Input)
        taken = self.config.account_names if self.config else []
        if name_input.value == suggest_name(self.provider, taken):  # still our suggestion
            name_input.value = suggest_name(event.value, taken)
        self.provider = event.value
        self._touched.intersection_update({NAME_FIELD})
        await self.query_one("#form-fields").remove()
        await self.query_one("#account-form").mount(self._provider_fields(self.provider),
                                                    after="#problem-name")
        self._result("")
        self._show_keyring_choice()
        self.show_problems()

    @on(Checkbox.Changed, "#keyring")
    def _on_keyring_changed(self) -> None:
        self.show_problems()

    # --- actions ---------------------------------------------------------------------------

    @on(Input.Submitted)
    def _on_submitted(self) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        elif event.button.id == "test":
            self.action_test()
        elif event.button.id == "cancel":
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if self.show_problems(every_field=True):
            self._result(Content.styled("✗ not saved — fix the fields marked ✗", "$error"))
            return
        self._result(Content.styled("… saving", "$text-muted"))
        self._save(self.draft())

    @work(exclusive=True, group="account-form-save", exit_on_error=False)
    async def _save(self, draft: AccountDraft) -> None:
        # A file write and maybe the OS keyring (which can wait on an unlock): a thread.
        try:
            config = await asyncio.to_thread(save_draft, self.path, draft, self.editing)
        except (ConfigError, ProviderError) as error:
            self._result(Content.styled(f"✗ not saved: {sanitize(str(error))}", "$error"))
            return
        except OSError as error:
            self._result(Content.styled(
                f"✗ not saved: cannot write {sanitize(self.path)} "
                f"({sanitize(error.strerror or type(error).__name__)}) — check the folder's "
                "permissions", "$error"))
            return
        self.app.post_message(ConfigChanged(config))
        self.notify(f"Saved account {sanitize(draft.name.strip())} to {sanitize(self.path)}",
                    markup=False)
        self.dismiss(config)

    def action_test(self) -> None:
        if self.show_problems(every_field=True):
            self._result(Content.styled("✗ fix the fields marked ✗ first", "$error"))
            return
        self._result(Content.styled("… testing the connection", "$text-muted"))
        self._run_test(self.draft())

    @work(exclusive=True, group="account-form-test", exit_on_error=False)
    async def _run_test(self, draft: AccountDraft) -> None:
        settings = self.config.settings if self.config else Settings()
        try:
            with testable_account(draft, self.path) as account:
                result = await self.check(account, settings)
        except ConfigError as error:  # raced with an edit: the fields say what
            self._result(Content.styled(f"✗ {sanitize(str(error))}", "$error"))
            return
        if result.ok:
            self._result(Content.styled(f"✓ {result.summary()}", "$success"))
        else:
            self._result(Content.styled(f"✗ {result.summary()}", "$error"))

    def _result(self, content: Content | str) -> None:
        result = self.query_one("#test-result", Static)
        result.update(content)
        result.display = bool(content)  # no empty line above the buttons


class RemoveAccountScreen(ModalScreen[Config | None]):
    """Asks before removing account ``name`` from the config at ``path``; the saved config."""

    DEFAULT_CSS = """
    RemoveAccountScreen { align: center middle; }
    #remove-dialog { width: 64; max-width: 100%; height: auto; }
    #remove-dialog .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    #remove-dialog .buttons Button { margin-left: 1; }
    """

    AUTO_FOCUS = "#keep"

    BINDINGS = [
        Binding("escape,n", "cancel", "Keep it", id="remove_account.cancel",
                tooltip="Remove nothing"),
        Binding("y", "remove", "Remove", id="remove_account.confirm",
                tooltip="Remove the account from config.toml"),
    ]

    def __init__(self, path: Path, name: str) -> None:
        super().__init__()
        self.path = path
        self.account = name

    def compose(self) -> ComposeResult:
        with Vertical(id="remove-dialog", classes="dialog"):
            yield Static(Content.assemble(
                "Remove account ", (sanitize(self.account), "bold"), " from\n",
                (sanitize(self.path), "bold"), "?\n\n",
                ("Its key file (if any) and the OS keyring are left as they are.",
                 "$text-muted")))
            yield Static("", id="remove-result")
            with Horizontal(classes="buttons"):
                yield Button("Remove", id="remove", variant="error", compact=True)
                yield Button("Keep it", id="keep", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#remove-dialog").border_title = "Remove account"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "remove":
            self.action_remove()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_remove(self) -> None:
        try:
            config = remove_saved_account(self.path, self.account)
        except (ConfigError, OSError) as error:
            self.query_one("#remove-result", Static).update(
                Content.styled(f"✗ not removed: {sanitize(str(error))}", "$error"))
            return
        self.app.post_message(ConfigChanged(config))
        self.notify(f"Removed account {sanitize(self.account)}", markup=False)
        self.dismiss(config)


def open_account_form(app: App[Any], config: Config | None, path: Path | None,
                      editing: str | None = None) -> None:
    """Push the form (add, or edit ``editing``) — or say why not: the demo saves nothing."""
    if path is None:
        app.notify("The demo writes no config — start invoice-tui without --demo to add "
                   "your accounts", severity="warning", markup=False)
        return
    app.push_screen(AccountFormScreen(path, config, editing=editing))


def open_remove_account(app: App[Any], path: Path | None, name: str) -> None:
    """Push the remove confirmation for account ``name`` (not in the demo)."""
    if path is None:
        app.notify("The demo writes no config — nothing to remove", severity="warning",
                   markup=False)
        return
    app.push_screen(RemoveAccountScreen(path, name))
