"""The query language's syntax tree: small immutable value classes.

The parser produces these; the compiler (and the tests' reference evaluator) consume them.
Time bounds are already resolved to stored timestamp text, so a tree means the same thing
whenever it is compiled. The tree never leaves the process, so it is plain
:class:`store.values.Value` classes rather than msgspec structs (see there why).
"""

from __future__ import annotations

from store.values import Value

# typing is imported by type checkers only: it costs `ccmgr-watch query` ~10% of its start-up.
# The values themselves are FIELDS and STATUSES (a test keeps each equal to its Literal).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    FieldName = Literal["name", "project", "worktree", "branch", "host"]
    StatusValue = Literal["active", "attached", "detached", "ended"]

FIELDS: tuple[str, ...] = ("name", "project", "worktree", "branch", "host")
"""The values of :data:`FieldName`: the qualifiers that match a session's field."""
STATUSES: tuple[str, ...] = ("active", "attached", "detached", "ended")
"""The values of :data:`StatusValue`: what ``status:`` accepts."""


class Term(Value):
    """A bare word (matches tokens starting with it) or a quoted phrase (whole tokens, in order)."""

    __match_args__ = ("text", "phrase")
    __slots__ = __match_args__
    text: str
    phrase: bool

    def __init__(self, text: str, phrase: bool = False) -> None:
        super().__init__(text, phrase)


class Field(Value):
    """``project:``/``worktree:``/``branch:``/``name:``/``host:``: the whole value,
    case-insensitive.

    ``*`` in ``pattern`` is a wildcard; the empty pattern matches a missing (NULL or empty) value.
    """

    __match_args__ = ("name", "pattern")
    __slots__ = __match_args__
    name: FieldName
    pattern: str

    def __init__(self, name: FieldName, pattern: str) -> None:
        super().__init__(name, pattern)


class Dir(Value):
    """``dir:PATH``: the session's directory is ``path`` or below it (``path`` is normalised)."""

    __match_args__ = ("path",)
    __slots__ = __match_args__
    path: str

    def __init__(self, path: str) -> None:
        super().__init__(path)


class Status(Value):
    """``status:``; ``active`` means attached or detached."""

    __match_args__ = ("value",)
    __slots__ = __match_args__
    value: StatusValue

    def __init__(self, value: StatusValue) -> None:
        super().__init__(value)


class Since(Value):
    """``since:WHEN``: ``last_access >= at`` (stored timestamp text)."""

    __match_args__ = ("at",)
    __slots__ = __match_args__
    at: str

    def __init__(self, at: str) -> None:
        super().__init__(at)


class Until(Value):
    """``until:WHEN``: ``last_access <= at`` (stored timestamp text)."""

    __match_args__ = ("at",)
    __slots__ = __match_args__
    at: str

    def __init__(self, at: str) -> None:
        super().__init__(at)


class Not(Value):
    """Negation."""

    __match_args__ = ("child",)
    __slots__ = __match_args__
    child: Node

    def __init__(self, child: Node) -> None:
        super().__init__(child)


class And(Value):
    """Every child matches (two or more children)."""

    __match_args__ = ("children",)
    __slots__ = __match_args__
    children: tuple[Node, ...]

    def __init__(self, children: tuple[Node, ...]) -> None:
        super().__init__(children)


class Or(Value):
    """At least one child matches (two or more children)."""

    __match_args__ = ("children",)
    __slots__ = __match_args__
    children: tuple[Node, ...]

    def __init__(self, children: tuple[Node, ...]) -> None:
        super().__init__(children)


class MatchAll(Value):
    """The empty query: every session."""

    __slots__ = ()


Node = Term | Field | Dir | Status | Since | Until | Not | And | Or | MatchAll
"""Any node of the tree."""
