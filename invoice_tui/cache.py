"""The local invoice cache (SPEC §3): per account, atomic, versioned; corrupt → warning.

One file per account, named after a hash of the account's identity (name,
provider, base URL or key-file path: never a secret). A cache can only ever
cost a refetch: a file of another version is ignored silently, an unreadable
one with a warning, and a failed save never raises.

File format, version 2 — JSON Lines, ASCII (non-ASCII text is ``\\u``-escaped,
so any string, even a lone surrogate, round-trips exactly):

* line 1, the header: ``{"version": 2, "account", "provider", "synced_at",
  "summary", "count", "layout"}``. ``count`` is the number of invoice lines that
  follow (a file cut at a line boundary is caught by it); ``layout`` names the
  positions below, so a model that gained a field reads an old file as "another
  version" instead of misplacing values.
* then one invoice per line, a JSON array of the :class:`~invoice_tui.model.Invoice`
  fields in dataclass order; ``account`` and ``provider`` are ``null`` when they
  equal the header's. The last element is the list of lines, each an array of
  the :class:`~invoice_tui.model.Line` fields in order, its last element the
  list of taxes, each an array of the :class:`~invoice_tui.model.Tax` fields.
  Amounts are JSON **numbers** written with ``str(Decimal)`` and read back with
  ``parse_float=parse_int=Decimal``, so the exact digits and exponent survive;
  dates are ``"YYYY-MM-DD"``, absent values ``null``.

Why this shape: version 1 was one JSON document, parsed in a single C call that
held the GIL for seconds at 100 000 invoices (the UI froze while a thread read
it). Record by record, the interpreter hands the GIL to other threads between
records. Positional arrays skip the key names on disk and let the loader build
each object with one constructor call after one C-level type check of the whole
record (``all(map(contains, allowed, map(type, record)))``); anything that does
not fit — a truncated file, a garbage line, a wrong type — makes the whole file
ignored with one warning line, never half a cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from operator import attrgetter, call, contains
from pathlib import Path
from typing import Any, BinaryIO

from .config import AccountConfig, Config
from .fs import remove_stale_temp_files, write_atomic
from .model import AccountSummary, Invoice, Line, Tax

log = logging.getLogger(__name__)

CACHE_VERSION = 2
_CHUNK_INVOICES = 500  # invoices per write when saving
_HEADER_LIMIT = 1 << 16  # characters: a header is small; a longer first line is not ours
# Any cache file starts like this (version 1 too), so another version is recognised
# from the first bytes instead of parsing a 200 MB version-1 document to find out.
_VERSION_PREFIX = re.compile(r'\{"version": (\d+)[,}]')


@dataclass(frozen=True, slots=True)
class CachedAccount:
    """What the last successful sync of one account produced."""

    invoices: tuple[Invoice, ...]
    synced_at: dt.datetime  # timezone-aware UTC
    summary: AccountSummary = AccountSummary()


@dataclass
class InvoiceCache:
    """Cache files under ``directory``; ``warnings`` collects one line per ignored corrupt file."""

    directory: Path
    warnings: list[str] = field(default_factory=list)
    _swept: bool = field(default=False, init=False, repr=False, compare=False)

    def remove_stale_temp_files(self) -> None:
        """Once per instance: delete temp files killed saves left in the cache dir.

        Called by the first load or save, so a sync or a cache load starts clean
        even for files of accounts no longer configured (a save only cleans up
        after its own file).
        """
        if not self._swept:
            self._swept = True
            remove_stale_temp_files(self.directory)

    def path_for(self, account: AccountConfig) -> Path:
        """The cache file of ``account`` (it may not exist)."""
        return self.directory / cache_file_name(account)

    def load(self, account: AccountConfig) -> CachedAccount | None:
        """The cached sync of ``account``, or ``None`` (missing, other version, or corrupt)."""
        self.remove_stale_temp_files()
        path = self.path_for(account)
        try:
            with path.open("rb") as handle:
                return _read(handle, account)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ArithmeticError,
                RecursionError) as exc:  # ValueError covers UnicodeDecodeError and bad JSON
            self._ignored(account, path, _describe(exc))
            return None

    def save(self, account: AccountConfig, cached: CachedAccount) -> None:
        """Atomically replace the account's cache file. Never raises for I/O: warns instead."""
        self.remove_stale_temp_files()
        path = self.path_for(account)
        try:
            write_atomic(path, _cache_chunks(account, cached), 0o600)
        except OSError as exc:
            self._warn(f"cache: could not save {account.name!r} to {path} ({_describe(exc)})"
                       " — check the cache directory's permissions or free space")

    def load_all(self, config: Config) -> dict[str, CachedAccount]:
        """Every account of ``config`` that has a usable cache entry, by name."""
        found: dict[str, CachedAccount] = {}
        for account in config.accounts:
            cached = self.load(account)
            if cached is not None:
                found[account.name] = cached
        return found

    def _ignored(self, account: AccountConfig, path: Path, why: str) -> None:
        self._warn(f"cache: ignored unreadable cache of {account.name!r} at {path} ({why})"
                   " — it is rewritten on the next sync")

    def _warn(self, line: str) -> None:
        self.warnings.append(line)
        log.warning("%s", line)


# --- the record layout ----------------------------------------------------------

_INVOICE_FIELDS = tuple(f.name for f in fields(Invoice))
_LINE_FIELDS = tuple(f.name for f in fields(Line))
_TAX_FIELDS = tuple(f.name for f in fields(Tax))
_LAYOUT = {"invoice": list(_INVOICE_FIELDS), "line": list(_LINE_FIELDS),
           "tax": list(_TAX_FIELDS)}

_NONE = type(None)
_TEXT: frozenset[type] = frozenset({str})
_MAYBE_TEXT: frozenset[type] = frozenset({str, _NONE})
_MAYBE_AMOUNT: frozenset[type] = frozenset({Decimal, _NONE})
_LIST: frozenset[type] = frozenset({list})
_FLAG: frozenset[type] = frozenset({bool})
_BY_ANNOTATION = {  # dataclass annotations are strings (postponed evaluation)
    "str": _TEXT, "str | None": _MAYBE_TEXT, "Decimal | None": _MAYBE_AMOUNT, "bool": _FLAG,
    "dt.date | None": _MAYBE_TEXT,  # ISO text on disk
    "tuple[Line, ...]": _LIST, "tuple[Tax, ...]": _LIST,
}


def _allowed(cls: type) -> tuple[frozenset[type], ...]:
    """The JSON types each position of ``cls``'s record may hold."""
    return tuple(_BY_ANNOTATION[str(f.type)] for f in fields(cls))


_INVOICE_TYPES = (_MAYBE_TEXT, _MAYBE_TEXT, *_allowed(Invoice)[2:])  # null = the header's
_LINE_TYPES = _allowed(Line)
_TAX_TYPES = _allowed(Tax)
_INVOICE_WIDTH = len(_INVOICE_TYPES)
# Positions of the dates and of the nested list in each record.
_INVOICE_DATES = slice(_INVOICE_FIELDS.index("issued"), _INVOICE_FIELDS.index("period_end") + 1)
_LINE_DATES = slice(_LINE_FIELDS.index("period_start"), _LINE_FIELDS.index("period_end") + 1)
_LINES_AT, _TAXES_AT = _INVOICE_FIELDS.index("lines"), _LINE_FIELDS.index("taxes")
assert _INVOICE_FIELDS[:2] == ("account", "provider")
assert _INVOICE_FIELDS[_INVOICE_DATES] == ("issued", "due", "period_start", "period_end")
assert _LINE_FIELDS[_LINE_DATES] == ("period_start", "period_end")
assert _LINES_AT == len(_INVOICE_FIELDS) - 1 and _TAXES_AT == len(_LINE_FIELDS) - 1


# --- writing -----------------------------------------------------------------------

def _other_scalar(value: object) -> str:
    # Outside the model's types: stored as text, which the loader's type check
    # refuses, so the file is ignored with a warning rather than read wrongly.
    return encode_basestring_ascii(str(value))


class _Encoders(dict[type, Any]):
    def __missing__(self, key: type) -> Any:
        return _other_scalar


# type → C-level callable giving the JSON text. str(Decimal) is a valid JSON number
# for every finite amount (plain or with an exponent; an int amount reads back as an
# equal Decimal); dates are their ISO text.
_ENCODE = _Encoders({_NONE: "null".format, str: encode_basestring_ascii, Decimal: str,
                     int: str, dt.date: '"{}"'.format,
                     bool: {True: "true", False: "false"}.__getitem__})
_ENCODER_OF = _ENCODE.__getitem__
_INVOICE_VALUES = attrgetter(*_INVOICE_FIELDS)
_LINE_VALUES = attrgetter(*_LINE_FIELDS)
_TAX_VALUES = attrgetter(*_TAX_FIELDS)


def _scalars_json(values: Iterable[Any]) -> str:
    values = tuple(values)
    return ",".join(map(call, map(_ENCODER_OF, map(type, values)), values))


def _tax_record(tax: Tax) -> str:
    return f"[{_scalars_json(_TAX_VALUES(tax))}]"


def _line_record(line: Line) -> str:
    values = _LINE_VALUES(line)
    taxes = ",".join(map(_tax_record, values[-1]))
    return f"[{_scalars_json(values[:-1])},[{taxes}]]"


def _invoice_record(invoice: Invoice, account: str, provider: str) -> str:
    values = list(_INVOICE_VALUES(invoice))
    if values[0] == account:
        values[0] = None
    if values[1] == provider:
        values[1] = None
    lines = ",".join(map(_line_record, values.pop()))
    return f"[{_scalars_json(values)},[{lines}]]"


def _cache_chunks(account: AccountConfig, cached: CachedAccount) -> Iterator[bytes]:
    """The cache file, streamed: the header line, then invoice lines in batches."""
    header = json.dumps({
        "version": CACHE_VERSION,
        "account": account.name,
        "provider": account.provider,
        "synced_at": cached.synced_at.astimezone(dt.UTC).isoformat(),
        "summary": _summary_to_dict(cached.summary),
        "count": len(cached.invoices),
        "layout": _LAYOUT,
    })
    yield (header + "\n").encode("ascii")
    invoices = cached.invoices
    for start in range(0, len(invoices), _CHUNK_INVOICES):
        batch = [_invoice_record(invoice, account.name, account.provider)
                 for invoice in invoices[start:start + _CHUNK_INVOICES]]
        batch.append("")  # so the batch ends with a newline
        yield "\n".join(batch).encode("ascii")


# --- reading -----------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not an amount")


# Amounts become Decimal straight from their digits inside the C scanner.
_decode_record = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal,
                                  parse_constant=_reject_constant).decode


class _Dates(dict[Any, Any]):
    """ISO text → date, each distinct date parsed once (and shared: it is immutable)."""

    def __missing__(self, key: str) -> dt.date:
        value = self[key] = dt.date.fromisoformat(key)
        return value


def _signatures(allowed: tuple[frozenset[type], ...]) -> frozenset[tuple[type, ...]]:
    """Every tuple of types a record may have (for the small records: at most 2**12)."""
    return frozenset(itertools.product(*allowed))


# A record is valid iff the tuple of its element types is one of these: one C-level
# pass and one set lookup, no per-field Python code.
_TAX_SIGNATURES = _signatures(_TAX_TYPES)
_LINE_SIGNATURES = _signatures(_LINE_TYPES)


def _tax_from_record(record: Any) -> Tax:
    if type(record) is not list or tuple(map(type, record)) not in _TAX_SIGNATURES:
        raise ValueError("a tax record does not match the layout")
    return Tax(*record)


class _Reader:
    """Builds model objects from records; one per file (it holds the date memo)."""

    def __init__(self, account: str, provider: str) -> None:
        self.account, self.provider = account, provider
        self.dates = _Dates({None: None})
        self.date_of = self.dates.__getitem__

    def line(self, record: Any) -> Line:
        if type(record) is not list or tuple(map(type, record)) not in _LINE_SIGNATURES:
            raise ValueError("a line record does not match the layout")
        record[_LINE_DATES] = map(self.date_of, record[_LINE_DATES])
        record[_TAXES_AT] = tuple(map(_tax_from_record, record[_TAXES_AT]))
        return Line(*record)

    def invoice(self, text: str) -> Invoice:
        record = _decode_record(text)
        # Too many combinations for a signature set: one C-level pass over the types.
        if (type(record) is not list or len(record) != _INVOICE_WIDTH
                or not all(map(contains, _INVOICE_TYPES, map(type, record)))):
            raise ValueError("an invoice record does not match the layout")
        if record[0] is None:
            record[0] = self.account
        if record[1] is None:
            record[1] = self.provider
        record[_INVOICE_DATES] = map(self.date_of, record[_INVOICE_DATES])
        record[_LINES_AT] = tuple(map(self.line, record[_LINES_AT]))
        return Invoice(*record)


def _lines(data: bytes) -> Iterator[str]:
    """The lines of ``data`` (without the final newline's empty tail), decoded one by one."""
    start, size = 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        yield data[start:end].decode("utf-8")
        start = end + 1


def _read(handle: BinaryIO, account: AccountConfig) -> CachedAccount | None:
    """Parse an open cache file; ``None`` for another version or account, raises if corrupt."""
    # Bounded: a version-1 file is one 200 MB line, and only its first bytes matter.
    first = handle.readline(_HEADER_LIMIT).decode("utf-8")
    prefix = _VERSION_PREFIX.match(first)
    if prefix and int(prefix.group(1)) != CACHE_VERSION:
        return None  # another release's format: refetching is the migration
    header = json.loads(first)  # a first line cut at the limit is not JSON: corrupt
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    if header.get("version") != CACHE_VERSION:
        return None
    if header.get("account") != account.name:
        return None  # not this account's file (renamed account)
    if header["layout"] != _LAYOUT:
        return None  # written before the model gained or lost a field: another version
    synced_at = dt.datetime.fromisoformat(str(header["synced_at"]))
    if synced_at.tzinfo is None:
        synced_at = synced_at.replace(tzinfo=dt.UTC)
    summary = _summary_from_dict(header.get("summary") or {})
    count, provider = header["count"], header["provider"]
    if type(count) is not int or count < 0 or type(provider) is not str:
        raise ValueError("bad count or provider in the header")
    # All at once, not line by line from the file: every buffered read releases and
    # retakes the GIL, and that steady stream of switches starves a waiting thread
    # (the UI) for the whole load. From memory, one record per call, the interpreter
    # hands the GIL over between records when another thread asks for it.
    data = handle.read()
    invoices = tuple(map(_Reader(account.name, provider).invoice, _lines(data)))
    if len(invoices) != count:
        raise ValueError(f"{len(invoices)} of {count} invoices (truncated file?)")
    return CachedAccount(invoices=invoices, synced_at=synced_at, summary=summary)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def cache_file_name(account: AccountConfig) -> str:
    """File name for ``account``: a readable slug plus a hash of its (secret-free) identity."""
    identity = "\0".join([
        account.name,
        account.provider,
        str(account.options.get("base_url") or ""),
        str(account.options.get("credentials") or ""),
    ])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    slug = _UNSAFE.sub("_", account.name).strip("._")[:40] or "account"
    return f"{slug}-{digest}.json"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    text = text[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _summary_to_dict(summary: AccountSummary) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in fields(summary):
        value = getattr(summary, item.name)
        out[item.name] = None if value is None else (
            f"{value:f}" if isinstance(value, Decimal) else str(value))
    return out


def _summary_from_dict(data: object) -> AccountSummary:
    if not isinstance(data, dict):
        raise ValueError("summary is not an object")
    values: dict[str, Any] = {}
    for item in fields(AccountSummary):
        value = data.get(item.name)
        if value is None:
            continue
        # Field annotations are strings here (postponed evaluation).
        is_amount = "Decimal" in str(item.type)
        values[item.name] = Decimal(str(value)) if is_amount else str(value)
    return AccountSummary(**values)
