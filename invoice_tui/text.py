"""Untrusted text made safe to show, and secrets taken out of it.

Everything a server or a file we do not control says — descriptions, statuses,
error messages, file names — passes :func:`sanitize` before it reaches a
terminal, a toast, stderr or an export: the one sanitizer of the code base, used
by the parsers, the CLI and the UI alike. :func:`redact` removes secrets from
messages that might quote a request.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["redact", "sanitize"]

# Whole terminal escape sequences go, not just their ESC, so no "[2J" is left behind:
# OSC/DCS/SOS/PM/APC up to their terminator (BEL or ST; an unterminated one swallows the
# rest, as a terminal would), CSI with its parameters, and ESC + intermediates + final.
# Both 7-bit (ESC x) and C1 (U+0080–U+009F) introducers.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|\Z)"
    r"|(?:\x1b\[|\x9b)[\x20-\x3f]*[\x40-\x7e]?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?",
    re.DOTALL,
)
# The common offenders, translated at C speed: C0, DEL and C1 controls, bidi controls
# (embeddings, overrides, isolates, marks) that can make text read backwards, and
# zero-width characters that hide inside words. Line breaks and tabs become spaces.
_WHITESPACE = "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029"
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_TRANSLATION: dict[int, str | None] = {
    **{code: None for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))},
    **{ord(char): None for char in _INVISIBLE},
    **{ord(char): " " for char in _WHITESPACE},
}
_ELLIPSIS = "…"


def sanitize(text: object, *, limit: int | None = None) -> str:
    """Untrusted text as one safe, printable line (``None`` → ``""``).

    - terminal escape sequences are removed whole (``"\\x1b[2J"``, ``"\\x1b]52;c;…\\x07"``,
      C1 forms such as ``"\\x9b2J"``);
    - every other control character (C0, DEL, C1), every format character (Unicode
      ``Cf``: bidi controls, zero-width characters, BOM, soft hyphen, tags), surrogates,
      private-use and unassigned code points are removed;
    - tabs, line breaks and other whitespace become a space; runs of spaces collapse to
      one and the ends are stripped;
    - ``limit`` cuts the result to that many characters, the last one ``"…"``.

    The result is always ``str.isprintable()``. Markup is not touched: callers must never
    parse the result as Rich/Textual markup.
    """
    if text is None:
        return ""
    value = text if type(text) is str else str(text)
    if not (value.isprintable()  # the common case, checked at C speed
            and "  " not in value and value[:1] != " " and value[-1:] != " "):
        value = _slow(value)
    if limit is not None and len(value) > limit:
        value = value[: max(0, limit - 1)].rstrip() + _ELLIPSIS
    return value


def _slow(value: str) -> str:
    value = _ESCAPE_SEQUENCE.sub("", value).translate(_TRANSLATION)
    if not value.isprintable():
        # Rarer non-printables (other Cf, Zs such as NBSP, Cs, Co, Cn): decided one by one.
        value = "".join(char if char.isprintable() else _unusual(char) for char in value)
    return " ".join(value.split())


def _unusual(char: str) -> str:
    return " " if unicodedata.category(char) in ("Zs", "Zl", "Zp") else ""


# --- secrets ---------------------------------------------------------------------------------

#: A secret at least this long is also redacted wherever any piece of it of
#: ``FRAGMENT`` characters or more appears (a token cut in half, or one half quoted).
LONG_SECRET = 12
FRAGMENT = 8
_MASK = "***"
# JWTs and "Bearer …" values are redacted even when we do not know them.
_JWT_LIKE = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+\S+")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, in any letter case, replaced by ``***``.

    Fragment rule: a secret of ``LONG_SECRET`` (12) characters or more is also
    replaced wherever any run of ``FRAGMENT`` (8) or more consecutive characters of it
    appears, so a secret cut short, split by the server or re-cased never survives.
    Shorter secrets are replaced where they appear whole. Anything shaped like a JWT
    and every ``Bearer <value>`` is replaced too. Meant for messages (short text, short
    secrets): the cost is linear in ``len(text)`` per secret. Sanitize first: an escape
    sequence inside a secret would otherwise hide it until it is removed.
    """
    folded = _fold(text)
    covered: list[tuple[int, int]] = []
    for secret in secrets:
        if not secret or not secret.strip():
            continue
        needle = _fold(secret)
        if len(needle) >= LONG_SECRET:
            pieces = {needle[i:i + FRAGMENT] for i in range(len(needle) - FRAGMENT + 1)}
            covered += [(i, i + FRAGMENT) for i in range(len(folded) - FRAGMENT + 1)
                        if folded[i:i + FRAGMENT] in pieces]
        else:
            start = folded.find(needle)
            while start != -1:
                covered.append((start, start + len(needle)))
                start = folded.find(needle, start + 1)
    if covered:
        text = _masked(text, covered)
    text = _JWT_LIKE.sub(_MASK, text)
    return _BEARER.sub(f"Bearer {_MASK}", text)


def _fold(text: str) -> str:
    # Lower case with the same length as the input, so indexes match the original text.
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    runs: list[list[int]] = []  # overlapping or touching spans merged: one mask per run
    for start, stop in sorted(spans):
        if runs and start <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], stop)
        else:
            runs.append([start, stop])
    parts: list[str] = []
    position = 0
    for start, stop in runs:
        parts += [text[position:start], _MASK]
        position = stop
    parts.append(text[position:])
    return "".join(parts)
