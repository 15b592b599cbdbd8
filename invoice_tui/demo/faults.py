"""Injected faults: what can go wrong between the app and a provider, on demand."""

from __future__ import annotations

from dataclasses import dataclass, fields

FAULT_KINDS = ("http_status", "vox_error", "html", "malformed_json", "slow", "drop", "huge")

#: The positional argument after the kind in a text spec (``http_status:429``).
_POSITIONAL = {"http_status": "status", "vox_error": "code", "slow": "seconds", "huge": "size_mb"}
_INT_FIELDS = ("times", "code", "status")
_FLOAT_FIELDS = ("retry_after", "seconds", "size_mb")
#: The largest body a ``huge`` fault sends (it is built in memory).
MAX_HUGE_MB = 1024.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault.

    ``kind``: ``http_status`` (answer with ``status``, default 503, and a
    ``Retry-After`` header when ``retry_after`` is set), ``vox_error`` (HTTP 200
    with a Voximplant error object of ``code``; Voximplant requests only),
    ``html`` (HTTP 200 with an HTML page, like a captive proxy), ``malformed_json``
    (the real answer, truncated), ``slow`` (wait ``seconds`` then answer), ``drop``
    (close the connection without answering), ``huge`` (HTTP 200 with a body of
    ``size_mb`` MB that starts like a PDF: a download past any sane size limit).
    ``account`` limits it to one demo account or instance (``None``: any);
    ``invoice`` to the PDF download of one invoice (Voximplant ``DownloadInvoice``
    with that ``invoice_id``, or the Unleash ``invoicePDF`` link ``/invoices/ID.pdf``),
    so one invoice of a bulk download fails while the rest, and the sync, work;
    ``times`` is how many matching requests it hits before it is used up
    (``-1``: forever).
    """

    kind: str
    account: str | None = None
    times: int = 1
    retry_after: float | None = None
    code: int | None = None
    status: int | None = None
    seconds: float = 5.0
    invoice: str | None = None
    size_mb: float = 80.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if self.times == 0 or self.times < -1:
            raise ValueError("times must be a positive count or -1 (forever)")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status code")
        if not 0 <= self.seconds <= 3600:
            raise ValueError("seconds must be between 0 and 3600")
        if not 0 < self.size_mb <= MAX_HUGE_MB:
            raise ValueError(f"size_mb must be more than 0 and at most {MAX_HUGE_MB:g}")
        if self.retry_after is not None and not 0 <= self.retry_after <= 86400:
            raise ValueError("retry_after must be between 0 and 86400 seconds")


def parse_fault(spec: str) -> Fault:
    """A :class:`Fault` from text like ``http_status:429:retry_after=1:times=2``.

    The first field is the kind; an optional bare second field is the kind's main
    value (``status`` for http_status, ``code`` for vox_error, ``seconds`` for
    slow, ``size_mb`` for huge); the rest are ``name=value`` for ``account``,
    ``invoice``, ``times``, ``retry_after``, ``code``, ``status``, ``seconds``,
    ``size_mb``. Raises ``ValueError`` with a one-line explanation on a bad spec.
    """
    parts = [part.strip() for part in spec.strip().split(":")]
    kind = parts[0]
    if kind not in FAULT_KINDS:
        raise ValueError(
            f"bad fault {spec!r}: unknown kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
    names = {f.name for f in fields(Fault)} - {"kind"}
    values: dict[str, str] = {}
    for position, part in enumerate(parts[1:]):
        if "=" in part:
            name, _, value = part.partition("=")
        elif position == 0 and kind in _POSITIONAL:
            name, value = _POSITIONAL[kind], part
        else:
            raise ValueError(f"bad fault {spec!r}: expected name=value, got {part!r}")
        name = name.strip()
        if name not in names:
            raise ValueError(
                f"bad fault {spec!r}: unknown setting {name!r}; use {', '.join(sorted(names))}")
        if name in values:
            raise ValueError(f"bad fault {spec!r}: {name} given twice")
        values[name] = value.strip()
    kwargs: dict[str, object] = {}
    for name, value in values.items():
        try:
            if name in _INT_FIELDS:
                kwargs[name] = int(value)
            elif name in _FLOAT_FIELDS:
                kwargs[name] = float(value)
            else:
                kwargs[name] = value or None
        except ValueError:
            raise ValueError(
                f"bad fault {spec!r}: {name} must be a number, not {value!r}") from None
    if kind == "vox_error" and "code" not in kwargs:
        raise ValueError(f"bad fault {spec!r}: vox_error needs a code, e.g. vox_error:162")
    try:
        return Fault(kind, **kwargs)  # type: ignore[arg-type]
    except ValueError as error:
        raise ValueError(f"bad fault {spec!r}: {error}") from None
