"""Voximplant Management API: service-account JWT, paged GetAccountInvoices → model (SPEC §1/2)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shlex
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from decimal import Decimal, DecimalException
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..fs import FileTooLarge, NotARegularFile, read_small_file
from ..keyring_store import get_secret
from ..model import EXACT, AccountSummary, Invoice, Line, Tax
from ..text import redact, sanitize
from . import _http, _parse
from ._parse import FieldError
from .base import (
    FetchOptions,
    FetchProgress,
    FetchResult,
    FirstPage,
    FormField,
    KeyringSecret,
    ProgressCallback,
    ProviderError,
)

DEFAULT_BASE_URL = "https://api.voximplant.com/platform_api"
SERVICE = "Voximplant"
TOKEN_TTL = 60  # seconds; official SDKs use 24–64 s, the server allows ≤ 3600
TOKEN_REFRESH_EARLY = 5  # re-sign this long before expiry, like the SDKs
CREDENTIAL_KEYS = ("account_id", "key_id", "private_key")
KEY_FILE_LIMIT = 1024 * 1024  # a key file is ~2 KB: anything bigger is the wrong file
MIN_KEY_BITS = 2048  # what Voximplant issues; shorter keys still sign, with a warning
# The most invoices one account's fetch reads. A real account has one invoice a month
# (thousands at most), benchmarks read 100,000: ten times that leaves room for any real
# account, while a server claiming or sending more (10^12, "unique ids forever") is
# refused instead of being read until memory runs out (~1 KB per invoice held).
MAX_INVOICES = 1_000_000
# The API always sends total_count; a list without one is off-spec, so it is trusted
# less: read up to this many (a few seconds and ~70 MB), then refused. This keeps a
# server that streams new ids forever within the timeout-and-memory bar of the other
# hostile modes (benchmarks/bench_hostile.py).
MAX_UNCOUNTED_INVOICES = 20_000
# Counts above this are only "absurd": their exact value never matters, and keeping
# them bounded keeps every message short (a 400-digit total_count is "more than 10^18").
_COUNT_CAP = 10**18

_BASE_URL_HINT = f"check base_url (default {DEFAULT_BASE_URL})"
_CLOCK_HINT = "check the system clock (tokens are time-stamped) and the key file"
# Management API error codes (SPEC §1) that mean "try again later".
_RETRYABLE_CODES = frozenset({162, 340, 416, 484})
_CODE_HINTS: Mapping[int, str] = {
    100: _CLOCK_HINT,
    455: _CLOCK_HINT,
    456: _CLOCK_HINT,
    104: ("the service account needs a role that can read invoices "
          "(e.g. Accountant/Owner) in the Voximplant control panel"),
    433: ("the key id is unknown: the key was deleted or the file belongs to another "
          "account — create a new service-account key and download its file"),
    447: "the key file may be damaged — download a new service-account key file",
    454: "the token lifetime was refused; check the system clock and report this bug",
    101: "the request was refused as invalid; report this bug",
    103: "check base_url: the server does not know this API method",
}
_CODE = re.compile(r"[0-9]{1,9}")
_REPEAT_AFTER = re.compile(r"(?i)\bafter\s+([0-9]{1,6}(?:\.[0-9]+)?)\s*s")


@dataclass(frozen=True)
class Credentials:
    """A service-account key file's contents (the key never appears in ``repr``).

    ``warnings`` are problems that do not stop signing (a key shorter than 2048
    bits), one line each with the fix; every fetch reports them.
    """

    account_id: str
    key_id: str
    account_email: str | None
    private_key: rsa.RSAPrivateKey = field(repr=False)
    warnings: tuple[str, ...] = ()


def _shown(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


_CREDENTIALS_FIX = "set it to the service-account key file you downloaded from Voximplant"


def _credentials_path(value: object) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ProviderError("credentials: missing — path of the service-account key file",
                            _CREDENTIALS_FIX)
    return Path(value).expanduser()


def load_credentials(value: object) -> Credentials:
    """Read and check a ``credentials.json`` (flat or wrapped in ``{"result": …}``).

    Only a regular file of at most 1 MB is read (a FIFO never hangs the sync).
    Raises :class:`ProviderError` whose reason starts with ``credentials:`` and
    never contains the key material.
    """
    path = _credentials_path(value)
    shown = _shown(path)
    fix = _CREDENTIALS_FIX
    try:
        data, _ = read_small_file(path, KEY_FILE_LIMIT)
    except FileNotFoundError:
        raise ProviderError(f"credentials: file {shown} does not exist", fix) from None
    except (NotARegularFile, IsADirectoryError) as exc:
        kind = exc.kind if isinstance(exc, NotARegularFile) else "a directory"
        raise ProviderError(f"credentials: {shown} is not a regular file ({kind})", fix) from None
    except FileTooLarge:
        raise ProviderError(f"credentials: {shown} is larger than 1 MB, not a key file",
                            fix) from None
    except OSError as exc:
        raise ProviderError(f"credentials: cannot read {shown} ({exc.strerror})",
                            "check the file's permissions") from None
    return credentials_from_key(key_file_fields(data, shown), shown)


def key_file_fields(data: str | bytes, shown: str, fix: str = _CREDENTIALS_FIX
                    ) -> dict[str, Any]:
    """The fields of a key file's JSON text (unwrapped from ``{"result": …}``), each
    required one present; :class:`ProviderError` naming ``shown`` (where the text came
    from) with ``fix`` as its hint, never quoting the text."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        raise ProviderError(f"credentials: {shown} is not a JSON key file", fix) from None
    if isinstance(raw, dict) and isinstance(raw.get("result"), dict):
        raw = raw["result"]  # older key files wrap the key in {"result": {...}}
    if not isinstance(raw, dict):
        raise ProviderError(f"credentials: {shown} is not a JSON object", fix)
    missing = [key for key in CREDENTIAL_KEYS
               if not isinstance(raw.get(key), str | int) or isinstance(raw.get(key), bool)
               or raw.get(key) == ""]
    if missing:
        raise ProviderError(f"credentials: {shown} lacks {', '.join(missing)}",
                            "download a new service-account key file from Voximplant")
    return raw


def credentials_from_key(raw: Mapping[str, Any], shown: str) -> Credentials:
    """:class:`Credentials` from checked key-file fields (:func:`key_file_fields`); the
    private key must be an RSA PEM key. :class:`ProviderError` naming ``shown``."""
    pem = raw["private_key"]
    try:
        key = serialization.load_pem_private_key(str(pem).encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ProviderError(f"credentials: private_key in {shown} is not an RSA PEM key",
                            "download a new service-account key file from Voximplant")
    weak: tuple[str, ...] = ()
    if key.key_size < MIN_KEY_BITS:  # it still signs; the user should replace it
        weak = (f"credentials: the key in {shown} is {key.key_size}-bit; Voximplant issues "
                    f"{MIN_KEY_BITS}-bit keys — create a new service-account key",)
    email = raw.get("account_email")
    return Credentials(
        account_id=str(raw["account_id"]), key_id=str(raw["key_id"]),
        account_email=email if isinstance(email, str) else None, private_key=key,
        warnings=weak,
    )


class TokenSigner:
    """Signs short-lived RS256 service-account JWTs and reuses one until 5 s before expiry."""

    def __init__(self, credentials: Credentials, clock: Callable[[], float] = time.time,
                 ttl: int = TOKEN_TTL) -> None:
        self._credentials = credentials
        self._clock = clock
        self._ttl = ttl
        self._token: str | None = None
        self._expires = 0.0

    def __repr__(self) -> str:  # the JWT it holds stays out of reprs and crash dumps
        return f"TokenSigner(key_id={self._credentials.key_id!r})"

    def token(self) -> str:
        """A valid token: ``kid = key_id``, ``iss = str(account_id)``, ``iat = now − 5``."""
        now = self._clock()
        if self._token is None or now >= self._expires - TOKEN_REFRESH_EARLY:
            issued = int(now) - 5  # a little slack for clocks slightly ahead of the server's
            expires = issued + self._ttl
            with warnings.catch_warnings():
                # A short key is reported once, as one line (Credentials.warnings): PyJWT's
                # own multi-line warning would be printed raw over the terminal.
                # PyJWT ≥ 2.10 warns (multi-line, raw) when signing with a short key; older
                # ones do not. (Looked up here: jwt is imported when first used.)
                short_key: type[Warning] | None = getattr(jwt, "InsecureKeyLengthWarning", None)
                if short_key is not None:
                    warnings.simplefilter("ignore", short_key)
                self._token = jwt.encode(
                    {"iss": self._credentials.account_id, "iat": issued, "exp": expires},
                    self._credentials.private_key,
                    algorithm="RS256",
                    headers={"kid": self._credentials.key_id, "typ": "JWT"},
                )
            self._expires = float(expires)
        return self._token

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <jwt>``."""
        return {"Authorization": f"Bearer {self.token()}"}


# --- parsing (pure; unit-tested and fuzzed) ----------------------------------------


class Page(NamedTuple):
    """One GetAccountInvoices answer."""

    invoices: tuple[Invoice, ...]
    total_count: int | None  # capped just above _COUNT_CAP; see :func:`shown_count`


def _count(value: object) -> int | None:
    """A whole, non-negative JSON number (``1e3`` and ``100.0`` included), else ``None``.

    Anything above ``_COUNT_CAP`` comes back as ``_COUNT_CAP + 1`` without ever
    building the huge int (``1E+999999999`` would take forever).
    """
    if type(value) is int:
        number: int | Decimal = value
    elif type(value) is Decimal and value.is_finite() and value == value.to_integral_value():
        if value.adjusted() >= 19:
            return _COUNT_CAP + 1 if value > 0 else None
        number = int(value)
    else:
        return None  # bool, str, fractions, NaN: not a count
    if number < 0:
        return None
    return min(int(number), _COUNT_CAP + 1)


def shown_count(number: int) -> str:
    """A count for a message: ``1,000,000``; beyond ``10^18`` only "more than 10^18"."""
    return f"{number:,}" if number <= _COUNT_CAP else "more than 10^18"


def api_error(body: object, secrets: tuple[str, ...] = ()) -> ProviderError | None:
    """The ProviderError for a Management API error body (``{"error": {code, msg}}``), else None."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if error is None:
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            error = errors[0]
        else:
            return None
    error = error if isinstance(error, Mapping) else {"msg": error}
    raw_code = error.get("code")
    code = int(raw_code) if isinstance(raw_code, int | str) and _CODE.fullmatch(str(raw_code)) \
        else None
    msg = sanitize(redact(sanitize(error.get("msg") or error.get("message") or "no message"),
                          secrets), limit=200)
    retry_after = None
    if code == 416:
        match = _REPEAT_AFTER.search(msg)
        retry_after = float(match.group(1)) if match else None
    reason = f"Voximplant error {code}: {msg}" if code is not None else f"Voximplant error: {msg}"
    hint = _CODE_HINTS.get(code or 0, "")
    if code in _RETRYABLE_CODES:
        hint = "Voximplant asked to try later; refresh in a minute"
    elif not hint:
        hint = "see the message; if it persists, check the account in the Voximplant control panel"
    return ProviderError(reason, hint, retryable=code in _RETRYABLE_CODES, retry_after=retry_after)


def _invoice_ref(raw: Mapping[str, Any]) -> str:
    value = raw.get("invoice_id")
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value):
        return sanitize(value, limit=40)
    return "(no invoice_id)"


def _tax(raw: object, bad: list[str]) -> Tax:
    data = _parse.mapping(raw, "", required=True)
    return Tax(
        name=_parse.text(data.get("name"), "name"),
        rate=_parse.amount(data.get("rate"), "rate"),
        amount=_parse.amount(data.get("amount"), "amount"),
        level=_parse.text(data.get("level"), "level"),
        category=_parse.text(data.get("category"), "category"),
        taxable=_parse.amount(data.get("taxable_measure"), "taxable_measure"),
        currency=_parse.currency(data.get("currency"), "currency", bad),
    )


def _line(raw: object, bad: list[str]) -> Line:
    data = _parse.mapping(raw, "", required=True)
    money = _parse.mapping(data.get("amount"), "amount")
    # A row's total_amount includes its taxes: it is the gross, and net = gross − tax.
    gross = _parse.amount(money.get("total_amount"), "amount.total_amount")
    tax = _parse.amount(money.get("tax_amount"), "amount.tax_amount")
    return Line(
        kind="service",
        description=_parse.text(data.get("service_name"), "service_name") or "",
        amount=gross,
        tax=tax,
        net=_parse.subtract(gross, tax, "amount (total − tax)"),
        gross=gross,
        currency=_parse.currency(money.get("currency"), "amount.currency", bad),
        taxes=_parse.each(data.get("taxes"), "taxes", lambda tax: _tax(tax, bad)),
    )


def parse_invoice(account: str, raw: object, warnings: _parse.Warnings | None = None) -> Invoice:
    """One AccountInvoice → :class:`Invoice` (SPEC §2); a bad field → ProviderError naming it.

    A currency that is not an ISO code becomes ``XXX`` with a line in ``warnings``.
    """
    def build(data: Mapping[str, Any], bad: list[str]) -> Invoice:
        invoice_id = _parse.text(data.get("invoice_id"), "invoice_id", required=True)
        period = _parse.mapping(data.get("period"), "period")
        money = _parse.mapping(data.get("amount"), "amount", required=True)
        total = _parse.amount(money.get("total_amount"), "amount.total_amount")
        tax = _parse.amount(money.get("tax_amount"), "amount.tax_amount")
        return Invoice(
            account=account,
            provider="voximplant",
            id=str(invoice_id),
            number=_parse.text(data.get("invoice_number"), "invoice_number"),
            issued=_parse.date(data.get("invoice_date"), "invoice_date"),
            period_start=_parse.date(period.get("from"), "period.from"),
            period_end=_parse.date(period.get("to"), "period.to"),
            status=_parse.text(data.get("status"), "status") or "unknown",
            currency=str(_parse.currency(money.get("currency"), "amount.currency", bad,
                                         required=True)),
            total=total,
            tax=tax,
            subtotal=_parse.subtract(total, tax, "amount (total − tax)"),
            discount=_parse.amount(money.get("discount_amount"), "amount.discount_amount"),
            amount_due=_parse.amount(money.get("amount_to_pay"), "amount.amount_to_pay"),
            lines=_parse.each(data.get("rows"), "rows", lambda row: _line(row, bad)),
        )

    return _parse.invoice(SERVICE, raw, _invoice_ref, build, warnings)


# The fast path (see _parse.NotPlain): the same invoice as parse_invoice, for invoices whose
# every value is plain, with one check per value instead of a helper call and a field name.

def _plain_tax(raw: object) -> Tax:
    data = _parse.plain_object(raw)
    get = data.get
    return Tax(
        name=_parse.plain_text(get("name")),
        rate=_parse.plain_amount(get("rate")),
        amount=_parse.plain_amount(get("amount")),
        level=_parse.plain_text(get("level")),
        category=_parse.plain_text(get("category")),
        taxable=_parse.plain_amount(get("taxable_measure")),
        currency=_parse.plain_currency(get("currency")),
    )


def _plain_line(raw: object) -> Line:
    data = _parse.plain_object(raw)
    money = data.get("amount")
    money = _EMPTY if money is None else _parse.plain_object(money)
    gross = _parse.plain_amount(money.get("total_amount"))
    tax = _parse.plain_amount(money.get("tax_amount"))
    return Line(
        kind="service",
        description=_parse.plain_text(data.get("service_name")) or "",
        amount=gross,
        tax=tax,
        net=None if gross is None or tax is None else EXACT.subtract(gross, tax),
        gross=gross,
        currency=_parse.plain_currency(money.get("currency")),
        taxes=tuple([_plain_tax(tax) for tax in _parse.plain_list(data.get("taxes"))]),
    )


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _plain_invoice(account: str, raw: object) -> Invoice | None:
    """:func:`parse_invoice`'s result for a plain invoice, else ``None``."""
    try:
        data = _parse.plain_object(raw)
        get = data.get
        invoice_id = _parse.plain_text(get("invoice_id"))
        money = _parse.plain_object(get("amount"))
        period = get("period")
        period = _EMPTY if period is None else _parse.plain_object(period)
        currency = _parse.plain_currency(money.get("currency"))
        if not invoice_id or currency is None:
            return None  # required: the careful path says which is missing
        total = _parse.plain_amount(money.get("total_amount"))
        tax = _parse.plain_amount(money.get("tax_amount"))
        return Invoice(
            account=account,
            provider="voximplant",
            id=invoice_id,
            number=_parse.plain_text(get("invoice_number")),
            issued=_parse.plain_date(get("invoice_date")),
            period_start=_parse.plain_date(period.get("from")),
            period_end=_parse.plain_date(period.get("to")),
            status=_parse.plain_text(get("status")) or "unknown",
            currency=currency,
            total=total,
            tax=tax,
            subtotal=None if total is None or tax is None else EXACT.subtract(total, tax),
            discount=_parse.plain_amount(money.get("discount_amount")),
            amount_due=_parse.plain_amount(money.get("amount_to_pay")),
            lines=tuple([_plain_line(row) for row in _parse.plain_list(get("rows"))]),
        )
    except (_parse.NotPlain, DecimalException, ValueError):  # ValueError: str() of a huge int
        return None


def parse_page(account: str, body: object, warnings: _parse.Warnings | None = None) -> Page:
    """A GetAccountInvoices body → :class:`Page`; error bodies and odd shapes → ProviderError.

    Values replaced by a safe marker (a currency shown as XXX) are noted in ``warnings``.
    """
    error = api_error(body)
    if error is not None:
        raise error
    if not isinstance(body, Mapping) or "result" not in body:
        raise ProviderError("Voximplant sent an unexpected answer (no result list)",
                            "check base_url points at the Management API (…/platform_api)")
    try:
        results = _parse.items(body.get("result"), "result")
    except FieldError as exc:
        raise ProviderError(f"Voximplant sent an unexpected answer: {exc}",
                            "try again later; if it persists, report it") from None
    # A total_count that is no count (negative, fraction, text) is ignored like a missing
    # one: paging then ends at an empty or repeated page, or at MAX_INVOICES.
    total_count = _count(body.get("total_count"))
    return Page(tuple([_plain_invoice(account, raw) or parse_invoice(account, raw, warnings)
                       for raw in results]), total_count)


def parse_account_info(body: object, warnings: _parse.Warnings | None = None) -> AccountSummary:
    """GetAccountInfo → balance and its currency (SPEC §1); ProviderError on odd shapes.

    A currency that is not an ISO code becomes ``XXX`` with a line in ``warnings``.
    """
    error = api_error(body)
    if error is not None:
        raise error
    bad: list[str] = []
    try:
        info = _parse.mapping(body, "body", required=True)
        result = _parse.mapping(info.get("result"), "result", required=True)
        summary = AccountSummary(
            balance=_parse.amount(result.get("balance"), "result.balance"),
            balance_currency=_parse.currency(result.get("currency"), "result.currency", bad),
        )
    except FieldError as exc:
        raise ProviderError(f"Voximplant account info: {exc}", "") from None
    if bad and warnings is not None:
        warnings.add("balance currency", f"account info: {bad[0]}")
    return summary


# --- the provider --------------------------------------------------------------------


class VoximplantProvider:
    """One Voximplant account, authenticated with a service-account key file."""

    name: ClassVar[str] = "voximplant"
    display_name: ClassVar[str] = "Voximplant"
    option_keys: ClassVar[tuple[str, ...]] = ("credentials", "base_url", "credentials_keyring")
    path_options: ClassVar[tuple[str, ...]] = ("credentials",)
    keyring_secret: ClassVar[KeyringSecret | None] = KeyringSecret(
        "credentials_keyring", ("credentials",), "Voximplant service-account key (JSON)")

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        *,
        clock: Callable[[], float] = time.time,
        retry: _http.RetryPolicy | None = None,
        max_invoices: int = MAX_INVOICES,
    ) -> None:
        self.account = account
        self.credentials = credentials
        self.base_url = base_url
        self.signer = TokenSigner(credentials, clock)
        self.retry = retry or _http.RetryPolicy()
        self.max_invoices = max_invoices  # tests lower it to reach the ceiling quickly

    form_fields: ClassVar[tuple[FormField, ...]] = (
        FormField("credentials", "credentials", "Key file", "path", one_of="credentials",
                  help="from Voximplant: Settings → Service accounts",
                  placeholder="~/keys/vox-credentials.json"),
        FormField("credentials_json", "credentials", "or paste key", "json_secret",
                  one_of="credentials",
                  help="or its JSON, pasted: saved as keys/NAME.json, mode 0600",
                  placeholder="{\"account_id\": …, \"key_id\": …, \"private_key\": …}"),
        FormField("base_url", "base_url", "API URL", "url",
                  help="leave empty for the default", placeholder=DEFAULT_BASE_URL),
    )

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> list[str]:
        """Fix-it lines for the key's source (a ``credentials`` path, or
        ``credentials_keyring = true``: exactly one) and ``base_url``.

        The key file (or keyring entry) itself is read when the account is built
        (``from_options``), so a missing or broken key fails that account only, never
        the config.
        """
        problems: list[str] = []
        in_keyring = options.get("credentials_keyring")
        if in_keyring is not None and not isinstance(in_keyring, bool):
            problems.append("credentials_keyring: must be true or false — true keeps the key "
                            "file's JSON in the OS keyring (invoice-tui secret set NAME)")
        elif in_keyring and "credentials" in options:
            problems.append("credentials/credentials_keyring: set exactly one — the key is in "
                            "the OS keyring (credentials_keyring = true) or in a key file "
                            "(credentials = \"…\"): remove the other")
        elif not in_keyring:
            try:
                _credentials_path(options.get("credentials"))
            except ProviderError as exc:
                problems.append(f"{exc} (or credentials_keyring = true: invoice-tui secret "
                                "set NAME)")
        base_url = options.get("base_url", DEFAULT_BASE_URL)
        problem = _http.check_base_url(base_url)
        if problem:
            problems.append(f"base_url: {problem}")
        return problems

    @classmethod
    def from_options(cls, account: str, options: Mapping[str, Any]) -> VoximplantProvider:
        """Load the key (its file, or the OS keyring's entry, read now and never at config
        load); :class:`ProviderError` if it is unusable."""
        base_url = options.get("base_url", DEFAULT_BASE_URL)
        problem = _http.check_base_url(base_url)
        if problem:
            raise ProviderError(f"base_url: {problem}", "fix base_url in the config")
        if options.get("credentials_keyring") is True:
            shown = f"the keyring entry of {account}"
            fix = f"store the key file again: invoice-tui secret set {shlex.quote(account)} < FILE"
            credentials = credentials_from_key(
                key_file_fields(get_secret(account), shown, fix), shown)
        else:
            credentials = load_credentials(options.get("credentials"))
        return cls(account, credentials, str(base_url))

    @classmethod
    def check_secret(cls, value: str) -> str:
        """The key file's JSON to keep in the keyring: parsed and checked as a key file is
        (fields, RSA PEM key), unwrapped from ``{"result": …}`` and written on one line;
        :class:`ProviderError` (never quoting it) if it is no usable key."""
        shown = "the key given"
        fields = key_file_fields(value, shown)
        credentials_from_key(fields, shown)
        return json.dumps(fields, separators=(",", ":"))

    def cache_key(self) -> str:
        """``voximplant:<account_id>@<base_url>`` — identifies the remote account, no secrets."""
        return f"voximplant:{self.credentials.account_id}@{self.base_url.rstrip('/')}"

    def _secrets(self) -> tuple[str, ...]:
        return (self.signer.token(),)

    async def _call(self, client: httpx.AsyncClient, options: FetchOptions, method: str,
                    data: Mapping[str, str], handle: Callable[[httpx.Response], Any],
                    max_retries: int | None = None,
                    slot: AbstractAsyncContextManager[object] | None = None) -> Any:
        return await _http.request(
            client, "POST", _http.join_url(self.base_url, method),
            service=SERVICE, options=options, policy=self.retry, handle=handle,
            headers=self.signer.headers, data=data, max_retries=max_retries,
            secrets=self._secrets(), redirect_hint=_BASE_URL_HINT, slot=slot,
        )

    def _json_handler(self, parse: Callable[[object], Any]) -> Callable[[httpx.Response], Any]:
        def handle(response: httpx.Response) -> Any:
            unexpected = _http.unexpected_status_error(response, SERVICE, _BASE_URL_HINT)
            if unexpected is not None:  # a 3xx or 1xx is never an answer, whatever its body
                raise unexpected
            # 429/5xx are retried whatever the body says.
            transient = _http.transient_status_error(response, SERVICE)
            if transient is not None:
                raise transient
            try:
                body = _http.decode_json(response, SERVICE)
            except ProviderError:
                if response.status_code >= 400:
                    raise _status_error(response) from None
                raise
            # Errors usually come as HTTP 200 with an error object: check the body, not the status.
            error = api_error(body, self._secrets())
            if error is not None:
                raise error
            if response.status_code >= 400:
                raise _status_error(response)
            return parse(body)
        return handle

    async def _page(self, client: httpx.AsyncClient, options: FetchOptions,
                    offset: int, count: int, warnings: _parse.Warnings | None = None,
                    slot: AbstractAsyncContextManager[object] | None = None) -> Page:
        data = {"count": str(count), "offset": str(offset)}
        page: Page = await self._call(
            client, options, "GetAccountInvoices", data,
            self._json_handler(lambda body: parse_page(self.account, body, warnings)),
            slot=slot,
        )
        return page

    async def _summary(self, client: httpx.AsyncClient, options: FetchOptions,
                       warnings: _parse.Warnings | None = None,
                       slot: AbstractAsyncContextManager[object] | None = None
                       ) -> AccountSummary:
        # Best effort: the balance is a nicety, its failure must not fail the invoices.
        try:
            summary: AccountSummary = await self._call(
                client, options, "GetAccountInfo", {},
                self._json_handler(lambda body: parse_account_info(body, warnings)),
                max_retries=0, slot=slot,
            )
        except ProviderError:
            return AccountSummary()
        return summary

    async def fetch(
        self,
        client: httpx.AsyncClient,
        options: FetchOptions,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """Every invoice of the account, newest first; the balance when available."""
        pagination = _Pagination(self, client, options, progress)
        invoices = await pagination.run()
        return FetchResult(_parse.newest_first(invoices), pagination.summary,
                           (*self.credentials.warnings, *pagination.warnings.lines()))

    async def first_page(self, client: httpx.AsyncClient, options: FetchOptions) -> FirstPage:
        """GetAccountInvoices at offset 0 (the page a sync starts with) and its total_count."""
        page = await self._page(client, options, 0, max(1, options.page_size))
        if page.total_count is not None and page.total_count > self.max_invoices:
            raise _too_many(page.total_count, self.max_invoices)  # a sync would refuse it too
        return FirstPage(page.invoices, page.total_count)

    async def download_pdf(
        self, client: httpx.AsyncClient, options: FetchOptions, invoice: Invoice
    ) -> bytes:
        """``DownloadInvoice`` → the raw PDF bytes (never decoded as text)."""
        def handle(response: httpx.Response) -> bytes:
            content_type = response.headers.get("content-type", "").lower()
            if "json" in content_type or response.status_code != 200:
                self._json_handler(lambda body: None)(response)
                raise ProviderError(f"Voximplant has no PDF for invoice {invoice.title}",
                                    "the invoice may not be final yet")
            return response.content

        pdf: bytes = await self._call(client, options, "DownloadInvoice",
                                      {"invoice_id": invoice.id}, handle)
        return pdf


def _status_error(response: httpx.Response) -> ProviderError:
    status = response.status_code
    if status in (401, 403):
        return ProviderError(f"Voximplant refused the request (HTTP {status})", _CLOCK_HINT)
    if status == 404:
        return ProviderError("Voximplant API method not found (HTTP 404)", _BASE_URL_HINT)
    return ProviderError(f"Voximplant answered HTTP {status} without a JSON body",
                         "check base_url; try again later")


_WRONG_SERVER_HINT = "check base_url points at the Voximplant Management API (…/platform_api)"


class _Pagination:
    """GetAccountInvoices paging: learn the real page length, then fetch the rest concurrently.

    The server may cap ``count`` below what we ask, so the stride is the length
    of the first page actually returned. Later pages (and GetAccountInfo) run in
    up to ``options.concurrency`` workers; a short page leaves a gap that is then
    read sequentially from its real offset. Results are deduped by id.

    Paging always ends, whatever the server says: at ``total_count``, at an
    empty page, at a page that brings no id not seen before (a server or proxy
    ignoring offset), and at the provider's ``max_invoices``: a larger
    total_count is refused after the first page, and a list without one (read
    up to ``MAX_UNCOUNTED_INVOICES``) that keeps going past the ceiling is an
    error, never a silent truncation.
    """

    def __init__(self, provider: VoximplantProvider, client: httpx.AsyncClient,
                 options: FetchOptions, progress: ProgressCallback | None) -> None:
        self.provider = provider
        self.client = client
        self.options = options
        self.progress = progress
        self.page_size = max(1, options.page_size)
        self.limit = provider.max_invoices
        self.by_id: dict[str, Invoice] = {}
        self.pages = 0
        self.total: int | None = None
        self.stride = self.page_size
        self.repeated: int | None = None  # lowest offset of a page that brought nothing new
        self.summary = AccountSummary()
        self.warnings = _parse.Warnings()
        # Requests in flight, at most options.concurrency; a page being parsed holds none.
        self.slots = asyncio.Semaphore(max(1, options.concurrency))
        self.end: int | None = None  # where the concurrent pages found the list to end

    async def _get(self, offset: int) -> tuple[int, int]:
        """Read the page at ``offset``: (invoices on it, invoices not seen before)."""
        page = await self.provider._page(self.client, self.options, offset, self.page_size,
                                         self.warnings, _Slot(self, offset))
        if self.pages == 0:
            self.total = page.total_count
            self.stride = len(page.invoices) or self.page_size
            if self.total is None:
                self.limit = min(self.limit, MAX_UNCOUNTED_INVOICES)
            elif self.total > self.limit:
                raise _too_many(self.total, self.limit)
        self.pages += 1
        before = len(self.by_id)
        added = tuple(invoice for invoice in page.invoices
                      if self.by_id.setdefault(invoice.id, invoice) is invoice)
        if len(self.by_id) > self.limit:
            raise self._endless()
        new = len(self.by_id) - before
        if page.invoices and not new:
            self.repeated = offset if self.repeated is None else min(self.repeated, offset)
        if self.progress is not None:
            total_pages = -(-self.total // self.stride) if self.total is not None else None
            self.progress(FetchProgress(invoices=len(self.by_id), pages=self.pages,
                                        total_invoices=self.total, total_pages=total_pages,
                                        page=added))
        return len(page.invoices), new

    def _endless(self) -> ProviderError:
        uncounted = " of a list without total_count" if self.total is None else ""
        return ProviderError(f"Voximplant's invoice list did not end within {self.limit:,} "
                             f"invoices (the most invoice-tui reads{uncounted})",
                             _WRONG_SERVER_HINT)

    async def run(self) -> list[Invoice]:
        """Fetch every page (and the summary); the invoices deduped by id, unsorted."""
        # The first page alone: its length is the stride the server really honours.
        got, _ = await self._get(0)
        # Without total_count the list is read until it ends, which must happen within
        # the ceiling: one stride past it is the last offset that can still prove it.
        stop = self.total if self.total is not None else self.limit + self.stride
        offsets = range(self.stride, stop, self.stride) if got else range(0)
        lengths, end = await self._concurrent(offsets)
        if got and self.total is None and end is None:
            raise self._endless()
        # Pages shorter than the stride leave gaps up to the list's end.
        end = stop if end is None else end
        for offset in sorted(lengths):
            got = lengths[offset]
            if 0 < got < self.stride and offset + got < end:
                await self._sequential(offset + got, min(offset + self.stride, end))
        if self.repeated is not None and self.total is not None and len(self.by_id) < self.total:
            raise ProviderError(
                f"Voximplant sent the same invoices again for offset {self.repeated} "
                f"({len(self.by_id):,} of {self.total:,} read)",
                "the server, or a proxy in between, ignores offset; check base_url")
        return list(self.by_id.values())

    async def _concurrent(self, offsets: range) -> tuple[dict[int, int], int | None]:
        """Read the pages at ``offsets`` concurrently: their lengths, and where the list ended.

        The end is the lowest offset whose page was empty (total_count overstated)
        or brought nothing new (offset ignored); nothing at or after it is asked for.
        """
        lengths: dict[int, int] = {}
        # GetAccountInfo is queued first: it shares the concurrency budget, and it is only
        # sent once the first page succeeded (so it never races or outlives a failed fetch).
        jobs: Iterator[int | None] = itertools.chain([None], offsets)

        async def worker() -> None:
            # Workers pull from one iterator (no task per page even for 100 000 invoices);
            # _Slot keeps at most `concurrency` requests in flight.
            for offset in jobs:
                if offset is None:
                    self.summary = await self.provider._summary(self.client, self.options,
                                                                self.warnings, _Slot(self))
                    continue
                try:
                    got, new = await self._get(offset)
                except _ListEnded:
                    return  # the list ended before: skip everything after it
                lengths[offset] = got
                if not got or not new:
                    self.end = offset if self.end is None else min(self.end, offset)

        # Twice as many workers as request slots: while one worker parses the page it got,
        # another already waits on the network, so a round trip never waits for a parse.
        workers = max(1, min(2 * self.options.concurrency, len(offsets) + 1))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except BaseExceptionGroup as grouped:
            raise _first_error(grouped) from None
        return lengths, self.end

    async def _sequential(self, offset: int, end: int) -> None:
        """Read from ``offset`` until ``end`` (or the list's end), advancing by what arrives."""
        while offset < end:
            got, new = await self._get(offset)
            if not got or not new:
                return  # end of list, or a server that ignores offset: stop, don't loop
            offset += got


def _too_many(total: int, limit: int) -> ProviderError:
    return ProviderError(f"Voximplant reported {shown_count(total)} invoices — more than "
                         f"invoice-tui reads ({limit:,})", _WRONG_SERVER_HINT)


class _ListEnded(Exception):  # noqa: N818 - a signal: this page is past the list's end
    """The list was found to end at or before this page while it waited for a slot."""


class _Slot:
    """One of the pagination's request slots, held by a request while it is in flight.

    A worker may wait for a slot while another finds the list's end; a page at or
    past that end is then never asked for (:class:`_ListEnded` instead).
    """

    def __init__(self, pagination: _Pagination, offset: int | None = None) -> None:
        self.pagination = pagination
        self.offset = offset  # None: not a page (GetAccountInfo)

    async def __aenter__(self) -> None:
        slots = self.pagination.slots
        await slots.acquire()
        end = self.pagination.end
        if self.offset is not None and end is not None and self.offset >= end:
            slots.release()
            raise _ListEnded

    async def __aexit__(self, *exc_info: object) -> None:
        self.pagination.slots.release()


def _first_error(grouped: BaseExceptionGroup[BaseException]) -> BaseException:
    for exc in grouped.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_error(exc)
        if isinstance(exc, ProviderError):
            return exc
    return grouped.exceptions[0]


PROVIDER = VoximplantProvider
