"""The filter's matcher over one blob of search texts (``index.SearchTexts``)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from invoice_tui.index import SearchTexts

_texts = st.lists(st.text(alphabet="ab0九\x1f -", max_size=12).map(str.encode), max_size=60)
_tokens = st.text(alphabet="ab0九-", min_size=1, max_size=3).map(str.encode)


def _brute(texts: list[bytes], token: bytes) -> list[int]:
    return [i for i, text in enumerate(texts) if token in text]


@settings(max_examples=300, deadline=None)
@given(_texts, _tokens, st.integers(0, 3))
def test_containing_and_flags_are_a_substring_test_per_text(texts: list[bytes], token: bytes,
                                                             split: int) -> None:
    # Texts may hold the separator (a damaged file): never a match across two texts.
    joined = SearchTexts.concat([SearchTexts.of(texts[:split]), SearchTexts.of(texts[split:])])
    assert list(joined) == texts and len(joined) == len(texts)
    assert joined.containing(token) == _brute(texts, token)
    order = list(range(len(texts)))[::-1]
    assert list(joined.flags(token, order)) == [token in texts[i] for i in order]


def test_a_rare_token_is_found_by_one_scan_and_a_common_one_text_by_text() -> None:
    texts = [f"vox-{n:06d} new vox-main calls".encode() for n in range(5000)]
    search = SearchTexts.of(texts)
    assert search.common(b"vox") and not search.common(b"004999")
    for token in (b"vox", b"0049", b"004999", b"9 new", b"calls", b"zz", b"s"):
        assert search.containing(token) == _brute(texts, token), token
    # Matches never run into the next text, nor count a text twice.
    assert search.containing(b"callsvox") == [] and search.containing(b"lls") == list(range(5000))


def test_texts_read_from_a_group_concat_blob() -> None:
    texts = [b"alpha", b"", "東京 calls".encode(), b"beta"]
    search = SearchTexts.joined(b"\x1f".join(texts) + b"\x1f", map(len, texts))
    assert list(search) == texts and search[-1] == b"beta" and search[1:3] == texts[1:3]
    assert search.containing("東京".encode()) == [2] and search.containing(b"a") == [0, 2, 3]
