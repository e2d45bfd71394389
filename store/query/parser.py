"""The query language's parser: tokens in, a syntax tree (:mod:`store.query.ast`) out.

Grammar (precedence NOT, then AND, then OR; juxtaposition is AND)::

    query   := [or_expr] END
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*
    unary   := ("NOT" | "-")* primary
    primary := WORD | PHRASE | QUALIFIER | "(" or_expr ")"

Pure: the current time, the user's zone, home folder and working folder come in as arguments, so
``since:yesterday`` or ``dir:~/code`` resolve here and the tree is self-contained.
"""

from __future__ import annotations

import posixpath
from datetime import datetime, tzinfo

from store.errors import QueryError
from store.query.ast import (
    FIELDS,
    STATUSES,
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
from store.query.lexer import Token, tokenize
from store.query.when import parse_when

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from store.query.lexer import TokenKind

MAX_DEPTH = 32
"""Most parentheses that may nest."""
MAX_TERMS = 200
"""Most words, phrases and qualifiers in one query (keeps the SQL and FTS expressions small)."""

QUALIFIERS: tuple[str, ...] = (*FIELDS, "dir", "status", "since", "until")
_QUALIFIER_HINT = "qualifiers are " + ", ".join(f"{q}:" for q in QUALIFIERS)


class _Parser:
    def __init__(
        self,
        query: str,
        *,
        now: datetime,
        tz: tzinfo | None,
        home: str | None,
        cwd: str | None,
    ) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0
        self.now = now
        self.tz = tz
        self.home = home
        self.cwd = cwd
        self.depth = 0
        self.terms = 0

    def error(self, message: str, position: int, hint: str | None = None) -> QueryError:
        return QueryError(message, query=self.query, position=position, hint=hint)

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def kind(self) -> TokenKind:
        """The current token's kind (a call, so type narrowing does not outlive advance())."""
        return self.tokens[self.index].kind

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if self.current.kind == "end":
            return MatchAll()
        node = self.or_expr()
        token = self.current
        if token.kind == "rparen":
            raise self.error("unbalanced ')'", token.position, "remove it or add a matching '('")
        if token.kind != "end":  # pragma: no cover - every other token starts a unary
            raise self.error(f"unexpected {token.text!r}", token.position)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.current.kind == "or":
            operator = self.advance()
            self.expect_operand(operator)
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while True:
            token = self.current
            if token.kind == "and":
                self.advance()
                self.expect_operand(token)
            elif token.kind in ("end", "rparen", "or"):
                break
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def expect_operand(self, operator: Token) -> None:
        nxt = self.current
        if nxt.kind in ("end", "rparen", "or", "and"):
            raise self.error(
                f"{operator.text!r} needs something after it",
                nxt.position if nxt.kind != "end" else operator.position,
                f"add a word after {operator.text}, or quote it to search for it: "
                f'"{operator.text}"',
            )

    def unary(self) -> Node:
        negations = 0
        while self.current.kind == "not":
            operator = self.advance()
            self.expect_operand(operator)
            negations += 1
        node = self.primary()
        return Not(node) if negations % 2 else node  # NOT NOT x is x (no NULLs reach the tree)

    def primary(self) -> Node:
        token = self.current
        if token.kind == "lparen":
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(
                    f"parentheses nest deeper than {MAX_DEPTH}",
                    token.position,
                    "simplify the query",
                )
            if self.kind() == "rparen":
                raise self.error(
                    "empty parentheses", token.position, "put a word inside or remove them"
                )
            if self.kind() == "end":
                raise self.error("unbalanced '('", token.position, "add a matching ')'")
            node = self.or_expr()
            if self.kind() != "rparen":
                raise self.error("unbalanced '('", token.position, "add a matching ')'")
            self.advance()
            self.depth -= 1
            return node
        if token.kind == "rparen":
            raise self.error("unbalanced ')'", token.position, "remove it or add a matching '('")
        if token.kind in ("and", "or"):
            raise self.error(
                f"{token.text!r} needs something before it",
                token.position,
                f'add a word before {token.text}, or quote it to search for it: "{token.text}"',
            )
        self.advance()
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(
                f"too many terms (at most {MAX_TERMS})", token.position, "search for fewer words"
            )
        if token.kind == "word":
            return Term(token.text)
        if token.kind == "phrase":
            return Term(token.text, phrase=True)
        if token.kind == "qualifier":
            return self.qualifier(token)
        raise self.error(f"unexpected {token.text!r}", token.position)  # pragma: no cover

    def qualifier(self, token: Token) -> Node:
        field, value = token.field, token.text
        value_at = token.position + len(field) + 1 + (1 if token.quoted else 0)
        if field not in QUALIFIERS:
            raise self.error(
                f"unknown qualifier '{field}:'",
                token.position,
                f"{_QUALIFIER_HINT}; to search for text with a colon, quote it",
            )
        if not value and not (token.quoted and field in FIELDS):
            raise self.error(
                f"'{field}:' needs a value",
                token.position,
                f'write {field}:VALUE, or {field}:"a value with spaces"'
                + (f'; {field}:"" finds sessions without one' if field in FIELDS else ""),
            )
        if field in FIELDS:
            return Field(field, value)  # type: ignore[arg-type]  # checked against FIELDS above
        if field == "status":
            status = value.lower()
            if status not in STATUSES:
                raise self.error(
                    f"unknown status {value!r}",
                    value_at,
                    "status is one of " + ", ".join(STATUSES),
                )
            return Status(status)  # type: ignore[arg-type]  # checked against STATUSES above
        if field == "dir":
            return Dir(self.directory(value, value_at))
        try:
            interval = parse_when(value, now=self.now, tz=self.tz)
        except QueryError as exc:
            raise self.error(exc.message, value_at + exc.position, exc.hint) from None
        return Since(interval.start) if field == "since" else Until(interval.end)

    def directory(self, value: str, value_at: int) -> str:
        path = value
        if path == "~" or path.startswith("~/"):
            if self.home is None:
                raise self.error("dir: cannot use '~' here", value_at, "give the full path")
            path = self.home + path[1:]
        if not path.startswith("/"):
            if self.cwd is None:
                raise self.error(
                    "dir: needs an absolute path", value_at, "start the path with / or ~/"
                )
            path = posixpath.join(self.cwd, path)
        # normpath keeps a leading "//" (POSIX allows it a meaning); a folder is a folder.
        normal = posixpath.normpath(path)
        return "/" + normal.lstrip("/")


def parse_query(
    query: str,
    *,
    now: datetime,
    tz: tzinfo | None = None,
    home: str | None = None,
    cwd: str | None = None,
) -> Node:
    """Parse a query into a syntax tree; raises QueryError (with the position) if it is not one.

    ``now`` (aware) anchors relative times; ``tz`` is the user's zone (None: the system's);
    ``home`` and ``cwd`` resolve ``dir:~/x`` and relative ``dir:`` paths (None: not allowed).
    """
    return _Parser(query, now=now, tz=tz, home=home, cwd=cwd).parse()
