"""store.values.Value: the immutable value objects of the query tree and search results."""

from __future__ import annotations

import copy
import pickle

import pytest

from store.query.ast import And, MatchAll, Not, Since, Term, Until
from store.reads import HistoryRecord


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
    record = HistoryRecord(1, "s-1", None, "created", "t", {"a": [1]})
    assert copy.deepcopy(record) == record
    assert pickle.loads(pickle.dumps(record)) == record
    assert record.as_dict() == {
        "id": 1,
        "session_id": "s-1",
        "session_name": None,
        "event_type": "created",
        "timestamp": "t",
        "data": {"a": [1]},
    }


def test_replace_changes_the_named_fields_only() -> None:
    term = Term("a", phrase=True)
    assert term.replace(text="b") == Term("b", phrase=True)
    assert term == Term("a", phrase=True)  # the original is unchanged
    assert term.replace() == term
    with pytest.raises(TypeError, match="no field 'txt'"):
        term.replace(txt="b")
