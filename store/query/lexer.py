"""The query language's lexer: text in, a list of positioned tokens out.

Tokens: ``(``, ``)``, the operators ``AND``, ``OR``, ``NOT`` (upper case only) and a leading
``-``, bare words, quoted phrases, and qualifiers (``name:value`` or ``name:"quoted value"``).
Inside quotes, ``\\"`` is a quote and ``\\\\`` a backslash.
"""

from __future__ import annotations

from store.errors import QueryError
from store.values import Value

# No typing and no regular expressions at run time: importing typing and compiling patterns cost
# `ccmgr-watch query` ~10% of its start-up, and the lexer needs neither.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    TokenKind = Literal[
        "lparen", "rparen", "and", "or", "not", "word", "phrase", "qualifier", "end"
    ]

MAX_QUERY_LENGTH = 10_000
# A qualifier's name: what the pattern [A-Za-z_]+ matches, before a ":".
_QUALIFIER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_OPERATORS: dict[str, TokenKind] = {"AND": "and", "OR": "or", "NOT": "not"}
# Characters that end a bare word; a qualifier's unquoted value ends only at space or ")".
_WORD_END = frozenset('()"')


class Token(Value):
    """One token: its kind, its text (unquoted), and where it starts in the query."""

    __match_args__ = ("kind", "text", "position", "field", "quoted")
    __slots__ = __match_args__
    kind: TokenKind
    text: str
    position: int
    field: str
    quoted: bool

    def __init__(
        self, kind: TokenKind, text: str, position: int, field: str = "", quoted: bool = False
    ) -> None:
        super().__init__(kind, text, position, field, quoted)


def _read_quoted(query: str, start: int) -> tuple[str, int]:
    """The text of the quoted string opening at ``start``, and the index after its closing quote."""
    out: list[str] = []
    i = start + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query) and query[i + 1] in '"\\':
            out.append(query[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise QueryError(
        "unclosed quote",
        query=query,
        position=start,
        hint='close the quote, or write \\" for a quote inside a quoted value',
    )


def tokenize(query: str) -> list[Token]:
    """Split a query into tokens (the last is ``end``); raises QueryError on an unclosed quote."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"query is too long ({len(query)} characters, at most {MAX_QUERY_LENGTH})",
            query=query,
            position=MAX_QUERY_LENGTH,
            hint="search for fewer, shorter words",
        )
    # Arguments that are not UTF-8 arrive as lone surrogates (Python's surrogateescape): SQLite
    # cannot take them, and they match nothing a session was recorded with.
    # Encoding to UTF-8 fails on them and only on them, and says where the first one is.
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as undecodable:
        raise QueryError(
            "the query is not valid UTF-8 text",
            query=query,
            position=undecodable.start,
            hint="type the query as UTF-8 (check LANG/LC_ALL); a byte that is not UTF-8 "
            "matches nothing recorded",
        ) from None
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char == "(":
            tokens.append(Token("lparen", char, i))
            i += 1
        elif char == ")":
            tokens.append(Token("rparen", char, i))
            i += 1
        elif char == '"':
            text, end = _read_quoted(query, i)
            tokens.append(Token("phrase", text, i, quoted=True))
            i = end
        elif char == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] not in ")-":
            # A leading "-" negates what follows it; "a - b" and "--" are words.
            tokens.append(Token("not", char, i))
            i += 1
        else:
            name_end = i
            while name_end < n and query[name_end] in _QUALIFIER_CHARS:
                name_end += 1
            if name_end > i and name_end < n and query[name_end] == ":":
                field = query[i:name_end].lower()
                j = name_end + 1
                if j < n and query[j] == '"':
                    value, end = _read_quoted(query, j)
                    tokens.append(Token("qualifier", value, i, field=field, quoted=True))
                    i = end
                    continue
                end = j
                while end < n and not query[end].isspace() and query[end] != ")":
                    end += 1
                tokens.append(Token("qualifier", query[j:end], i, field=field))
                i = end
                continue
            end = i
            while end < n and not query[end].isspace() and query[end] not in _WORD_END:
                end += 1
            word = query[i:end]
            kind = _OPERATORS.get(word, "word")
            tokens.append(Token(kind, word, i))
            i = end
    tokens.append(Token("end", "", n))
    return tokens
