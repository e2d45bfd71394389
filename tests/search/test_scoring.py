"""bm25's features counted a column of rows at a time (store.search._features) are the ones
counted token by token (_features_row, the rules of the index's tokenizer), for any text."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from store.search import _features, _features_row

WORDS = ["a", "ab", "auth", "login", "my", "myapp", "main", "é", "x1", "0"]
TEXT = st.lists(
    st.sampled_from([*WORDS, "-", "_", "/", " ", "  ", ".", "\n", "\x00", "Auth", "MAIN", "É"]),
    max_size=8,
).map("".join)
CELL = TEXT | st.sampled_from([""]) | st.integers(0, 9) | st.binary(max_size=3)
PHRASE = st.tuples(
    st.lists(st.sampled_from([w for w in WORDS if w.isascii()]), min_size=1, max_size=3).map(tuple),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL), max_size=6),
    phrases=st.lists(PHRASE, min_size=1, max_size=3).map(tuple),
)
def test_column_features_are_the_token_by_token_ones(
    rows: list[tuple[Any, ...]], phrases: tuple[Any, ...]
) -> None:
    # SCORED_COLUMNS: rowid, last_access, then the five texts.
    full = [(n, "2026-11-26T00:00:00.000000Z", *texts) for n, texts in enumerate(rows)]
    assert _features(full, phrases) == [_features_row(row, phrases) for row in full]


def test_a_single_row_without_tokens_has_none() -> None:
    row = (1, "2026-11-26T00:00:00.000000Z", "ccmgr-myapp-main", "myapp", "", "--", "/a/b")
    assert _features([row], ((("my",), True),)) == [(6, [14.0])]
    assert _features([(1, "t", "", "", "", "", "")], ((("my",), True),)) == [(0, [0.0])]
