"""Round trips on ccmgr-ultra's own files, and malformed YAML always giving a located error."""

from __future__ import annotations

import io
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.errors import ConfigError
from tests.config.conftest import EXCERPT, GO_WRITTEN
from watcher.config.diff import apply_changes, diff_trees
from watcher.config.readfile import decode_text
from watcher.config.yamlio import (
    dump_document,
    dump_plain,
    parse_document,
    to_plain,
)


@pytest.mark.parametrize("text", [EXCERPT, GO_WRITTEN], ids=["reference-excerpt", "go-written"])
def test_unchanged_file_round_trips_byte_identical(text: str) -> None:
    doc = parse_document(text)
    assert dump_document(doc) == text


def test_values_read_as_ccmgr_ultra_reads_them() -> None:
    tree = to_plain(parse_document(GO_WRITTEN).data)
    assert tree["shortcuts"]["n"] == "new_worktree"
    assert tree["last_modified"] == "2025-11-20T10:04:05.123456789+01:00"  # nanoseconds kept
    assert tree["tmux"]["cleanup_age"] == "24h0m0s"
    assert tree["git"]["pr_template"] == "## Summary\n{{.Description}}"


def test_a_change_keeps_comments_order_and_quoting() -> None:
    doc = parse_document(GO_WRITTEN)
    before = to_plain(doc.data)
    after = to_plain(doc.data)
    after["tmux"]["monitor_interval"] = "5s"
    after["shortcuts"]["y"] = "yank"
    apply_changes(doc.data, diff_trees(before, after))
    out = dump_document(doc)
    expected = GO_WRITTEN.replace("monitor_interval: 2s", "monitor_interval: 5s").replace(
        "    r: resume_session\n", '    r: resume_session\n    "y": yank\n'
    )
    assert out == expected
    assert "# hooks run on state changes" in out
    assert "session_prefix: ccmgr  # keep short" in out


def test_new_values_are_written_as_yaml_v3_writes_them() -> None:
    text = dump_plain({"shortcuts": {"n": "new", "x": "no"}, "p": "{{.Branch}}", "l": ["a"]})
    assert text == """shortcuts:\n    "n": new\n    x: "no"\np: '{{.Branch}}'\nl:\n    - a\n"""


def test_two_space_files_keep_two_spaces() -> None:
    text = "git:\n  protected_branches:\n  - main\n  default_remote: origin\n"
    doc = parse_document(text)
    doc.data["git"]["default_remote"] = "upstream"
    assert dump_document(doc) == text.replace("origin", "upstream")


MALFORMED = {
    "tab": ("tmux:\n\tmonitor_interval: 2s\n", 2, "tab"),
    "duplicate key": ("tmux:\n    a: 1\n    a: 2\n", 3, "duplicate key"),
    "bad indentation": ("tmux:\n    a: 1\n  b: 2\n", 3, ""),
    "unclosed flow": ("tmux: {a: 1\n", 2, ""),
    "unclosed quote": ('tmux: "abc\n', 2, ""),
    "top-level list": ("- a\n- b\n", 1, "mapping"),
    "top-level scalar": ("just words\n", 1, "mapping"),
    "nul byte": ("a: 1\nb: \x00\n", 2, "binary"),
    "control char": ("a: 1\nb: \x07\n", 2, "not allowed"),
    "deep nesting": ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested"),
    "bad alias": ("a: *nope\n", 1, ""),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_yaml_gives_a_located_config_error(case: str) -> None:
    text, line, words = MALFORMED[case]
    with pytest.raises(ConfigError) as info:
        parse_document(text, "config.yaml")
    message = info.value.message
    assert message.startswith(f"config.yaml:{line}:"), message
    assert words in message
    assert info.value.hint


def test_invalid_utf8_is_located() -> None:
    with pytest.raises(ConfigError, match=r"^c.yaml:2:4: not UTF-8"):
        decode_text(b"a: 1\nb: \xff\xfe\n", "c.yaml")


def test_binary_garbage_is_a_config_error() -> None:
    rng = random.Random(5)
    for _ in range(20):
        raw = bytes(rng.randrange(256) for _ in range(2000))
        with pytest.raises(ConfigError, match=r"^g.yaml:\d+:\d+: "):
            parse_document(decode_text(raw, "g.yaml"), "g.yaml")


def test_a_megabyte_of_garbage_is_a_located_error() -> None:
    garbage = os.urandom(1024 * 1024 + 1)
    with pytest.raises(ConfigError, match=r"^big.yaml:1:1: file is"):
        decode_text(garbage, "big.yaml")
    # Printable garbage just under the limit parses or fails, but never with a traceback.
    rng = random.Random(7)
    chars = "abc:- \n\t{}[]#'\"&*!|>%@`,?"
    text = "".join(rng.choice(chars) for _ in range(1_000_000))
    with pytest.raises(ConfigError, match=r"^big.yaml:\d+:\d+: "):
        parse_document(decode_text(text.encode(), "big.yaml"), "big.yaml")


def test_alias_bomb_is_refused() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    doc = parse_document("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="too large"):
        to_plain(doc.data)


_TOKENS = [*"ab:- \n\t{}[]#'\"&*!|>%@,?0123.sh\u00e9", "tmux", "version", "    "]
YAMLISH = st.lists(st.sampled_from(_TOKENS), max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_any_text_parses_or_gives_a_located_config_error(text: str) -> None:
    from watcher.cli.output import print_json
    from watcher.config.load import check_document
    from watcher.config.scopes import combine

    try:
        doc = parse_document(text, "f.yaml")
        checked = check_document(doc)
        effective = combine({"global": checked})
    except ConfigError as exc:
        assert exc.message.startswith("f.yaml:") or "too large" in exc.message
        return
    print_json(effective.tree, file=io.StringIO())  # whatever was read can be shown
    dump_plain(effective.tree)


def test_tagged_values_are_read_as_text() -> None:
    doc = parse_document(
        "a: !!binary aGVsbG8=\nb: !custom x\nc: !!set {x, y}\nd: !!timestamp 2025-01-01\n"
    )
    tree = to_plain(doc.data)
    assert tree["b"] == "x" and tree["c"] == ["x", "y"] and isinstance(tree["a"], str)


def test_a_file_of_too_many_lines_is_refused_before_parsing() -> None:
    """Issue 9 §4: 100,000 keys under the size cap took > 20 s to validate; now refused at once."""
    from store.errors import ConfigError
    from watcher.config.yamlio import MAX_ITEMS

    text = "k: 1\n" * 100_000
    with pytest.raises(ConfigError, match=f"at most {MAX_ITEMS:,}"):
        parse_document(text, "big.yaml")
    with pytest.raises(ConfigError, match="flow items"):
        parse_document("x: [" + "1," * MAX_ITEMS + "]\n", "flow.yaml")
