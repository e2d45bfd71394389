"""watcher.cli.output.print_json: stdlib json that writes what msgspec's encoder wrote."""

from __future__ import annotations

import io
import json
import math
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from store.query.ast import Term
from watcher.cli.output import print_json

_ENCODER = msgspec.json.Encoder(order="deterministic")


class Rec(msgspec.Struct):
    zeta: int
    alpha: dict[str, Any]
    items: list[Any]


def msgspec_text(value: Any) -> str:
    """What print_json wrote before it used the stdlib."""
    return msgspec.json.format(_ENCODER.encode(value), indent=2).decode() + "\n"


def printed(value: Any, **kwargs: Any) -> str:
    out = io.StringIO()
    print_json(value, file=out, **kwargs)
    return out.getvalue()


# Floats stay in the range where both write the same digits: msgspec writes 1e16 and 0.00005
# where Python writes 1e+16 and 5e-05 (the same numbers).
_floats = st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda f: f == 0 or 1e-4 <= abs(f) < 1e16
)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | _floats
    | st.text()
    | st.sampled_from([math.nan, math.inf, -math.inf])
)
_values = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(), inner, max_size=4)
        | st.builds(
            Rec,
            st.integers(0, 9),
            st.dictionaries(st.text(), inner, max_size=3),
            st.lists(inner, max_size=3),
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_same_text_as_msgspec(value: Any) -> None:
    assert printed(value) == msgspec_text(value)


def test_structs_keep_field_order_and_dicts_are_sorted() -> None:
    value = {"b": Rec(1, {"y": 1, "x": 2}, [datetime(2026, 1, 2, tzinfo=UTC)]), "a": {3, 1}}
    text = printed(value)
    assert text == msgspec_text(value)
    assert list(json.loads(text)) == ["a", "b"]
    assert list(json.loads(text)["b"]) == ["zeta", "alpha", "items"]


def test_unsorted_keeps_insertion_order_and_values_are_objects() -> None:
    text = printed([{"b": 1, "a": Term("x")}], sort_keys=False)
    assert json.loads(text) == [{"b": 1, "a": {"text": "x", "phrase": False}}]
    assert list(json.loads(text)[0]) == ["b", "a"]


def test_non_ascii_is_written_as_is_and_nan_is_null() -> None:
    assert printed({"name": "café ☕", "n": math.nan}) == (
        '{\n  "n": null,\n  "name": "café ☕"\n}\n'
    )


def test_plain_values_do_not_import_msgspec() -> None:
    import subprocess

    code = (
        "import io, sys; from watcher.cli.output import print_json; "
        "print_json({'a': [1, 2.5, None, 'x', {'b': True}]}, file=io.StringIO()); "
        "print('msgspec' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
