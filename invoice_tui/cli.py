"""Command line (SPEC §4): the TUI (default), ``export``, ``pdfs``, ``check``, ``secret`` and
``demo-server``.

Exit codes: 0 success, 1 some accounts failed (the rest still exported) or an
internal error, 2 usage or config errors, 130 interrupted (Ctrl-C), 141 output
pipe closed. Every failure is one stderr line starting ``invoice-tui:``; never a
traceback (``-v`` logs details at debug level).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, TextIO

from . import __version__, check, gc_policy, pdfs
from . import export as exports
from . import sync as syncs
from .config import (
    AccountConfig,
    Config,
    ConfigError,
    ConfigMissing,
    cache_dir,
    config_path,
    did_you_mean,
    load_config,
)
from .config_edit import REMOVE, update_account
from .fs import OutputRefused, output_problem, write_output
from .keyring_store import SERVICE as KEYRING_SERVICE
from .keyring_store import delete_secret, keyring_problem, set_secret
from .model import FORMATS, Invoice
from .providers import provider_class
from .providers.base import KeyringSecret, Provider, ProviderError
from .store import InvoiceStore, StoreError, open_store
from .text import sanitize

PROG = "invoice-tui"
log = logging.getLogger(__name__)


class UsageError(Exception):
    """A command-line mistake found after parsing (exit 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    with contextlib.ExitStack() as cleanup:
        try:
            try:
                args = parse_args(sys.argv[1:] if argv is None else list(argv))
            except SystemExit as exc:  # --help/--version (0) and usage errors (2)
                return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            cleanup.enter_context(_logging(args.verbose))
            return int(args.run(args))
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            _silence_stdout()
            return 141
        except Exception as exc:  # a bug: still one line, never a traceback
            log.debug("unexpected error", exc_info=True)
            _say(f"internal error: {type(exc).__name__} — please report this bug "
                 "(run with -v to log the details)")
            return 1


# --- argument parsing ------------------------------------------------------------

def _month(text: str, *, end: bool = False) -> tuple[int, int]:
    try:
        return exports.parse_month_bound(text, end=end)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _since(text: str) -> tuple[int, int]:
    return _month(text)  # a year: its January


def _until(text: str) -> tuple[int, int]:
    return _month(text, end=True)  # a year: its December


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _fault(text: str) -> object:
    from .demo import parse_fault

    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _global_options(*, suppress: bool) -> argparse.ArgumentParser:
    # The same options on the main parser and on each command, so they work on
    # either side of the command name; SUPPRESS keeps a command's unset copy
    # from overwriting a value given before the command.
    default = argparse.SUPPRESS if suppress else None
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="PATH", default=default,
                        help="config file (default: $INVOICE_TUI_CONFIG or the platform's "
                             "config dir)")
    parent.add_argument("--cache-dir", metavar="DIR", default=default,
                        help="where the invoice store lives (default: $INVOICE_TUI_CACHE_DIR "
                             "or the platform's cache dir)")
    parent.add_argument("-v", "--verbose", action="store_true",
                        default=argparse.SUPPRESS if suppress else False,
                        help="debug logging on stderr (never secrets)")
    return parent


class _NotForTheTui(Exception):
    """What :func:`parse_args`'s TUI-only parser raises instead of printing an error."""


class _TuiOnlyParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _NotForTheTui(message)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, parsed. A TUI start (options only, no command) is parsed without
    making every command's parser (~12 M instructions, ~1 % of the first frame's); with
    anything else, or when those options do not parse, the whole parser parses it and
    says what is wrong."""
    values = iter(argv)  # read by the loop, and by next() to skip an option's value
    tui_only = all(arg.startswith("-") and arg not in ("-h", "--help", "--")
                   and (arg not in ("--config", "--cache-dir") or next(values, None) is not None)
                   for arg in values)
    if tui_only:
        with contextlib.suppress(_NotForTheTui):
            return _main_parser(_TuiOnlyParser).parse_args(argv)
    return build_parser().parse_args(argv)


def _main_parser(kind: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The parser of what comes before a command (the TUI's options)."""
    parser = kind(
        prog=PROG, parents=[_global_options(suppress=False)],
        description="A keyboard-driven terminal billing explorer (Voximplant, Unleash). "
                    "Without a command it opens the TUI.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open the TUI on the built-in emulator (writes nothing of yours)")
    parser.set_defaults(run=_run_tui)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every command."""
    parser = _main_parser(argparse.ArgumentParser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    export = commands.add_parser(
        "export", parents=[_global_options(suppress=True)],
        help="fetch (or read the store) and print normalized invoices",
        description="Fetch every account (or read the local store with --offline) and print its "
                    "invoices. Exit 0 when all accounts succeeded, 1 when some failed "
                    "(the rest are still exported), 2 on usage or config errors.")
    export.add_argument("--format", choices=FORMATS, default="json")
    export.add_argument("--lines", action="store_true",
                        help="CSV: one row per line item instead of per invoice")
    _account_option(export)
    _period_options(export)
    export.add_argument("--offline", action="store_true",
                        help="read the local invoice store instead of fetching")
    export.add_argument("--output", metavar="FILE",
                        help="write here instead of stdout: a file is replaced atomically "
                             "(mode 0600), a FIFO or device is written to, - is stdout")
    export.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                        help="export from the built-in emulator (writes nothing of yours)")
    export.set_defaults(run=_run_export)

    _pdfs_parser(commands)
    _check_parser(commands)
    _secret_parser(commands)

    demo = commands.add_parser(
        "demo-server", parents=[_global_options(suppress=True)],
        help="run the built-in emulator of both provider APIs on loopback",
        description="Run the emulator standalone until Ctrl-C.")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=_positive_int, default=0,
                      help="port to listen on (default: any free port)")
    demo.add_argument("--latency-ms", type=_positive_int, default=0,
                      help="added latency per request")
    demo.add_argument("--invoice-count", type=_positive_int, default=None,
                      help="invoices of each demo Voximplant account (e.g. 100000)")
    demo.add_argument("--count-cap", type=_positive_int, default=None,
                      help="largest page the Voximplant emulator returns")
    demo.add_argument("--fault", type=_fault, action="append", default=[], metavar="SPEC",
                      help="inject a fault (repeatable)")
    demo.add_argument("--write-config", metavar="PATH",
                      help="write a config for the demo accounts here")
    demo.set_defaults(run=_run_demo_server)
    return parser


def _account_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", action="append", metavar="NAME", default=[],
                        help="only this account (repeatable)")


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_since, metavar="YYYY-MM",
                        help="issued in or after this month (a year YYYY: its January)")
    parser.add_argument("--until", type=_until, metavar="YYYY-MM",
                        help="issued in or before this month (a year YYYY: its December)")


def _pdfs_parser(commands: Any) -> None:
    pdfs = commands.add_parser(
        "pdfs", parents=[_global_options(suppress=True)],
        help="download every invoice's PDF into a folder",
        description="Fetch every account (or read the local store with --offline) and download "
                    "each invoice's PDF to DIR/<account>/<YYYY-MM>-<number or label>.pdf (mode "
                    "0600, written atomically). Neither API gives a PDF's size beforehand, so "
                    "each PDF is downloaded: a file already there with the same size is left "
                    "untouched, one of another size is replaced. Estimates, the upcoming invoice "
                    "and invoices without a PDF are skipped and counted. Exit 0 when all went "
                    "well, 1 when some failed (one line each on stderr), 2 on usage or config "
                    "errors.")
    _account_option(pdfs)
    _period_options(pdfs)
    pdfs.add_argument("--output", metavar="DIR",
                      help="the folder to fill (default: [settings] downloads, else the "
                           "platform's downloads folder)")
    pdfs.add_argument("--offline", action="store_true",
                      help="take the invoices from the local store instead of syncing first")
    pdfs.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                      help="download from the built-in emulator (writes nothing of yours but "
                           "the PDFs)")
    pdfs.set_defaults(run=_run_pdfs)


def _check_parser(commands: Any) -> None:
    check = commands.add_parser(
        "check", parents=[_global_options(suppress=True)],
        help="test each account: one request for the first page of its invoices",
        description="Ask each account (all at once, each within [settings] timeout) for the "
                    "first page of its invoice list and print one line per account: "
                    "'✓ NAME  N invoices reachable' or '✗ NAME  reason — hint'. No sync: "
                    "nothing is written to the store, the cache dir or the config. Exit 0 "
                    "when every account passed, 1 when some failed, 2 on usage or config "
                    "errors.")
    _account_option(check)
    check.add_argument("--json", action="store_true",
                       help="print a JSON array, one object per account, for scripts")
    check.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                       help="check the built-in emulator's accounts (writes nothing of yours)")
    check.set_defaults(run=_run_check)


# --- helpers -----------------------------------------------------------------------

def _say(line: str, stream: TextIO | None = None) -> None:
    # Lines quote server text, file names and config values: sanitized, so one line
    # and no escape sequence reaches the terminal, whoever built the message.
    print(f"{PROG}: {sanitize(line)}", file=stream or sys.stderr)


@contextlib.contextmanager
def _logging(verbose: bool) -> Iterator[None]:
    package = logging.getLogger("invoice_tui")
    if not any(isinstance(h, logging.NullHandler) for h in package.handlers):
        # Library warnings (e.g. an ignored cache file) are reported by the
        # commands themselves; keep logging's last-resort printer quiet.
        package.addHandler(logging.NullHandler())
    if not verbose:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root, httpcore = logging.getLogger(), logging.getLogger("httpcore")
    levels = root.level, httpcore.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # httpcore's trace lines add nothing for users (and headers are never logged).
    httpcore.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        httpcore.setLevel(levels[1])


def _write_stdout(data: str | bytes) -> None:
    """Write ``data`` to stdout as UTF-8 (exports are UTF-8 whatever the locale), completely;
    bytes are UTF-8 that ends at a character's end.

    Under ``python -u``/``PYTHONUNBUFFERED`` the text layer sits on a raw file
    and drops the rest of a partial write silently; looping on the byte stream
    makes a closed pipe an ``EPIPE`` instead of a quietly truncated export.
    """
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # a replaced stdout without a byte layer
        sys.stdout.write(data if isinstance(data, str) else data.decode("utf-8"))
        sys.stdout.flush()
        return
    sys.stdout.flush()
    view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
    while view:
        written = stream.write(view)
        view = view[written if written is not None else 0:]
    stream.flush()


def _silence_stdout() -> None:
    # After EPIPE, the interpreter's final flush of stdout would fail again.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _Source(NamedTuple):
    config: Config
    store: InvoiceStore
    warnings: tuple[str, ...] = ()  # from opening the store


@contextlib.contextmanager
def _open_source(args: argparse.Namespace) -> Iterator[_Source]:
    """The config and store to export from: the user's, or a throwaway demo."""
    if args.demo:
        from .demo import demo_environment

        with demo_environment() as demo:
            yield _Source(demo.config, demo.store)
        return
    path = config_path(args.config)
    config = load_config(path)
    opened = open_store(cache_dir(args.cache_dir))
    with opened.store:
        yield _Source(config, opened.store, opened.warnings)


def _collect(source: _Source, names: list[str], args: argparse.Namespace
             ) -> tuple[Iterable[Invoice], list[tuple[str, ProviderError]], list[str]]:
    """The invoices in export order, the failed accounts, one warning line per non-fatal problem.

    Offline, the invoices stream from the store as they are rendered (flat memory for
    any number); online they are the fetch's own, which the sync stores meanwhile.
    """
    failures: list[tuple[str, ProviderError]] = []
    warnings: list[str] = []
    if args.offline:
        accounts = [source.config.account(name) for name in names]
        states = source.store.account_states(accounts)
        for account in accounts:
            if not states[account.name].synced:
                failures.append((account.name,
                                 ProviderError("never synced", "run without --offline")))
        ready = [account for account in accounts if states[account.name].synced]
        return (source.store.iter_invoices(ready, since=args.since, until=args.until),
                failures, warnings)
    outcomes: dict[str, syncs.SyncOutcome] = {}

    async def fetch() -> None:
        # Returns nothing on purpose: Python 3.11's asyncio.run reprs the main task
        # (and so its result) when it restores the SIGINT handler, which costs
        # seconds and a huge string for 100 000 invoices.
        outcomes.update(await syncs.sync_all(source.config, names, store=source.store,
                                             offload=True))

    # The store is written by forked children meanwhile, which needs this process to
    # hold no connection (see forked); the next read opens one again.
    source.store.close_readers()

    asyncio.run(fetch())
    invoices: list[Invoice] = []
    for name, outcome in outcomes.items():
        if isinstance(outcome, syncs.SyncFailed):
            failures.append((name, outcome.error))
        else:
            invoices.extend(outcome.invoices)
            warnings.extend(f"{name}: {line}" for line in outcome.warnings)
    return (exports.sort_for_export(exports.filter_by_month(invoices, args.since, args.until)),
            failures, warnings)


def _write_export(args: argparse.Namespace, output: Path | None,
                  invoices: Iterable[Invoice]) -> int | None:
    """Render and write the export; an exit code when it could not be written."""
    chunks = exports.iter_encoded(invoices, args.format, args.lines)
    if output is None:
        for chunk in chunks:
            _write_stdout(chunk)
        return None
    try:
        write_output(output, chunks, 0o600)
    except OutputRefused as exc:
        _say(f"--output {args.output} {exc}")
        return 2
    except OSError as exc:
        _say(f"cannot write {args.output} ({exc.strerror or type(exc).__name__}) "
             "— check the path and its permissions")
        return 2
    return None


def _account_names(config: Config, wanted: list[str], command: str) -> list[str] | None:
    """The accounts a command works on (``--account``, else all); ``None`` after saying
    why there are none to work on (a usage error)."""
    known = config.account_names
    if not known:
        where = config.path or "the config"
        _say(f"no accounts in {where} — add an [[accounts]] table "
             f"(see README.md), or try `invoice-tui {command} --demo`")
        return None
    unknown = [name for name in wanted if name not in known]
    if unknown:
        _say(_unknown_account(unknown[0], known))
        return None
    return list(dict.fromkeys(wanted)) or known


def _unknown_account(name: str, known: list[str]) -> str:
    return (f"unknown account {name!r}{did_you_mean(name, known)} — known accounts: "
            f"{', '.join(known) or '(none configured)'}")


def _config_problem(exc: ConfigError | StoreError, command: str) -> int:
    """Say what is wrong with the config or the store; the exit code (2 or 1)."""
    if isinstance(exc, ConfigMissing):
        _say(f"no config at {exc.path} — run `invoice-tui` to create one, "
             f"or try `invoice-tui {command} --demo`")
        return 2
    if isinstance(exc, StoreError):
        _say(f"store: {exc}")
        return 1
    first, *rest = str(exc).splitlines()
    _say(first)
    for line in rest:
        print(f"  {sanitize(line)}", file=sys.stderr)  # may quote the file
    return 2


# --- commands --------------------------------------------------------------------

def _usage_problem(args: argparse.Namespace, command: str) -> bool:
    """Options that contradict each other (said on stderr); ``True`` when there are any."""
    if args.offline and args.demo:
        # The demo's store is a throwaway one: reading it offline gives nothing.
        _say(f"--offline reads your own invoice store, and --demo uses a throwaway one that "
             f"holds nothing yet — drop --offline to {command} the demo's invoices")
        return True
    if args.since and args.until and args.since > args.until:
        _say("--since is after --until — swap them")
        return True
    return False


def _run_export(args: argparse.Namespace) -> int:
    if args.lines and args.format != "csv":
        _say("--lines only applies to --format csv")
        return 2
    if _usage_problem(args, "export"):
        return 2
    output = (Path(os.path.expanduser(args.output))
              if args.output and args.output != "-" else None)
    problem = output_problem(output) if output is not None else None
    if problem is not None:
        # Checked before fetching: finding out after a long fetch wastes it.
        _say(f"--output {args.output} {problem}")
        return 2
    try:
        with _open_source(args) as source:
            names = _account_names(source.config, args.account, "export")
            if names is None:
                return 2
            with gc_policy.paused():  # a batch holding every invoice: see gc_policy
                invoices, failures, warnings = _collect(source, names, args)
                warnings[:0] = [*source.config.warnings, *source.warnings]
                # Inside the with: an offline export streams from the open store.
                code = _write_export(args, output, invoices)
                # Freed before the collector is back: else its first pass would scan
                # every object of every invoice once more (~2 s for 100 000).
                del invoices
            if code is not None:
                return code
    except (ConfigError, StoreError) as exc:
        return _config_problem(exc, "export")
    for line in warnings:
        _say(line)
    for name, error in failures:
        _say(f"{name}: {error}")
    return 1 if failures else 0


def _run_pdfs(args: argparse.Namespace) -> int:
    if _usage_problem(args, "download"):
        return 2
    try:
        with _open_source(args) as source:
            names = _account_names(source.config, args.account, "pdfs")
            if names is None:
                return 2
            folder = _pdfs_folder(args, source.config)
            if folder is None:
                return 2
            invoices, failures, warnings = _collect(source, names, args)
            warnings[:0] = [*source.config.warnings, *source.warnings]
            for line in warnings:
                _say(line)
            with _ProgressBar(sys.stderr) as progress:
                summary = asyncio.run(pdfs.download_pdfs(source.config, invoices, folder,
                                                    on_progress=progress.show))
    except (ConfigError, StoreError) as exc:
        return _config_problem(exc, "pdfs")
    for name, error in failures:
        _say(f"{name}: {error}")
    for failure in summary.failures:
        _say(str(failure))
    print(f"{summary.line()} — in {sanitize(str(folder))}")
    return 1 if failures or summary.failures else 0


@contextlib.contextmanager
def _check_config(args: argparse.Namespace) -> Iterator[Config]:
    """The config to check: the user's (read only: no store is opened), or the demo's."""
    if getattr(args, "demo", False):
        from .demo import demo_environment

        with demo_environment() as demo:
            yield demo.config
        return
    yield load_config(config_path(args.config))


def _run_check(args: argparse.Namespace) -> int:
    try:
        with _check_config(args) as config:
            names = _account_names(config, args.account, "check")
            if names is None:
                return 2
            for line in config.warnings:
                _say(line)
            results = asyncio.run(check.check_all(config, names))
    except ConfigError as exc:
        return _config_problem(exc, "check")
    if args.json:
        _write_stdout(json.dumps([result.to_json() for result in results], indent=2,
                                 ensure_ascii=False) + "\n")
    else:
        width = max((len(result.name) for result in results), default=0)
        _write_stdout("".join(f"{result.line(width)}\n" for result in results))
    return 0 if all(result.ok for result in results) else 1


def _pdfs_folder(args: argparse.Namespace, config: Config) -> Path | None:
    """The absolute folder ``pdfs`` fills (``--output``, else the downloads folder);
    ``None`` after saying why it cannot be used."""
    if args.output:
        folder = Path(os.path.expanduser(args.output)).absolute()
    else:
        folder = config.settings.downloads_dir()
        if not folder.is_absolute():  # relative to the cwd, which is not a downloads folder
            _say(f"the downloads folder {folder} is not an absolute path — set [settings] "
                 'downloads to a full path, e.g. "~/Downloads", or give --output DIR')
            return None
    if folder.exists() and not folder.is_dir():
        # Checked before syncing: finding out after a long fetch wastes it.
        _say(f"{folder} is not a folder — give --output a folder (it is made if missing)")
        return None
    return folder


class _ProgressBar:
    """``PDFs [#####-----] 12/40`` redrawn in place on a terminal's stderr; silent when
    stderr is not a terminal (piped, in a log). Plain text: no Textual here."""

    INTERVAL = 0.1  # seconds between redraws: a fast run does not flood the terminal

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.shown = 0.0
        self.drawn = False

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.drawn:  # the summary and failure lines start on a clean line
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def show(self, summary: pdfs.PdfSummary) -> None:
        """Redraw for ``summary`` (at most every ``INTERVAL`` seconds, and at the end)."""
        now = time.monotonic()
        if not self.enabled or (now - self.shown < self.INTERVAL
                                and summary.done < summary.total):
            return
        self.shown, self.drawn = now, True
        width = max(10, min(40, shutil.get_terminal_size().columns - 40))
        filled = width * summary.done // max(1, summary.total)
        failed = f", {summary.failed} failed" if summary.failed else ""
        self.stream.write(f"\rPDFs [{'#' * filled}{'-' * (width - filled)}] "
                          f"{summary.done}/{summary.total}{failed}\x1b[K")
        self.stream.flush()


# --- secret set|delete ------------------------------------------------------------------

def _secret_parser(commands: Any) -> None:
    where = (f"Secrets live in the OS keyring under the service name {KEYRING_SERVICE!r} with "
             "the account's name as the username; the backend is keyring's usual choice "
             "(PYTHON_KEYRING_BACKEND, keyringrc, else the platform's).")
    secret = commands.add_parser(
        "secret", parents=[_global_options(suppress=True)],
        help="keep an account's token or key file in the OS keyring, not in the config",
        description=where)
    actions = secret.add_subparsers(title="actions", metavar="ACTION", required=True)
    put = actions.add_parser(
        "set", parents=[_global_options(suppress=True)],
        help="store the account's Unleash token or Voximplant key-file JSON",
        description="Store the secret of account NAME in the OS keyring — Unleash: the token; "
                    "Voximplant: the service-account key file's JSON — read from stdin when it "
                    "is piped (invoice-tui secret set NAME < key.json), else at a hidden prompt. "
                    "It is checked first; then the account in the config says token_keyring = "
                    "true (or credentials_keyring = true) instead of token/token_env (or "
                    f"credentials), comments kept. {where} Exit 0 stored, 1 the keyring failed, "
                    "2 usage, config or an unusable secret.")
    put.add_argument("name", metavar="NAME", help="the account's name in the config")
    put.set_defaults(run=_run_secret_set)
    delete = actions.add_parser(
        "delete", parents=[_global_options(suppress=True)],
        help="remove the account's secret from the OS keyring",
        description="Remove the secret of account NAME from the OS keyring (the config is not "
                    "changed: the line says what it still needs). Exit 0 removed, 1 nothing "
                    "was stored or the keyring failed, 2 usage or config errors.")
    delete.add_argument("name", metavar="NAME", help="the account's name in the config")
    delete.set_defaults(run=_run_secret_delete)


class _SecretTarget(NamedTuple):
    path: Path
    account: AccountConfig
    provider: type[Provider]
    spec: KeyringSecret


def _secret_target(args: argparse.Namespace) -> _SecretTarget | int:
    """The config and keyring spec of account ``args.name``; an exit code after saying why
    there is none."""
    path = config_path(args.config)
    try:
        config = load_config(path)
    except ConfigMissing:
        _say(f"no config at {path} — run `invoice-tui` to create one and add the account")
        return 2
    except ConfigError as exc:
        return _config_problem(exc, "secret")
    try:
        account = config.account(args.name)
    except KeyError:
        _say(_unknown_account(args.name, config.account_names))
        return 2
    cls = provider_class(account.provider)
    spec = cls.keyring_secret if cls is not None else None
    if cls is None or spec is None:
        _say(f"account {args.name!r} ({account.provider}) has no secret the keyring can keep")
        return 2
    return _SecretTarget(path, account, cls, spec)


_SECRET_LIMIT = 1024 * 1024  # a token or a key file is a few KB; more is the wrong input


def _read_secret(spec: KeyringSecret, name: str) -> str | None:
    """The secret from stdin when it is piped, else a hidden prompt; ``None`` after saying
    why there is none (never echoing what was read)."""
    if sys.stdin is None:
        _say("no stdin to read the secret from — pipe it in")
        return None
    if sys.stdin.isatty():
        try:
            text = getpass.getpass(sanitize(
                f"{spec.what} for {name} (hidden; a multi-line key file: invoice-tui secret "
                f"set {shlex.quote(name)} < FILE): "))
        except EOFError:
            text = ""
    else:
        data = sys.stdin.buffer.read(_SECRET_LIMIT + 1)
        if len(data) > _SECRET_LIMIT:
            _say("stdin holds more than 1 MB — that is no token or key file; pipe in the "
                 "secret only")
            return None
        try:
            text = data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            _say("stdin is not UTF-8 text — pipe in the token or the key file as it was "
                 "downloaded")
            return None
    if not text.strip():
        _say(f"no secret given — pipe it in (invoice-tui secret set {shlex.quote(name)} < FILE) "
             "or type it at the prompt")
        return None
    return text


def _run_secret_set(args: argparse.Namespace) -> int:
    target = _secret_target(args)
    if isinstance(target, int):
        return target
    problem = keyring_problem()  # before asking for the secret: it could not be kept
    if problem is not None:
        _say(problem)
        return 1
    spec, name = target.spec, args.name
    text = _read_secret(spec, name)
    if text is None:
        return 2
    try:
        secret = target.provider.check_secret(text)
    except ProviderError as exc:
        _say(f"{name}: not stored: {exc}")
        return 2
    try:
        set_secret(name, secret)
    except ProviderError as exc:
        _say(f"{name}: {exc}")
        return 1
    # The keyring first, then the config: a failed edit leaves a stored secret unused,
    # never a config pointing at a secret that is not there.
    try:
        update_account(target.path, name, {spec.option: True,
                                           **dict.fromkeys(spec.replaces, REMOVE)})
    except ConfigError as exc:
        _say(f"stored the {spec.what} of {name} in the OS keyring, but the config was not "
             f"changed — set {spec.option} = true in account {name!r} yourself")
        return _config_problem(exc, "secret")
    removed = [key for key in spec.replaces if key in target.account.options]
    instead = f" instead of {' / '.join(removed)}" if removed else ""
    print(sanitize(f"stored the {spec.what} of {name} in the OS keyring (service "
                   f"{KEYRING_SERVICE}); {target.path} now says {spec.option} = true{instead}"))
    return 0


def _run_secret_delete(args: argparse.Namespace) -> int:
    target = _secret_target(args)
    if isinstance(target, int):
        return target
    name, spec = args.name, target.spec
    try:
        removed = delete_secret(name)
    except ProviderError as exc:
        _say(f"{name}: {exc}")
        return 1
    if not removed:
        _say(f"no secret for {name} in the keyring — nothing to remove")
        return 1
    if target.account.options.get(spec.option) is True:
        needs = (f"the config still says {spec.option} = true: run `invoice-tui secret set "
                 f"{shlex.quote(name)}` again, or replace it with {' or '.join(spec.replaces)}")
    else:
        needs = "the config did not use it"
    print(sanitize(f"removed the {spec.what} of {name} from the OS keyring — {needs}"))
    return 0


def _run_demo_server(args: argparse.Namespace) -> int:
    from .demo import run_demo_server

    write_config = Path(os.path.expanduser(args.write_config)) if args.write_config else None
    return run_demo_server(
        host=args.host, port=args.port, latency_ms=args.latency_ms,
        invoice_count=args.invoice_count, count_cap=args.count_cap, faults=args.fault,
        write_config=write_config, out=sys.stdout,
    )


def _run_tui(args: argparse.Namespace) -> int:
    try:
        from .ui.app import run_tui
    except ImportError as exc:
        log.debug("cannot import the TUI", exc_info=True)
        _say(f"the TUI is not available ({type(exc).__name__}: {exc.name or exc}) "
             "— try `invoice-tui export --demo`")
        return 1
    try:
        return int(run_tui(config_path(args.config), cache_dir(args.cache_dir), args.demo))
    except StoreError as exc:
        _say(f"store: {exc}")
        return 1
