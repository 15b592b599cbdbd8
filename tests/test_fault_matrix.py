"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hostile import (
    HostileServer,  # noqa: F401 - the fixture's type, used by every section
    by_endpoint,
    json_reply,
    unleash_account,
)

from invoice_tui import cli
from invoice_tui.config import save_config

# --- 1. escape sequences in the currency field ---------------------------------------


# --- 2. server text in toasts, reasons, hints and stderr -----------------------------


# --- 3. one sanitizer: escapes, bidi, zero-width ------------------------------------


# --- 4. response size: big, endless, gzip bomb -----------------------------------------


# --- 5. timeout is the whole request's deadline --------------------------------------


# --- 6. Voximplant paging that never ends; absurd numbers ------------------------------


# --- 7. 3xx replies are errors; a failed fetch keeps the cache ------------------------


# --- 8. CSV formula injection, raw escapes in exports ----------------------------------

_FORMULAS = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3",
             "\t=1+1", "\r@A1", " =2+2"]
_TERMINAL_ESCAPES = "\x1b]0;PWNED\x1b\\ \x1b[2J \x1b]52;c;ZXZpbA==\x07 \x9b31m \x1bc"
# Nothing of this kind may reach an export raw: C0 (but the CSV's own line ends), DEL,
# C1, bidi controls, zero-width characters.
_RAW_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f"
                          "\u2028-\u202e\u2060\u2066-\u2069\ufeff]")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _hostile_unleash_body() -> dict[str, object]:
    """One Unleash invoice whose every text field is hostile, plus a real negative amount."""
    lines = [{"description": text, "quantity": 1, "totalAmount": 1, "currency": "USD",
              "lookupKey": text} for text in _FORMULAS]
    lines.append({"description": f"Calls{_TERMINAL_ESCAPES}\u202egnp.exe\u200b\x9b2J",
                  "quantity": 1, "totalAmount": 1, "currency": "USD", "lookupKey": "calls"})
    lines.append({"description": "Credit", "quantity": 1, "totalAmount": -12.5,
                  "currency": "USD", "lookupKey": "credit"})
    return {"invoices": [{
        "invoiceDate": "2026-10-01T00:00:00.000Z", "status": "=1+1", "totalAmount": -5.5,
        "subtotal": -5.5, "currency": "USD", "taxAmount": 0, "taxPercentage": 0,
        "monthText": f"@SUM(A1){_TERMINAL_ESCAPES}", "mainLines": lines, "usageLines": [],
    }]}


def _export_from(hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 *args: str) -> tuple[int, str, str]:
    """``invoice-tui export ARGS`` on a config whose one account is the hostile server."""
    config = tmp_path / "config.toml"
    save_config(config, {"accounts": [dict(unleash_account(hostile).options)]})
    code = cli.main(["export", "--config", str(config), "--cache-dir", str(tmp_path / "cache"),
                     *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_export_neutralizes_formulas_and_strips_escapes(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_hostile_unleash_body())})
    code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "csv", "--lines")
    assert code == 0, err
    assert not _RAW_CONTROL.search(out)
    header, *rows = list(csv.reader(io.StringIO(out)))
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert len(cells) == len(_FORMULAS) + 2
    for cell in cells:
        for name, value in cell.items():
            # Every cell is either inert text or a plain number: nothing a spreadsheet runs.
            first = value.lstrip(" ")[:1]
            assert first not in ("=", "+", "@", "-") or _PLAIN_NUMBER.fullmatch(value), \
                (name, value)
    descriptions = [cell["description"] for cell in cells]
    for formula, shown in zip(_FORMULAS, descriptions, strict=False):
        assert shown.startswith("'") and shown.endswith(formula.strip()), (formula, shown)
    assert cells[0]["invoice_status"] == "'=1+1"
    assert cells[0]["invoice_label"].startswith("'@SUM(A1)")
    assert "PWNED" not in out and "gnp.exe" in out
    # Our own exact amounts stay numbers, negative ones included.
    assert cells[-1]["description"] == "Credit" and cells[-1]["amount"] == "-12.5"
    assert cells[0]["invoice_total"] == "-5.5"


def test_json_export_escapes_c1_bidi_and_zero_width(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    description = "a\x9b2Jb\u202egnp.exe\u200bc\u2066d\ufeff\x7f"
    body = _hostile_unleash_body()
    body["invoices"][0]["mainLines"][0]["description"] = description  # type: ignore[index]
    hostile.respond = by_endpoint({"list": json_reply(body)})
    code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "json")
    assert code == 0, err
    assert not _RAW_CONTROL.search(out)
    for escape in ("\\u009b", "\\u202e", "\\u200b", "\\u2066", "\\ufeff", "\\u007f"):
        assert escape in out
    # The text itself is kept exactly: a JSON reader gets what the provider sent.
    (invoice,) = json.loads(out)
    assert invoice["lines"][0]["description"] == description
    assert invoice["lines"][-1]["amount"] == "-12.5"


# --- 9. secrets in the crash screen ------------------------------------------------------


# --- 10. secrets readable by others --------------------------------------------------


# --- 11. stale temp files of killed saves -------------------------------------------------


# --- 12. export --output onto special files ------------------------------------------


# --- 13. config reading limits, unknown account keys, BOM ------------------------------


# --- 14. PDF save: planted symlinks, races, never the cwd ---------------------------------


# --- 15. redaction of any form of a secret; weak keys ---------------------------------
