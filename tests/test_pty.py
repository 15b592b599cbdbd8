"""The real app in a real terminal: no escape, C1 or bidi byte from server data reaches it.

Pilot tests see Textual's idea of the screen; this one sees the bytes a terminal
would get. The app runs as users run it (``python -m invoice_tui`` on a pty of
120×35, ``TERM=xterm-256color``) against a hostile Unleash server whose every
shown field carries terminal payloads, and is driven by keys through the main
screen, the detail view and a toast (the PDF download error). Textual itself
writes plenty of escape sequences, so the check looks for the payloads' own
bytes — and for the benign words next to them, to prove the data was on screen.
"""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from hostile import HOSTILE_TOKEN, HostileServer, by_endpoint, json_reply, reply

ROWS, COLUMNS = 35, 120
STEP_TIMEOUT = 30.0  # generous: a loaded CI box starts Python + Textual slowly

OSC_TITLE = "\x1b]0;PWNED\x1b\\"  # sets the window title
OSC_CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"  # writes "evil" to the clipboard
CLEAR = "\x1b[2J"
C1_CLEAR = "\x9b2J"  # the same as one C1 CSI character
BIDI = "\u202e"  # right-to-left override
ZERO_WIDTH = "\u200b"

# The benign word in front of each payload: it must reach the screen.
LABEL, STATUS, MAIN_LINE, USAGE_LINE = "Zorblax", "Frobbed", "Quuxcalls", "Blorpmeter"

# What must never reach the terminal: the payloads' distinctive bytes.
LEAKS = {
    "OSC 0 window title": "]0;PWNED",
    "OSC 52 clipboard write": "]52;",
    "OSC 52 payload": "ZXZpbA==",
    "C1 CSI (U+009B)": "\x9b",
    "C1 CSI as a raw 8-bit byte": "\udc9b",  # how surrogateescape decodes a lone 0x9b
    "bidi override (U+202E)": BIDI,
    "zero-width space (U+200B)": ZERO_WIDTH,
    "screen clear after server text": f"{LABEL}{CLEAR}",
}


def _hostile_invoices(pdf_url: str) -> dict[str, object]:
    currency = f"USD{OSC_TITLE}{CLEAR}"
    return {
        "planPrice": 80, "planCurrency": f"EUR{OSC_CLIPBOARD}{C1_CLEAR}",
        "invoices": [{
            "invoiceDate": "2026-10-01T00:00:00.000Z", "dueDate": "2026-10-15T00:00:00.000Z",
            "status": f"{STATUS}{C1_CLEAR}{OSC_CLIPBOARD}",
            "monthText": f"{LABEL}{CLEAR}{BIDI}{ZERO_WIDTH} 2026{OSC_TITLE}",
            "currency": currency,
            "subtotal": 84, "taxAmount": 16, "totalAmount": 100, "taxPercentage": 19,
            "invoiceURL": f"https://billing.example/inv/1{ZERO_WIDTH}{OSC_TITLE}",
            "invoicePDF": pdf_url,
            "mainLines": [{
                "description": f"{MAIN_LINE}{OSC_CLIPBOARD} plan{BIDI}",
                "quantity": 1, "totalAmount": 60, "currency": currency,
                "lookupKey": f"plan{C1_CLEAR}", "startDate": "2026-09-01",
                "endDate": "2026-09-30",
            }],
            "usageLines": [{
                "description": f"{USAGE_LINE}{ZERO_WIDTH}{OSC_TITLE}{C1_CLEAR}",
                "quantity": 3, "totalAmount": 24, "currency": currency,
                "lookupKey": f"seats{BIDI}", "consumption": 12, "limit": 10,
                "unitPrice": 8,
            }],
        }],
    }


class _Terminal:
    """The pty's master side: collects everything the app writes, in a thread."""

    def __init__(self, master: int) -> None:
        self.master = master
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._text: list[str] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                if self._done.is_set():
                    return
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every writer of the slave side has closed it
                data = b""
            if not data:
                self._done.set()
                return
            with self._lock:
                self._text.append(self._decoder.decode(data))

    @property
    def text(self) -> str:
        """Everything written so far, as a UTF-8 terminal reads it (stray bytes kept)."""
        with self._lock:
            return "".join(self._text)

    def plain(self) -> str:
        """The text with Textual's own CSI sequences (colours, cursor moves) removed."""
        return re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", self.text)

    def wait_for(self, what: str) -> None:
        """Wait until ``what`` was drawn (wrapped or not); fail with the screen's tail."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            if _squashed(what) in _squashed(self.plain()):
                return
            if self._done.is_set():
                break
            time.sleep(0.05)
        raise AssertionError(f"never saw {what!r}; the terminal got: {self.plain()[-2000:]!r}")

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def _squashed(text: str) -> str:
    # A toast wraps its text anywhere and draws its edge ("▌") on every line.
    return re.sub(r"[\s▌▏│]", "", text)


def _write_config(path: Path, hostile: HostileServer, downloads: Path) -> None:
    path.write_text(
        "[settings]\n"
        "timeout = 5\n"
        f'downloads = "{downloads}"\n'
        "\n[[accounts]]\n"
        'name = "unleash-hostile"\n'
        'provider = "unleash"\n'
        f'base_url = "{hostile.url}"\n'
        f'token = "{HOSTILE_TOKEN}"\n', encoding="utf-8")
    path.chmod(0o600)


def test_no_escape_c1_or_bidi_byte_from_server_data_reaches_the_terminal(
        hostile: HostileServer, tmp_path: Path) -> None:
    pdf_url = f"{hostile.url}/files/statement.pdf"
    hostile.respond = by_endpoint({
        "list": json_reply(_hostile_invoices(pdf_url)),
        "statement.pdf": reply(b"gone", status=404, content_type="text/plain"),
    })
    config, downloads = tmp_path / "config.toml", tmp_path / "downloads"
    downloads.mkdir()
    _write_config(config, hostile, downloads)

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
           "LINES": str(ROWS)}
    for name in ("NO_COLOR", "TEXTUAL", "TEXTUAL_DRIVER", "TEXTUAL_DEBUG"):
        env.pop(name, None)
    child = subprocess.Popen(
        [sys.executable, "-m", "invoice_tui", "--config", str(config),
         "--cache-dir", str(tmp_path / "cache")],
        stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env,
        start_new_session=True, close_fds=True)
    os.close(slave)
    terminal = _Terminal(master)
    try:
        terminal.wait_for(LABEL)  # the main screen shows the synced invoice
        terminal.wait_for(STATUS)
        terminal.press(b"\r")  # Enter: the detail view
        terminal.wait_for(MAIN_LINE)
        terminal.wait_for(USAGE_LINE)
        terminal.press(b"d")  # the PDF link answers 404: an error toast naming the invoice
        terminal.wait_for("404")
        terminal.press(b"\x1b")  # Esc: back to the table
        time.sleep(0.5)  # Textual waits a moment to tell a lone Esc from a key sequence
        terminal.press(b"q")
        child.wait(timeout=STEP_TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        terminal.finish()
        os.close(master)

    assert hostile.requests and hostile.requests[0].endpoint == "list"
    assert any(r.endpoint == "statement.pdf" for r in hostile.requests)
    written = terminal.text
    leaked = {name: written.count(needle) for name, needle in LEAKS.items() if needle in written}
    assert not leaked, f"server text reached the terminal raw: {leaked}"
    assert child.returncode == 0
