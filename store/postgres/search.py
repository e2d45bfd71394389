"""The query language compiled to PostgreSQL, and run.

The tree is :mod:`store.query`'s (one parser for both stores); this is its second backend.
Full text goes through the generated ``sessions.search`` tsvector and its GIN index
(sql/postgresql/001_initial.sql): a bare word is a prefix (``'auth':*``), a phrase adjacent
tokens (``'auth' <-> 'service'``), the query's tokens cut and folded in Python exactly as the
SQLite compiler cuts them (store.query.text). Qualifiers use the expression indexes that match
their semantics: ``lower(column)`` (ASCII case folding, as SQLite's NOCASE and LIKE) for
``name:``/``project:``/``worktree:``/``branch:``/``host:``, byte ranges on ``directory`` for
``dir:``. Every leaf is two-valued (never NULL), so NOT means what the reference evaluator says.

Relevance is PostgreSQL's own ``ts_rank`` over the query's words (newer first among equals) on
the newest RELEVANCE_WINDOW matches, older matches after them by recency (SQLite's window), not
SQLite's bm25: the same sessions match, their order under ``--sort relevance`` may differ.
"""

from __future__ import annotations

from typing import Any

from store.columns import SESSION_COLUMNS, ascii_lower, like_escape
from store.postgres.reads import PgReader
from store.query.ast import And, Dir, Field, MatchAll, Node, Not, Or, Since, Status, Term, Until
from store.query.compiler import RELEVANCE_WINDOW
from store.query.text import fts_tokens
from store.search import SearchHit, hit_from_row

_SELECT = ", ".join(f"sessions.{c}" for c in SESSION_COLUMNS)
_ORDER = {
    "recent": "sessions.last_access DESC, sessions.seq DESC",
    "created": "sessions.created_at DESC, sessions.seq DESC",
    "name": "lower(sessions.name) ASC, sessions.last_access DESC, sessions.seq DESC",
}


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
            params.append(ascii_lower(like_escape(node.pattern).replace("*", "%")))
            return f"({column} IS NOT NULL AND lower({column}) LIKE %s ESCAPE '\\')"
        params.append(ascii_lower(node.pattern))
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


def where_pg(tree: Node) -> tuple[str, list[Any]]:
    """A WHERE expression over ``sessions`` selecting what ``tree`` matches, with its
    parameters (``%s`` placeholders): what ``stats`` selects on PostgreSQL, as
    store.query.compiler.where_sql on SQLite."""
    params: list[Any] = []
    return _where(tree, params), params


def _positive_terms(node: Node) -> list[str]:
    """The tsqueries of the words that count towards relevance (not under a NOT)."""
    if isinstance(node, Term):
        query = tsquery_of(node)
        return [] if query is None else [query]
    if isinstance(node, And | Or):
        return [q for child in node.children for q in _positive_terms(child)]
    return []


def compile_pg(
    tree: Node,
    *,
    sort: str = "relevance",
    limit: int | None = 20,
    offset: int = 0,
    window: int = RELEVANCE_WINDOW,
) -> tuple[str, list[Any], bool]:
    """SQL and parameters over ``sessions``; rows are SESSION_COLUMNS, then the score when
    ranked (the third value).

    Relevance, as on SQLite, ranks a window: the ``window`` most recent matches by ts_rank,
    then every older match by recency. A page inside the window reads only the window (the
    newest matches, from the last_access order, then ts_rank on those alone); ts_rank over
    every match of a word in half of all sessions cost 200+ ms at 100,000 sessions.
    """
    params: list[Any] = []
    where = _where(tree, params)
    terms = _positive_terms(tree) if sort == "relevance" else []
    order = _ORDER["recent" if sort == "relevance" else sort]
    page, page_params = "", []
    if limit is not None:
        page += " LIMIT %s"
        page_params.append(limit)
    if offset > 0:
        page += " OFFSET %s"
        page_params.append(offset)
    if not terms:
        return (
            f"SELECT {_SELECT} FROM sessions WHERE {where} ORDER BY {order}{page}",
            [
                *params,
                *page_params,
            ],
            False,
        )
    # One tsquery for the rank: any of the words (parenthesised: each may be a phrase).
    rank = [" | ".join(f"({t})" for t in terms)]
    newest = (
        f"SELECT sessions.seq FROM sessions WHERE {where} "
        f"ORDER BY {_ORDER['recent']} LIMIT {int(window)}"
    )
    score = "ts_rank(sessions.search, %s::tsquery)"
    if limit is not None and limit + max(0, offset) <= window:
        sql = (
            f"SELECT {_SELECT}, {score} AS score FROM sessions "
            f"WHERE sessions.seq IN ({newest}) ORDER BY score DESC, {order}{page}"
        )
        return sql, [*rank, *params, *page_params], True
    sql = (
        f"WITH newest AS MATERIALIZED ({newest}) "
        f"SELECT {_SELECT}, CASE WHEN sessions.seq IN (SELECT seq FROM newest) "
        f"THEN {score} ELSE 0 END AS score, "
        "(sessions.seq IN (SELECT seq FROM newest)) AS ranked "
        f"FROM sessions WHERE {where} ORDER BY ranked DESC, score DESC, {order}{page}"
    )
    return sql, [*params, *rank, *params, *page_params], True


def search_pg(
    reader: PgReader,
    tree: Node,
    *,
    sort: str = "relevance",
    limit: int | None = 20,
    offset: int = 0,
    window: int = RELEVANCE_WINDOW,
) -> list[SearchHit]:
    """Run a query tree on PostgreSQL; the hits, in order (``window``: see compile_pg)."""
    sql, params, ranked = compile_pg(tree, sort=sort, limit=limit, offset=offset, window=window)
    return [hit_from_row(row, ranked=ranked) for row in reader.run(sql.encode(), params)]
