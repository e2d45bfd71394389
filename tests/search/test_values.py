"""store.values.Value: the immutable value objects of the query tree and search results."""

from __future__ import annotations

import copy
import pickle

import pytest

from store.query.ast import And, MatchAll, Not, Since, Term, Until
from store.search import HistoryQuery


def test_equality_needs_the_same_type_and_fields() -> None:
    assert Term("a") == Term("a", phrase=False)
    assert Term("a") != Term("a", phrase=True)
    assert Since("2026") != Until("2026")  # same fields, different meaning
    assert MatchAll() == MatchAll()
    assert Term("a") != ("a", False)


def test_hash_repr_and_match() -> None:
    tree = And((Term("x"), Not(Since("t"))))
    assert hash(tree) == hash(And((Term("x"), Not(Since("t")))))
    assert repr(tree) == "And(children=(Term(text='x', phrase=False), Not(child=Since(at='t'))))"
    match tree:
        case And((Term(text, phrase), _)):
            assert (text, phrase) == ("x", False)
        case _:  # pragma: no cover
            pytest.fail("no match")


def test_immutable_and_copyable() -> None:
    term = Term("a")
    with pytest.raises(AttributeError):
        term.text = "b"
    with pytest.raises(AttributeError):
        del term.text
    query = HistoryQuery(since="s", event_types=("created",))
    assert copy.deepcopy(query) == query
    assert pickle.loads(pickle.dumps(query)) == query
    assert query.as_dict() == {
        "since": "s",
        "until": None,
        "session_ids": None,
        "event_types": ("created",),
        "limit": 50,
    }
