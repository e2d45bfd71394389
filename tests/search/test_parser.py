"""Table tests of the grammar: words, phrases, operators, precedence, qualifiers, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from store.errors import QueryError
from store.query.ast import (
    And,
    Dir,
    Field,
    MatchAll,
    Node,
    Not,
    Or,
    Since,
    Status,
    Term,
    Until,
)
from store.query.lexer import MAX_QUERY_LENGTH
from store.query.parser import MAX_DEPTH, MAX_TERMS, parse_query

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def parse(text: str) -> Node:
    return parse_query(text, now=NOW, tz=ZoneInfo("UTC"), home="/home/u", cwd="/work")


def w(text: str) -> Term:
    return Term(text)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("", MatchAll()),
        ("   \t ", MatchAll()),
        ("auth", w("auth")),
        ("auth myapp", And((w("auth"), w("myapp")))),
        ("auth AND myapp", And((w("auth"), w("myapp")))),
        ("auth OR myapp", Or((w("auth"), w("myapp")))),
        ("auth and myapp", And((w("auth"), w("and"), w("myapp")))),
        ("auth or", And((w("auth"), w("or")))),
        ('"two words"', Term("two words", phrase=True)),
        ('"say \\"hi\\" \\\\ ok"', Term('say "hi" \\ ok', phrase=True)),
        ("NOT auth", Not(w("auth"))),
        ("-auth", Not(w("auth"))),
        ("NOT NOT auth", w("auth")),
        ("--auth", w("--auth")),
        ("a - b", And((w("a"), w("-"), w("b")))),
        ("feat-auth", w("feat-auth")),
        ('-"x y"', Not(Term("x y", phrase=True))),
        # precedence: NOT > AND > OR
        ("a b OR c", Or((And((w("a"), w("b"))), w("c")))),
        ("a OR b c", Or((w("a"), And((w("b"), w("c")))))),
        ("a OR b AND c", Or((w("a"), And((w("b"), w("c")))))),
        ("NOT a b", And((Not(w("a")), w("b")))),
        ("NOT a OR b", Or((Not(w("a")), w("b")))),
        ("a (b OR c)", And((w("a"), Or((w("b"), w("c")))))),
        ("-(a OR b)", Not(Or((w("a"), w("b"))))),
        ("a OR b OR c", Or((w("a"), w("b"), w("c")))),
        ("((a))", w("a")),
        ("a(b)", And((w("a"), w("b")))),
        ("NEAR(a b)", And((w("NEAR"), And((w("a"), w("b")))))),
        ("^a* b:c", None),  # unknown qualifier b: (checked below)
        # qualifiers
        ("project:myapp", Field("project", "myapp")),
        ("Project:MyApp", Field("project", "MyApp")),
        ("worktree:feat-*", Field("worktree", "feat-*")),
        ("branch:feat/auth", Field("branch", "feat/auth")),
        ("name:ccmgr-*", Field("name", "ccmgr-*")),
        ('project:"my app"', Field("project", "my app")),
        ('project:""', Field("project", "")),
        ("project:a:b", Field("project", "a:b")),
        ("(project:x)", Field("project", "x")),
        ("-status:ended", Not(Status("ended"))),
        ("status:ACTIVE", Status("active")),
        ("status:attached", Status("attached")),
        ("status:detached", Status("detached")),
        ("dir:/a/b", Dir("/a/b")),
        ("dir:/a/b/", Dir("/a/b")),
        ("dir:/a/./b/../c", Dir("/a/c")),
        ("dir://a", Dir("/a")),
        ("dir:/", Dir("/")),
        ("dir:~/code", Dir("/home/u/code")),
        ("dir:~", Dir("/home/u")),
        ("dir:sub/dir", Dir("/work/sub/dir")),
        ("dir:.", Dir("/work")),
        ('dir:"/a b/c"', Dir("/a b/c")),
        ("since:2026-11-20", Since("2026-11-20T00:00:00.000000Z")),
        ("until:2026-11-20", Until("2026-11-20T23:59:59.999999Z")),
        ("since:7d", Since("2026-11-19T12:00:00.000000Z")),
        ('since:"1 week ago"', Since("2026-11-19T12:00:00.000000Z")),
        ("until:yesterday", Until("2026-11-25T23:59:59.999999Z")),
        ("12:30", w("12:30")),
        (
            'auth project:my* since:"3 days ago" -status:ended',
            And(
                (
                    w("auth"),
                    Field("project", "my*"),
                    Since("2026-11-23T12:00:00.000000Z"),
                    Not(Status("ended")),
                )
            ),
        ),
    ],
)
def test_grammar(query: str, tree: Node | None) -> None:
    if tree is None:
        with pytest.raises(QueryError):
            parse(query)
        return
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("(auth", 0, "unbalanced '('"),
        ("auth)", 4, "unbalanced ')'"),
        ("a (b (c)", 2, "unbalanced '('"),
        (")", 0, "unbalanced ')'"),
        ("()", 0, "empty parentheses"),
        ('auth "unclosed', 5, "unclosed quote"),
        ('project:"x', 8, "unclosed quote"),
        ("OR a", 0, "needs something before"),
        ("a OR", 2, "needs something after"),
        ("a AND", 2, "needs something after"),
        ("a AND OR b", 6, "needs something after"),
        ("NOT", 0, "needs something after"),
        ("a NOT", 2, "needs something after"),
        ("(a OR)", 5, "needs something after"),
        ("foo:bar", 0, "unknown qualifier 'foo:'"),
        ("auth http://x", 5, "unknown qualifier 'http:'"),
        ("project:", 0, "needs a value"),
        ("status:", 0, "needs a value"),
        ('dir:""', 0, "needs a value"),
        ("status:alive", 7, "unknown status"),
        ('status:"gone"', 8, "unknown status"),
        ("since:yesterdy", 6, "cannot read"),
        ("until:2026-13-01", 6, "not a valid date"),
        ('since:"3 dayz ago"', 9, "unknown time unit"),
    ],
)
def test_errors_point_at_the_mistake(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    error = info.value
    assert fragment in error.message
    assert error.position == position
    assert error.query == query
    assert error.hint


def test_dir_needs_context_for_relative_paths() -> None:
    with pytest.raises(QueryError, match="absolute"):
        parse_query("dir:code", now=NOW)
    with pytest.raises(QueryError, match="~"):
        parse_query("dir:~/code", now=NOW)


def test_limits() -> None:
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)
    with pytest.raises(QueryError, match="nest"):
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    parse(" ".join(["a"] * MAX_TERMS))
    with pytest.raises(QueryError, match="too many terms"):
        parse(" ".join(["a"] * (MAX_TERMS + 1)))
    parse("x" * MAX_QUERY_LENGTH)
    with pytest.raises(QueryError, match="too long"):
        parse("x" * (MAX_QUERY_LENGTH + 1))
    assert parse("NOT " * 2000 + "a") == w("a")  # no recursion per NOT


@pytest.mark.parametrize(
    ("query", "position"),
    [("name:\udcff", 5), ("auth \udcff", 5), ('"a\ud800"', 2), ("\udfff", 0)],
)
def test_undecodable_text_is_a_query_error_at_its_place(query: str, position: int) -> None:
    """Arguments that are not UTF-8 (LANG=C) arrive as lone surrogates: SQLite refused them
    with UnicodeEncodeError (exit 70)."""
    with pytest.raises(QueryError, match="not valid UTF-8") as caught:
        parse_query(query, now=NOW)
    assert caught.value.position == position
