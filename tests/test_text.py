"""The one sanitizer and the redactor (``invoice_tui.text``)."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from invoice_tui.text import FRAGMENT, LONG_SECRET, redact, sanitize

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


def forbidden(char: str) -> bool:
    """A character no sanitized text may hold: controls, format (bidi, zero-width), etc."""
    return (unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
            or char in BIDI or char in ZERO_WIDTH)


# --- sanitize ------------------------------------------------------------------------------


def test_sanitize_removes_escape_sequences_whole() -> None:
    assert sanitize("a\x1b]52;c;ZXZpbA==\x07b") == "ab"
    assert sanitize("a\x1b]8;;https://e.com\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"
    assert sanitize("x\x1b[2Jy\x1b[1;31mz") == "xyz"
    assert sanitize("x\x9b2Jy") == "xy"  # C1 CSI
    assert sanitize("x\x9d0;title\x9cy") == "xy"  # C1 OSC up to C1 ST
    assert sanitize("USD\x1b]0;PWNED\x1b\\\x1b[2J") == "USD"
    assert sanitize("a\x1bPdcs stuff\x1b\\b\x1b_apc\x07c") == "abc"
    assert sanitize("a\x1b(0b") == "ab"  # charset designation: ESC, intermediate, final
    assert sanitize("tail \x1b]52;c;unterminated") == "tail"  # swallows the rest


def test_sanitize_removes_controls_bidi_and_zero_width_and_keeps_text() -> None:
    assert sanitize("bell\x07 del\x7f nul\x00 c1\x85x\x9c") == "bell del nul c1 x"
    assert sanitize("two\nlines\tand\rtab\u2028sep\u2029par") == "two lines and tab sep par"
    assert sanitize("\u202eevil") == "evil"  # right-to-left override
    assert sanitize(f"a{BIDI}b") == "ab"
    assert sanitize(f"in{ZERO_WIDTH}visible") == "invisible"
    assert sanitize("soft\u00adhyphen \U000e0041tag") == "softhyphen tag"
    assert sanitize("lone \ud800 surrogate") == "lone surrogate"  # would crash a UTF-8 write
    assert sanitize("Zürich — 東京 [bold]x[/]") == "Zürich — 東京 [bold]x[/]"


def test_sanitize_makes_one_line_and_collapses_whitespace() -> None:
    assert sanitize("  a \u00a0 b\n\n c  ") == "a b c"
    assert sanitize(None) == ""
    assert sanitize(42) == "42"


def test_sanitize_limit_cuts_with_an_ellipsis() -> None:
    assert sanitize("abcdefghij", limit=5) == "abcd…"
    assert sanitize("abcde", limit=5) == "abcde"
    assert len(sanitize("x" * 1000, limit=200)) == 200


def test_the_fast_path_is_right_for_every_invisible_character() -> None:
    # The fast path trusts str.isprintable(): each character we strip must fail it.
    for char in BIDI + ZERO_WIDTH + "\u00ad\u180e\u2061\x85\x9b\u2028":
        assert not char.isprintable(), hex(ord(char))
        assert sanitize(f"a{char}") == "a", hex(ord(char))


def test_every_format_character_of_this_python_is_removed() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cf":
            assert sanitize(f"a{char}b") == "ab", hex(code)


@given(st.text())
def test_sanitize_output_has_no_forbidden_character(text: str) -> None:
    cleaned = sanitize(text)
    assert not any(forbidden(c) for c in cleaned)
    assert cleaned.isprintable() and "  " not in cleaned and cleaned == cleaned.strip()
    assert sanitize(cleaned) == cleaned


@given(st.lists(st.sampled_from(
    ["a", "é", " ", "\x1b", "[", "]", "\\", "\x07", "\x9b", "\x9d", "\x9c", "2", "J", ";",
     "\u202e", "\u200b", "\ufeff", "\n", "P", "_", "^", "X", "(", "0"]), max_size=30))
def test_sanitize_never_leaves_an_escape_or_its_introducer(pieces: list[str]) -> None:
    cleaned = sanitize("".join(pieces))
    assert not any(forbidden(c) for c in cleaned)


# --- redact --------------------------------------------------------------------------------

TOKEN = "user:hostile-secret-token-0123456789abcdef"


def test_redact_replaces_a_secret_in_any_case() -> None:
    assert redact(f"bad token {TOKEN}!", [TOKEN]) == "bad token ***!"
    assert redact(f"bad token {TOKEN.upper()}!", [TOKEN]) == "bad token ***!"
    assert redact("short pw Hunter2 here", ["hunter2"]) == "short pw *** here"


def test_redact_replaces_long_fragments_of_a_long_secret() -> None:
    half = TOKEN[: len(TOKEN) // 2]
    tail = TOKEN[-FRAGMENT:]
    text = redact(f"a {half} b {tail.upper()} c {TOKEN[5:5 + FRAGMENT - 1]} d", [TOKEN])
    assert half not in text and tail.upper() not in text
    assert text.startswith("a *** b *** c ")
    # Pieces shorter than the fragment length are not secrets by themselves.
    assert TOKEN[5:5 + FRAGMENT - 1] in text


def test_redact_merges_overlapping_fragments_into_one_mask() -> None:
    assert redact(TOKEN + TOKEN, [TOKEN]) == "***"
    assert redact(f"x{TOKEN}y", [TOKEN, TOKEN[3:20]]) == "x***y"


def test_redact_short_secrets_only_whole_and_jwts_and_bearer_always() -> None:
    assert LONG_SECRET > FRAGMENT
    assert redact("abcdefghij abcdefghi", ["abcdefghijk"]) == "abcdefghij abcdefghi"
    assert redact("t eyJhbGciOi.eyJzdWIi.c2ln end", []) == "t *** end"
    assert redact("Authorization: bearer abc.def", []) == "Authorization: Bearer ***"
    assert redact("nothing here", ["", "   "]) == "nothing here"


def test_redact_keeps_indexes_right_for_text_that_changes_length_when_lowered() -> None:
    # "İ".lower() is two characters: the match must still cover exactly the secret.
    assert redact(f"İİ {TOKEN} İ", [TOKEN]) == "İİ *** İ"


# Printable ASCII (tokens, keys and JWTs are) without "*": the mask itself must not
# complete a fragment with the text around it.
secrets = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                         blacklist_characters="*"),
                  min_size=LONG_SECRET, max_size=60)


@given(secrets, st.text(max_size=20), st.text(max_size=20), st.data())
def test_no_case_or_long_fragment_of_a_secret_survives(secret: str, before: str, after: str,
                                                       data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(secret) - FRAGMENT))
    end = data.draw(st.integers(start + FRAGMENT, len(secret)))
    piece = secret[start:end]
    piece = data.draw(st.sampled_from([piece, piece.upper(), piece.lower(), piece.swapcase()]))
    text = redact(f"{before}{piece}{after}", [secret])
    folded = text.lower()
    assert not any(secret[i:i + FRAGMENT].lower() in folded
                   for i in range(len(secret) - FRAGMENT + 1))
