"""Unleash Admin API (Enterprise): ``GET /api/admin/invoices/list`` → model (SPEC §1/§2)."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from ..keyring_store import get_secret
from ..model import AccountSummary, Invoice, Line, line_gap, minor_digits
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
    NoPdf,
    ProgressCallback,
    ProviderError,
)

SERVICE = "Unleash"
INVOICES_PATH = "api/admin/invoices/list"
PDF_REDIRECTS = 5  # hops a PDF link (Stripe-hosted) may take; API calls never follow any
_TOKEN_HINT = ("create a personal access token or an admin/service-account token in Unleash "
               "and put it in the account's token or token_env, or the keyring "
               "(invoice-tui secret set NAME)")
_TOKEN_SOURCES = ("token", "token_env", "token_keyring")


def _line(kind: str, raw: object, bad: list[str]) -> Line:
    data = _parse.mapping(raw, "", required=True)
    # A line's totalAmount is before tax (the lines add up to the subtotal): the net.
    # Lines carry no tax of their own, so no gross: spreading the invoice's tax over
    # the lines would be our guess, not the provider's figure.
    net = _parse.amount(data.get("totalAmount"), "totalAmount")
    return Line(
        kind=kind,
        description=_parse.text(data.get("description"), "description") or "",
        quantity=_parse.amount(data.get("quantity"), "quantity"),
        unit_price=_parse.amount(data.get("unitPrice"), "unitPrice"),
        amount=net,
        net=net,
        currency=_parse.currency(data.get("currency"), "currency", bad),
        period_start=_parse.date(data.get("startDate"), "startDate"),
        period_end=_parse.date(data.get("endDate"), "endDate"),
        consumption=_parse.amount(data.get("consumption"), "consumption"),
        limit=_parse.amount(data.get("limit"), "limit"),
        lookup_key=_parse.text(data.get("lookupKey"), "lookupKey"),
    )


def _api_total_missing(value: Decimal | None) -> bool:
    return value is None or value == 0


def with_estimate_totals(invoice: Invoice) -> Invoice:
    """An ``estimate`` whose API subtotal or total is 0 or absent, with figures from its lines.

    As Unleash's billing page does (its ``calculateEstimateTotals``): subtotal = the sum
    of the main and usage lines' totals, tax = subtotal × taxPercentage / 100 (0 without
    a percentage), total = subtotal + tax; ``totals_computed`` says so. A line without an
    amount (or in another currency) is left out and makes it ``estimate_incomplete``:
    never a silent zero. Any other invoice, or non-zero API figures, come back unchanged.

    Exact Decimal; only the tax is rounded, half up to the currency's minor digits:
    Unleash's page shows it through a currency formatter that does exactly that, so the
    figures match its page (and subtotal + tax = total holds as shown) whenever the
    lines are in whole minor units, as Stripe bills them.
    """
    if not invoice.is_estimate or not (_api_total_missing(invoice.subtotal)
                                       or _api_total_missing(invoice.total)):
        return invoice
    counted = [line.amount for line in invoice.lines
               if line.amount is not None and line_gap(line, invoice.currency) is None]
    subtotal = _parse.total(counted, "subtotal")
    rate = invoice.tax_rate or Decimal(0)
    tax = _parse.rounded(_parse.product(subtotal, rate.scaleb(-2), "taxAmount"),
                         minor_digits(invoice.currency), "taxAmount")
    return dataclasses.replace(
        invoice, subtotal=subtotal, tax=tax, total=_parse.total((subtotal, tax), "totalAmount"),
        totals_computed=True, estimate_incomplete=len(counted) < len(invoice.lines))


def _invoice_ref(raw: Mapping[str, Any]) -> str:
    for key in ("monthText", "invoiceDate"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            return sanitize(value, limit=40)
    return "(unnamed)"


def parse_invoice(account: str, raw: object, warnings: _parse.Warnings | None = None) -> Invoice:
    """One detailed invoice → :class:`Invoice` (SPEC §2); a bad field → ProviderError naming it.

    A currency that is not an ISO code becomes ``XXX`` with a line in ``warnings``.
    """
    def build(data: Mapping[str, Any], bad: list[str]) -> Invoice:
        invoice_date = _parse.text(data.get("invoiceDate"), "invoiceDate", required=True)
        month = _parse.text(data.get("monthText"), "monthText")
        url = _parse.text(data.get("invoiceURL"), "invoiceURL") or None
        lines = (_parse.each(data.get("mainLines"), "mainLines",
                             lambda line: _line("main", line, bad))
                 + _parse.each(data.get("usageLines"), "usageLines",
                               lambda line: _line("usage", line, bad)))
        starts = [line.period_start for line in lines if line.period_start is not None]
        ends = [line.period_end for line in lines if line.period_end is not None]
        return with_estimate_totals(Invoice(
            account=account,
            provider="unleash",
            id=url or f"{invoice_date}|{month or ''}",
            label=month,
            issued=_parse.date(invoice_date, "invoiceDate"),
            due=_parse.date(data.get("dueDate"), "dueDate"),
            period_start=min(starts, default=None),
            period_end=max(ends, default=None),
            status=_parse.text(data.get("status"), "status") or "unknown",
            currency=str(_parse.currency(data.get("currency"), "currency", bad,
                                         required=True)),
            subtotal=_parse.amount(data.get("subtotal"), "subtotal"),
            tax=_parse.amount(data.get("taxAmount"), "taxAmount"),
            total=_parse.amount(data.get("totalAmount"), "totalAmount"),
            tax_rate=_parse.amount(data.get("taxPercentage"), "taxPercentage"),
            url=url,
            pdf_url=_parse.text(data.get("invoicePDF"), "invoicePDF") or None,
            lines=lines,
        ))

    return _parse.invoice(SERVICE, raw, _invoice_ref, build, warnings)


def parse_invoices(account: str, body: object) -> FetchResult:
    """A detailed-invoices body → invoices (newest first), the plan price, and warnings
    (one line per kind of value replaced by a safe marker, e.g. a currency shown as XXX)."""
    if not isinstance(body, Mapping) or "invoices" not in body:
        raise ProviderError("Unleash sent an unexpected answer (no invoices list)",
                            "check base_url is the instance URL including its path prefix")
    warnings = _parse.Warnings()
    bad: list[str] = []
    try:
        raws = _parse.items(body.get("invoices"), "invoices")
        summary = AccountSummary(
            plan_price=_parse.amount(body.get("planPrice"), "planPrice"),
            plan_currency=_parse.currency(body.get("planCurrency"), "planCurrency", bad),
        )
    except FieldError as exc:
        raise ProviderError(f"Unleash sent an unexpected answer: {exc}",
                            "try again later; if it persists, report it") from None
    if bad:
        warnings.add("planCurrency", bad[0])
    invoices = _parse.newest_first(parse_invoice(account, raw, warnings) for raw in raws)
    return FetchResult(invoices, summary, warnings.lines())


def _server_message(response: httpx.Response, secrets: tuple[str, ...]) -> str | None:
    """The ``message`` (or first ``details[].message``) of an Unleash error body, sanitized."""
    try:
        body = _http.loads(response.content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, Mapping):
        return None
    message = body.get("message")
    details = body.get("details")
    if not isinstance(message, str) and isinstance(details, list) and details:
        first = details[0]
        message = first.get("message") if isinstance(first, Mapping) else None
    if not isinstance(message, str) or not message:
        return None
    return sanitize(redact(sanitize(message), secrets), limit=200)


def status_error(response: httpx.Response, secrets: tuple[str, ...] = ()) -> ProviderError | None:
    """The ProviderError for an Unleash error status (401/403/404/429/5xx/…), else ``None``."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    unexpected = _http.unexpected_status_error(response, SERVICE)
    if unexpected is not None:  # a redirect (to a login page, say) or an odd status
        return unexpected
    transient = _http.transient_status_error(response, SERVICE)
    if transient is not None:
        return transient
    said = _server_message(response, secrets)
    detail = f": {said}" if said else ""
    if status == 401:
        return ProviderError(
            f"Unleash rejected the token (HTTP 401: missing, invalid or expired){detail}",
            _TOKEN_HINT)
    if status == 403:
        return ProviderError(
            "Unleash refused access to invoices (HTTP 403): this token type cannot read "
            f"invoices (frontend/backend tokens can't) or the user lacks the permission{detail}",
            "use a personal access token of an admin, or an admin/service-account token")
    if status == 404:
        return ProviderError(
            "this instance has no Enterprise billing (invoices endpoint not found, HTTP 404)",
            "check the instance URL incl. its path prefix; invoices need Unleash Enterprise")
    return ProviderError(f"Unleash answered HTTP {status}{detail}",
                         "check base_url and the token; try again later")


# "Bearer abc", "bearer   abc": a token copied with its scheme. Unleash strips it too.
_BEARER = re.compile(r"bearer(?:\s+|$)", re.IGNORECASE)


def raw_token(token: str) -> str:
    """``token`` as Unleash wants it in ``Authorization``: trimmed, a pasted ``Bearer `` gone.

    Servers ≥ 5.11 accept either form, older ones only the raw token, so the raw one is sent.
    """
    token = token.strip()
    match = _BEARER.match(token)
    return token[match.end():] if match else token


def _token_problem(token: str) -> str | None:
    # Checked up front: httpx would raise a non-HTTP error for such a header value.
    if token.isascii() and token.isprintable() and " " not in token:
        return None
    return "contains characters an HTTP header cannot carry (non-ASCII, spaces or line breaks)"


def _token_source_problem(options: Mapping[str, Any]) -> str | None:
    """The fix-it line for the token's source (exactly one), else ``None``."""
    keyring_flag = options.get("token_keyring")
    if keyring_flag is not None and not isinstance(keyring_flag, bool):
        return ("token_keyring: must be true or false — true keeps the token in the OS "
                "keyring (invoice-tui secret set NAME)")
    sources = [key for key in ("token", "token_env") if key in options]
    sources += ["token_keyring"] if keyring_flag else []
    if len(sources) != 1:
        said = f" (found {' and '.join(sources)})" if sources else ""
        return ("token/token_env/token_keyring: set exactly one" + said + " — token_env = "
                "\"UNLEASH_TOKEN\" (an environment variable holding the token), "
                "token_keyring = true (the OS keyring: invoice-tui secret set NAME) or "
                "token = \"…\"")
    if "token" in options:
        token = options["token"]
        if not isinstance(token, str) or not raw_token(token):
            return "token: must be a non-empty string — " + _TOKEN_HINT
        problem = _token_problem(raw_token(token))
        return f"token: {problem}" if problem else None
    env = options.get("token_env", "UNLEASH_TOKEN")
    if not isinstance(env, str) or not env.strip():
        return "token_env: must be the name of an environment variable, e.g. \"UNLEASH_TOKEN\""
    return None


class UnleashProvider:
    """One Unleash instance (Enterprise billing), authenticated with an admin-capable token."""

    name: ClassVar[str] = "unleash"
    display_name: ClassVar[str] = "Unleash"
    option_keys: ClassVar[tuple[str, ...]] = ("base_url", *_TOKEN_SOURCES)
    path_options: ClassVar[tuple[str, ...]] = ()
    keyring_secret: ClassVar[KeyringSecret | None] = KeyringSecret(
        "token_keyring", ("token", "token_env"), "Unleash token")

    def __init__(self, account: str, base_url: str, token: str,
                 *, retry: _http.RetryPolicy | None = None) -> None:
        self.account = account
        self.base_url = base_url
        self._token = token
        self.retry = retry or _http.RetryPolicy()

    form_fields: ClassVar[tuple[FormField, ...]] = (
        FormField("base_url", "base_url", "Instance URL", "url", required=True,
                  help="the instance URL including any path prefix",
                  placeholder="https://us.app.unleash-hosted.com/acme"),
        FormField("token", "token", "Token", "secret", one_of="token",
                  help="a personal access or admin/service-account token",
                  placeholder="user:…"),
        FormField("token_env", "token_env", "or env var", "text", one_of="token",
                  help="the name of an environment variable holding it",
                  placeholder="UNLEASH_TOKEN"),
    )

    def __repr__(self) -> str:  # the token stays out of reprs and logs
        return f"UnleashProvider(account={self.account!r}, base_url={self.base_url!r})"

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> list[str]:
        """Fix-it lines for ``base_url`` (required) and the token's source: exactly one of
        ``token``, ``token_env`` and ``token_keyring = true``."""
        problems: list[str] = []
        if "base_url" not in options:
            problems.append("base_url: missing — set it to the Unleash instance URL including "
                            "any path prefix, e.g. https://us.app.unleash-hosted.com/acme")
        else:
            problem = _http.check_base_url(options["base_url"])
            if problem:
                problems.append(f"base_url: {problem}")
        problem = _token_source_problem(options)
        if problem:
            problems.append(problem)
        return problems

    @classmethod
    def from_options(cls, account: str, options: Mapping[str, Any]) -> UnleashProvider:
        """Resolve the token (``token``, the ``token_env`` variable or the OS keyring) and
        check the URL. The keyring is read here, never at config load."""
        base_url = options.get("base_url")
        problem = _http.check_base_url(base_url)
        if problem:
            raise ProviderError(f"base_url: {problem}", "fix base_url in the config")
        token = options.get("token")
        env_name = options.get("token_env")
        source = "token"
        if options.get("token_keyring") is True:
            token, source = get_secret(account), f"keyring entry of {account}"
        elif isinstance(env_name, str) and env_name.strip():
            source = f"environment variable {env_name.strip()}"
            token = os.environ.get(env_name.strip())
            if token is None or not token.strip():
                state = "is not set" if token is None else "is empty"
                raise ProviderError(
                    f"environment variable {env_name.strip()} {state}",
                    f"export {env_name.strip()}=<token> before starting invoice-tui "
                    f"({_TOKEN_HINT})")
        if not isinstance(token, str) or not raw_token(token):
            raise ProviderError("no Unleash token configured", _TOKEN_HINT)
        token = raw_token(token)
        problem = _token_problem(token)
        if problem:
            raise ProviderError(f"the Unleash token ({source}) {problem}",
                                "copy the token again from Unleash")
        return cls(account, str(base_url), token)

    @classmethod
    def check_secret(cls, value: str) -> str:
        """The token to keep in the keyring: ``value`` trimmed, a pasted ``Bearer `` gone;
        :class:`ProviderError` if empty or unfit for an HTTP header."""
        token = raw_token(value)
        if not token:
            raise ProviderError("the Unleash token is empty", _TOKEN_HINT)
        problem = _token_problem(token)
        if problem:
            raise ProviderError(f"the Unleash token {problem}",
                                "copy the token again from Unleash")
        return token

    def cache_key(self) -> str:
        """``unleash:<instance URL>`` — identifies the remote instance, no secrets."""
        return f"unleash:{self.base_url.strip().rstrip('/')}"

    @property
    def invoices_url(self) -> str:
        """``{base_url}/api/admin/invoices/list`` (path prefix kept, trailing slash handled)."""
        return _http.join_url(self.base_url, INVOICES_PATH)

    async def fetch(
        self,
        client: httpx.AsyncClient,
        options: FetchOptions,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """All invoices (one request, no pagination) and the plan price."""
        result = await self._list(client, options)
        if progress is not None:
            progress(FetchProgress(invoices=len(result.invoices), pages=1,
                                   total_invoices=len(result.invoices), total_pages=1,
                                   page=result.invoices))
        return result

    async def first_page(self, client: httpx.AsyncClient, options: FetchOptions) -> FirstPage:
        """The list's one answer: Unleash does not page, so it is the whole list."""
        result = await self._list(client, options)
        return FirstPage(result.invoices, whole=True)

    async def _list(self, client: httpx.AsyncClient, options: FetchOptions) -> FetchResult:
        secrets = (self._token,)

        def handle(response: httpx.Response) -> FetchResult:
            error = status_error(response, secrets)
            if error is not None:
                raise error
            return parse_invoices(self.account, _http.decode_json(response, SERVICE))

        result: FetchResult = await _http.request(
            client, "GET", self.invoices_url, service=SERVICE, options=options,
            policy=self.retry, handle=handle, headers={"Authorization": self._token},
            secrets=secrets,
        )
        return result

    async def download_pdf(
        self, client: httpx.AsyncClient, options: FetchOptions, invoice: Invoice
    ) -> bytes:
        """GET the invoice's ``invoicePDF`` link (https, or loopback); the token is not sent."""
        if not invoice.pdf_url:
            raise NoPdf(f"Unleash has no PDF link for invoice {invoice.title}",
                                "open the invoice URL instead")
        problem = _http.check_base_url(invoice.pdf_url, allow_query=True)
        if problem:
            raise ProviderError(f"refusing to download the PDF of {invoice.title}: link {problem}",
                                "open the invoice URL in a browser instead")

        def handle(response: httpx.Response) -> bytes:
            transient = _http.transient_status_error(response, SERVICE)
            if transient is not None:
                raise transient
            if response.status_code != 200:
                raise ProviderError(f"the PDF link of {invoice.title} answered HTTP "
                                    f"{response.status_code}", "the link may have expired; "
                                    "refresh the account and try again")
            return response.content

        # The link points at the billing provider (e.g. Stripe), so no Unleash token goes along;
        # such hosts may redirect to the file, so a few hops to https URLs are followed.
        pdf: bytes = await _http.request(
            client, "GET", invoice.pdf_url, service=SERVICE, options=options,
            policy=self.retry, handle=handle, redirects=PDF_REDIRECTS,
            redirect_hint="the PDF link leads somewhere unexpected; open the invoice URL "
                          "in a browser instead",
        )
        return pdf


PROVIDER = UnleashProvider
