"""What every provider module implements, and the one error type users see.

A provider is one module in ``invoice_tui.providers`` that exposes a
module-level ``PROVIDER`` (a class satisfying :class:`Provider`). The registry
in ``invoice_tui.providers`` discovers it; nothing else (config, sync, cli,
ui) needs to change to add one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

import httpx

from ..model import AccountSummary, Invoice
from ..text import sanitize


class ProviderError(Exception):
    """A failure the user can act on: a one-line ``reason`` and a ``hint``.

    ``retryable`` marks transient failures (rate limits, 5xx, "try later");
    ``retry_after`` is the server's requested delay in seconds, if any.
    Messages must never contain secrets (tokens, keys, JWTs). Both are sanitized here
    (:func:`~invoice_tui.text.sanitize`), so server text inside them (a message, an
    invoice title) is safe wherever the error is shown: pane, toast, modal or stderr.
    """

    def __init__(
        self,
        reason: str,
        hint: str = "",
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.reason = sanitize(reason)
        self.hint = sanitize(hint)
        super().__init__(self.reason)  # args too: reprs and crash dumps show them
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.reason} — {self.hint}" if self.hint else self.reason


class NoPdf(ProviderError):
    """The invoice has no PDF to download (an estimate, no PDF link): known before asking."""


# The records below are NamedTuples rather than frozen dataclasses: as immutable, but the
# first frame imports this module, and a frozen dataclass's methods are compiled from
# source when its class is made (~4× a NamedTuple's cost: ~3 M instructions, ~1 ms each).


class FetchProgress(NamedTuple):
    """How far one account's fetch has got: invoices and pages so far, totals when known.

    ``page`` holds the invoices this step added (not seen before in this fetch), so
    the sync can store them as they arrive instead of when every page is in.
    """

    invoices: int
    pages: int
    total_invoices: int | None = None
    total_pages: int | None = None
    page: tuple[Invoice, ...] = ()


ProgressCallback = Callable[[FetchProgress], None]


class FetchResult(NamedTuple):
    """Everything one account's fetch produced."""

    invoices: tuple[Invoice, ...]
    summary: AccountSummary = AccountSummary()
    #: Problems that did not fail the fetch (a value replaced by a safe marker, a weak
    #: key), one line each, already safe to show: the CLI prints them, the TUI toasts them.
    warnings: tuple[str, ...] = ()


class FirstPage(NamedTuple):
    """The first answer of an account's invoice list (``invoice-tui check``), nothing more.

    ``invoices`` are the ones on it, parsed as a sync would; ``total`` is how many the
    whole list holds when the answer says so (Voximplant's ``total_count``), else
    ``None``; ``whole`` is true when the answer is the entire list by design (Unleash
    has no pagination), so its length is every invoice the API lists.
    """

    invoices: tuple[Invoice, ...]
    total: int | None = None
    whole: bool = False


class FetchOptions(NamedTuple):
    """Knobs from ``[settings]`` that providers honour."""

    page_size: int = 100
    concurrency: int = 8
    timeout: float = 30.0  # seconds: the whole request's deadline, not per read
    max_retries: int = 4
    max_response_bytes: int = 64 * 1024 * 1024  # decompressed; larger answers are refused


#: What a form field holds: a file path (completed from the file system), a URL, a secret
#: (never shown: a password input), a pasted JSON key (a secret saved as a 0600 file), text.
FieldKind = Literal["path", "url", "secret", "json_secret", "text"]


class FormField(NamedTuple):
    """One field of the in-app account form, declared by the provider (the UI draws it).

    ``key`` is the ``[[accounts]]`` key the field fills; a ``json_secret`` field fills it
    with the path of the file its pasted JSON is saved to. Fields sharing ``one_of``
    are alternatives: exactly one of them is filled. A filled ``secret`` or
    ``json_secret`` may go to the OS keyring instead, as the provider's
    ``keyring_secret`` says.
    """

    name: str
    key: str
    label: str
    kind: FieldKind = "text"
    required: bool = False
    help: str = ""
    placeholder: str = ""
    one_of: str | None = None


class KeyringSecret(NamedTuple):
    """How a provider's secret can live in the OS keyring (:mod:`invoice_tui.keyring_store`)
    instead of its ``[[accounts]]`` table: ``secret set NAME`` and the account form use it."""

    #: The boolean option saying the secret is in the keyring (``token_keyring``).
    option: str
    #: The options it replaces, removed from the table when the secret is stored.
    replaces: tuple[str, ...]
    #: What the secret is, for messages ("Unleash token").
    what: str


class Provider(Protocol):
    """One configured account of one billing provider."""

    #: Config value of ``provider =`` (e.g. ``"voximplant"``).
    name: ClassVar[str]
    #: Human name for panes and messages (e.g. ``"Voximplant"``).
    display_name: ClassVar[str]
    #: Every key this provider reads from its ``[[accounts]]`` table (besides ``name`` and
    #: ``provider``); config refuses any other key, with "did you mean".
    option_keys: ClassVar[tuple[str, ...]]
    #: Options holding file paths; config resolves relative ones against the config's folder.
    path_options: ClassVar[tuple[str, ...]]
    #: The account form's fields, in order (besides ``name``): adding a provider adds
    #: its form without touching the UI.
    form_fields: ClassVar[tuple[FormField, ...]]
    #: How its secret is kept in the OS keyring; ``None``: it has no secret to keep there.
    keyring_secret: ClassVar[KeyringSecret | None]

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> list[str]:
        """Problems with this provider's keys of an ``[[accounts]]`` table, one fix-it line each.

        Called by ``config.load_config``; an empty list means valid. Checks the
        table itself only: no network I/O, and no reading of key files or env
        vars, whose problems ``from_options`` raises so they fail that account
        alone while the others keep working.
        """
        ...

    @classmethod
    def from_options(cls, account: str, options: Mapping[str, Any]) -> Provider:
        """Build the provider for account ``account`` from its validated table.

        Raises :class:`ProviderError` for problems only found now (unreadable
        key file, missing env var).
        """
        ...

    @classmethod
    def check_secret(cls, value: str) -> str:
        """The secret to store in the keyring for ``value`` as the user gave it (trimmed,
        normalized), checked as building the account would check it; :class:`ProviderError`
        (never quoting it) if it is unusable. Only called when ``keyring_secret`` is set."""
        ...

    async def fetch(
        self,
        client: httpx.AsyncClient,
        options: FetchOptions,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """Fetch every invoice of the account. Raises only :class:`ProviderError`."""
        ...

    async def first_page(self, client: httpx.AsyncClient, options: FetchOptions) -> FirstPage:
        """The first page of the invoice list only, through the same request, retry and
        parsing code as :meth:`fetch` (a connection test). Raises only :class:`ProviderError`."""
        ...

    async def download_pdf(
        self, client: httpx.AsyncClient, options: FetchOptions, invoice: Invoice
    ) -> bytes:
        """The invoice's PDF as raw bytes; :class:`NoPdf` when it has none (before any
        request), :class:`ProviderError` for every other failure."""
        ...

    def cache_key(self) -> str:
        """A stable identity of the remote account (no secrets), for the cache."""
        ...
