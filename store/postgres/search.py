"""The query language compiled to PostgreSQL, and run.

The tree is :mod:`store.query`'s (one parser for both stores); this is its second backend.
Full text goes through the generated ``sessions.search`` tsvector and its GIN index
(sql/postgresql/001_initial.sql): a bare word is a prefix (``'auth':*``), a phrase adjacent
tokens (``'auth' <-> 'service'``), the query's tokens cut and folded in Python exactly as the
SQLite compiler cuts them (store.query.text). Qualifiers use the expression indexes that match
their semantics: ``lower(column)`` (ASCII case folding, as SQLite's NOCASE and LIKE) for
``name:``/``project:``/``worktree:``/``branch:``/``host:``, byte ranges on ``directory`` for
``dir:``. Every leaf is two-valued (never NULL), so NOT means what the reference evaluator says.

Relevance is PostgreSQL's own ``ts_rank`` over the query's words (newer first among equals),
not SQLite's bm25: the same sessions match, their order under ``--sort relevance`` may differ.
"""

from __future__ import annotations

from typing import Any

from store.columns import SESSION_COLUMNS, like_escape
from store.postgres.reads import PgReader
from store.query.ast import And, Dir, Field, MatchAll, Node, Not, Or, Since, Status, Term, Until
from store.query.text import fts_tokens
from store.search import SearchHit, hit_from_row

_SELECT = ", ".join(f"sessions.{c}" for c in SESSION_COLUMNS)
_ORDER = {
    "recent": "sessions.last_access DESC, sessions.seq DESC",
    "created": "sessions.created_at DESC, sessions.seq DESC",
    "name": "lower(sessions.name) ASC, sessions.last_access DESC, sessions.seq DESC",
}


def _ascii_lower(text: str) -> str:
    # lower() on a COLLATE "C" column folds ASCII letters only: the pattern must match that.
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_of(term: Term) -> str | None:
    """The tsquery text of a word or phrase, or None when it holds no token (it is ignored)."""
    tokens = fts_tokens(term.text)
    if not tokens:
        return None
    parts = [_lexeme(t) for t in tokens]
    if not term.phrase:
        parts[-1] += ":*"
    return " <-> ".join(parts)


def _where(node: Node, params: list[Any]) -> str:
    if isinstance(node, MatchAll):
        return "TRUE"
    if isinstance(node, Term):
        query = tsquery_of(node)
        if query is None:
            return "TRUE"
        params.append(query)
        return "sessions.search @@ %s::tsquery"
    if isinstance(node, Field):
        column = f"sessions.{node.name}"
        if node.pattern == "":
            return f"({column} IS NULL OR {column} = '')"
        if "*" in node.pattern:
            params.append(_ascii_lower(like_escape(node.pattern).replace("*", "%")))
            return f"({column} IS NOT NULL AND lower({column}) LIKE %s ESCAPE '\\')"
        params.append(_ascii_lower(node.pattern))
        return f"({column} IS NOT NULL AND lower({column}) = %s)"
    if isinstance(node, Dir):
        column = "sessions.directory"
        if node.path == "/":
            params.extend(["/", "0"])
            return f"({column} IS NOT NULL AND {column} >= %s AND {column} < %s)"
        # Everything below "/a/b" sorts between "/a/b/" and "/a/b0" ("0" follows "/").
        params.extend([node.path, node.path + "/", node.path + "0"])
        return f"({column} IS NOT NULL AND ({column} = %s OR ({column} >= %s AND {column} < %s)))"
    if isinstance(node, Status):
        if node.value == "active":
            return "sessions.status IN ('attached', 'detached')"
        params.append(node.value)
        return "sessions.status = %s"
    if isinstance(node, Since):
        params.append(node.at)
        return "sessions.last_access >= %s"
    if isinstance(node, Until):
        params.append(node.at)
        return "sessions.last_access <= %s"
    if isinstance(node, Not):
        return f"NOT ({_where(node.child, params)})"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(f"({_where(c, params)})" for c in node.children) + ")"
    raise TypeError(f"not a query node: {node!r}")


def _positive_terms(node: Node) -> list[str]:
    """The tsqueries of the words that count towards relevance (not under a NOT)."""
    if isinstance(node, Term):
        query = tsquery_of(node)
        return [] if query is None else [query]
    if isinstance(node, And | Or):
        return [q for child in node.children for q in _positive_terms(child)]
    return []


def compile_pg(
    tree: Node, *, sort: str = "relevance", limit: int | None = 20, offset: int = 0
) -> tuple[str, list[Any], bool]:
    """SQL and parameters over ``sessions``; rows are SESSION_COLUMNS, then the score when
    ranked (the third value)."""
    params: list[Any] = []
    where = _where(tree, params)
    terms = _positive_terms(tree) if sort == "relevance" else []
    select, order = _SELECT, _ORDER["recent" if sort == "relevance" else sort]
    if terms:
        # One tsquery for the rank: any of the words (parenthesised: each may be a phrase).
        params_rank = [" | ".join(f"({t})" for t in terms)]
        select += ", ts_rank(sessions.search, %s::tsquery) AS score"
        params = params_rank + params
        order = f"score DESC, {order}"
    sql = f"SELECT {select} FROM sessions WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    if offset > 0:
        sql += " OFFSET %s"
        params.append(offset)
    return sql, params, bool(terms)


def search_pg(
    reader: PgReader,
    tree: Node,
    *,
    sort: str = "relevance",
    limit: int | None = 20,
    offset: int = 0,
) -> list[SearchHit]:
    """Run a query tree on PostgreSQL; the hits, in order."""
    sql, params, ranked = compile_pg(tree, sort=sort, limit=limit, offset=offset)
    return [hit_from_row(row, ranked=ranked) for row in reader.run(sql.encode(), params)]
