"""A plain-Python evaluator of query trees: what the compiled SQL must agree with.

It shares nothing with the compiler but the tokenizer mirror (store.query.text), and spells each
rule of docs/search.md out directly.
"""

from __future__ import annotations

import re
from typing import Any

from store.query.ast import And, Dir, Field, MatchAll, Node, Not, Or, Since, Status, Term, Until
from store.query.text import fts_tokens

FTS_COLUMNS = ("name", "project", "worktree", "branch", "directory")


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _column_has(tokens: list[str], wanted: list[str], *, prefix: bool) -> bool:
    n = len(wanted)
    for i in range(len(tokens) - n + 1):
        if tokens[i : i + n - 1] != wanted[:-1]:
            continue
        last = tokens[i + n - 1]
        if last == wanted[-1] or (prefix and last.startswith(wanted[-1])):
            return True
    return False


def _like(value: str, pattern: str) -> bool:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif "a" <= char.lower() <= "z" and char.isascii():
            parts.append(f"[{char.lower()}{char.upper()}]")
        else:
            parts.append(re.escape(char))
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None


def matches(node: Node, session: dict[str, Any]) -> bool:
    """Whether ``session`` (a dict of the sessions columns) matches ``node``."""
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, Term):
        wanted = fts_tokens(node.text)
        if not wanted:
            return True  # a word without letters or digits ("&") is ignored
        return any(
            _column_has(fts_tokens(session.get(c) or ""), wanted, prefix=not node.phrase)
            for c in FTS_COLUMNS
        )
    if isinstance(node, Field):
        value: str | None = session.get(node.name)
        if node.pattern == "":
            return value is None or value == ""
        if value is None:
            return False
        if "*" in node.pattern:
            return _like(value, node.pattern)
        return _ascii_lower(value) == _ascii_lower(node.pattern)
    if isinstance(node, Dir):
        directory: str | None = session.get("directory")
        if directory is None:
            return False
        if node.path == "/":
            return directory.startswith("/")
        return directory == node.path or directory.startswith(node.path + "/")
    if isinstance(node, Status):
        if node.value == "active":
            return session["status"] in ("attached", "detached")
        return bool(session["status"] == node.value)
    if isinstance(node, Since):
        return str(session["last_access"]) >= node.at
    if isinstance(node, Until):
        return str(session["last_access"]) <= node.at
    if isinstance(node, Not):
        return not matches(node.child, session)
    if isinstance(node, And):
        return all(matches(c, session) for c in node.children)
    if isinstance(node, Or):
        return any(matches(c, session) for c in node.children)
    raise TypeError(node)
