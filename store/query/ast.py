"""The query language's syntax tree: small frozen msgspec structs.

The parser produces these; the compiler (and the tests' reference evaluator) consume them.
Time bounds are already resolved to stored timestamp text, so a tree means the same thing
whenever it is compiled.
"""

from __future__ import annotations

from typing import Literal

import msgspec

FieldName = Literal["name", "project", "worktree", "branch"]
StatusValue = Literal["active", "attached", "detached", "ended"]


class Term(msgspec.Struct, frozen=True, tag="term"):
    """A bare word (matches tokens starting with it) or a quoted phrase (whole tokens, in order)."""

    text: str
    phrase: bool = False


class Field(msgspec.Struct, frozen=True, tag="field"):
    """``project:``/``worktree:``/``branch:``/``name:``: the whole value, case-insensitive.

    ``*`` in ``pattern`` is a wildcard; the empty pattern matches a missing (NULL or empty) value.
    """

    name: FieldName
    pattern: str


class Dir(msgspec.Struct, frozen=True, tag="dir"):
    """``dir:PATH``: the session's directory is ``path`` or below it (``path`` is normalised)."""

    path: str


class Status(msgspec.Struct, frozen=True, tag="status"):
    """``status:``; ``active`` means attached or detached."""

    value: StatusValue


class Since(msgspec.Struct, frozen=True, tag="since"):
    """``since:WHEN``: ``last_access >= at`` (stored timestamp text)."""

    at: str


class Until(msgspec.Struct, frozen=True, tag="until"):
    """``until:WHEN``: ``last_access <= at`` (stored timestamp text)."""

    at: str


class Not(msgspec.Struct, frozen=True, tag="not"):
    """Negation."""

    child: Node


class And(msgspec.Struct, frozen=True, tag="and"):
    """Every child matches (two or more children)."""

    children: tuple[Node, ...]


class Or(msgspec.Struct, frozen=True, tag="or"):
    """At least one child matches (two or more children)."""

    children: tuple[Node, ...]


class MatchAll(msgspec.Struct, frozen=True, tag="all"):
    """The empty query: every session."""


Node = Term | Field | Dir | Status | Since | Until | Not | And | Or | MatchAll
"""Any node of the tree."""
