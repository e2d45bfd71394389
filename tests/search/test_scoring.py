"""bm25's features counted a column of rows at a time (store.search._features) are the ones
counted token by token (_features_row, the rules of the index's tokenizer), for any text."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import store.search
from store.query.compiler import Clause, Scoring
from store.search import _features, _features_row, _matching, _passes

WORDS = ["a", "ab", "auth", "login", "my", "myapp", "main", "é", "x1", "0"]
TEXT = st.lists(
    st.sampled_from(
        [*WORDS, "-", "_", "/", " ", "  ", ".", "\n", "\x00", "\x01", "Auth", "MAIN", "É"]
    ),
    max_size=8,
).map("".join)
# ASCII text without NUL or \x01: what _matching tests in its quick path.
PLAIN = st.lists(
    st.sampled_from([*(w for w in WORDS if w.isascii()), "-", "_", "/", " ", "  ", ".", "Auth"]),
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


@settings(max_examples=600, deadline=None)
@given(
    rows=st.lists(st.tuples(PLAIN, PLAIN, PLAIN, PLAIN, PLAIN), max_size=6)
    | st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL), max_size=6),
    words=st.lists(st.sampled_from([w for w in WORDS if w.isascii()]), min_size=1, max_size=3),
)
def test_words_as_prefixes_are_counted_as_token_by_token(
    rows: list[tuple[Any, ...]], words: list[str]
) -> None:
    # Words as prefixes only (`auth`, `a b`, `auth -login`): single-spaced text (the quick
    # way), the same features as the index's tokenizer rules give.
    phrases = tuple(((w,), True) for w in words)
    full = [(n, "2026-11-26T00:00:00.000000Z", *texts) for n, texts in enumerate(rows)]
    assert _features(full, phrases) == [_features_row(row, phrases) for row in full]


def test_a_single_row_without_tokens_has_none() -> None:
    row = (1, "2026-11-26T00:00:00.000000Z", "ccmgr-myapp-main", "myapp", "", "--", "/a/b")
    assert _features([row], ((("my",), True),)) == [(6, [14.0])]
    assert _features([(1, "t", "", "", "", "", "")], ((("my",), True),)) == [(0, [0.0])]


@settings(max_examples=1000, deadline=None)
@given(
    rows=st.lists(st.tuples(PLAIN, PLAIN, PLAIN, PLAIN, PLAIN), max_size=8)
    | st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL), max_size=8),
    phrases=st.lists(PHRASE, min_size=1, max_size=3).map(tuple),
    negated=st.lists(st.booleans(), min_size=3, max_size=3),
    grouped=st.booleans(),
)
def test_the_quick_test_of_a_row_is_the_clauses_on_its_features(
    rows: list[tuple[Any, ...]], phrases: tuple[Any, ...], negated: list[bool], grouped: bool
) -> None:
    # filter_scored's test (_matching) agrees with the clauses evaluated on the features
    # counted token by token, for any text and phrase (not ASCII, NUL, \x01, not a string:
    # the general path; single words as prefixes, phrases, whole words: the quick one).
    full = [(n, "2026-11-26T00:00:00.000000Z", *texts) for n, texts in enumerate(rows)]
    indexes = tuple(range(len(phrases)))
    clauses: tuple[Clause, ...] = (
        ((negated[0], indexes),) if grouped else tuple((negated[i], (i,)) for i in indexes)
    )
    scoring = Scoring(phrases, (20, 0), clauses=clauses, window=10)
    expected = [_passes(_features_row(row, phrases)[1], clauses) for row in full]
    assert _matching(full, scoring) == expected


def test_plain_text_is_tested_without_counting_features(monkeypatch: pytest.MonkeyPatch) -> None:
    # The quick path covers ASCII text, phrases and whole words: _features is not called.
    monkeypatch.setattr(store.search, "_features", None)
    rows = [
        (3, "t", "ccmgr-myapp-main-auth_login", "myapp", "", "main", "/a/b"),
        (2, "t", "fix  login-auth", "", "", "", ""),
        (1, "t", "auth", "login", "", "", ""),
    ]
    phrases = ((("auth", "login"), False), (("fix",), False), (("my",), True))
    scoring = Scoring(phrases, (20, 0), clauses=((False, (0, 1)), (True, (2,))), window=10)
    # "auth login": a phrase within one column (row 1 has the words in two columns).
    assert _matching(rows, scoring) == [False, True, False]
