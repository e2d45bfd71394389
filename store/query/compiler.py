"""The query compiler: a syntax tree in, one parameterised SQL statement out.

Pure. Every full-text part becomes ``sessions.rowid IN (SELECT rowid FROM sessions_fts WHERE
sessions_fts MATCH ?)``: joining the FTS table with ordinary filters lets SQLite's planner probe
the index once per row, hundreds of times slower at a million sessions (see the project's
performance notes). Neighbouring full-text parts of one AND or OR are merged into one MATCH, where
FTS5 intersects and unites doclists itself. User text reaches FTS5 only inside double quotes (with
quotes doubled), so FTS5 syntax in a query (``NEAR``, ``^``, ``*``, ``:``) is searched for, never
obeyed; everything else is a bound parameter.

Ranking (``relevance``, only when the query has words): bm25 over the words that are not negated,
name weighted highest, then the most recent first. The scores come from one pass over the index,
a sub-select that is always the outer loop (MATERIALIZED, or flattened under a CROSS JOIN, which
fixes the join order), so the index is never probed once per row. When that pass is exactly the
query's top-level full-text part it is also that part's filter: with other filters, bm25 is
computed only for the matches that pass them; with words alone, only the matches that can reach
the page (by score) are looked up in ``sessions``.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from store.columns import SESSION_COLUMNS
from store.query.ast import And, Dir, Field, MatchAll, Node, Not, Or, Since, Status, Term, Until
from store.query.text import has_tokens
from store.values import Value

SearchSort = Literal["relevance", "recent", "created", "name"]
SORTS: tuple[str, ...] = ("relevance", "recent", "created", "name")

FTS_TABLE: Final = "sessions_fts"
# bm25 column weights in the index's column order: name, project, worktree, branch, directory.
BM25_WEIGHTS: Final = (10.0, 4.0, 3.0, 3.0, 1.0)
RESULT_COLUMNS: Final = SESSION_COLUMNS
_SELECT: Final = ", ".join(f"sessions.{c}" for c in RESULT_COLUMNS)
_FTS_IN: Final = f"sessions.rowid IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
_FTS_NOT_IN: Final = (
    f"sessions.rowid NOT IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
)
_ORDER: Final = {
    "recent": "sessions.last_access DESC, sessions.rowid DESC",
    "created": "sessions.created_at DESC, sessions.rowid DESC",
    "name": "sessions.name COLLATE NOCASE ASC, sessions.last_access DESC, sessions.rowid DESC",
}


NARROW_CAP: Final = 4096
"""Most candidates an index may pick out for the narrowed plan (see :class:`Narrowed`)."""
NARROW_MIN_MATCHES: Final = 128
"""Fewer full-text matches than this are cheaper to look up than to count candidates for."""


class Narrowed(Value):
    """A second plan for a ranked query with words and an indexed filter, chosen at run time.

    ``sql``/``params`` return exactly what the query's main plan returns. The main plan looks
    up every full-text match in ``sessions`` to test the filters; this one first takes the
    rowids the filter's index picks out (a set, read once), so only the matches among them are
    looked up and scored. That wins when the index picks out few rows and loses badly when it
    picks out most of the table, so the full-text matches are counted first (``matches_sql``,
    up to half of :data:`NARROW_CAP`), then the candidates (``candidates_sql``, up to the
    bound :meth:`candidate_limit` gives, its last parameter): both cheap and bounded.
    """

    __match_args__ = ("sql", "params", "matches_sql", "candidates_sql", "candidates_params")
    __slots__ = __match_args__
    sql: str
    params: tuple[Any, ...]
    matches_sql: str
    candidates_sql: str
    candidates_params: tuple[Any, ...]

    def __init__(
        self,
        sql: str,
        params: tuple[Any, ...],
        matches_sql: str,
        candidates_sql: str,
        candidates_params: tuple[Any, ...],
    ) -> None:
        super().__init__(sql, params, matches_sql, candidates_sql, candidates_params)

    @property
    def matches_params(self) -> tuple[Any, ...]:
        """Parameters of ``matches_sql``: the MATCH, and how many matches are worth counting."""
        return (self.params[0], NARROW_CAP // 2)

    @staticmethod
    def candidate_limit(matches: int) -> int:
        """How many candidates to count: the narrowed plan runs only if there are fewer.

        Collecting a candidate costs about a third of looking a match up in ``sessions``: fewer
        than twice as many candidates as matches is never much slower and usually far faster.
        0 (do not count, run the main plan) for a handful of matches.
        """
        if matches < NARROW_MIN_MATCHES:
            return 0
        return min(NARROW_CAP, 2 * matches)


class CompiledQuery(Value):
    """SQL and its parameters; rows are RESULT_COLUMNS, then ``score`` when ``ranked``.

    ``narrowed``: an equivalent plan to run instead when its probe says so (store.search does).
    """

    __match_args__ = ("sql", "params", "ranked", "narrowed")
    __slots__ = __match_args__
    sql: str
    params: tuple[Any, ...]
    ranked: bool
    narrowed: Narrowed | None

    def __init__(
        self,
        sql: str,
        params: tuple[Any, ...],
        ranked: bool,
        narrowed: Narrowed | None = None,
    ) -> None:
        super().__init__(sql, params, ranked, narrowed)


class _Const(Value):
    __match_args__ = ("value",)
    __slots__ = __match_args__
    value: bool

    def __init__(self, value: bool) -> None:
        super().__init__(value)


_Simple = Node | _Const


def _simplify(node: Node) -> _Simple:
    """Flatten nested AND/OR and fold words without any token (``&``) into "always true"."""
    if isinstance(node, MatchAll):
        return _Const(True)
    if isinstance(node, Term):
        return node if has_tokens(node.text) else _Const(True)
    if isinstance(node, Not):
        child = _simplify(node.child)
        if isinstance(child, _Const):
            return _Const(not child.value)
        if isinstance(child, Not):
            return child.child
        return Not(child)
    if isinstance(node, And | Or):
        is_and = isinstance(node, And)
        kept: list[Node] = []
        for raw in node.children:
            child = _simplify(raw)
            if isinstance(child, _Const):
                if child.value != is_and:  # false in an AND, true in an OR decides it
                    return child
                continue
            if isinstance(child, type(node)):
                kept.extend(child.children)
            else:
                kept.append(child)
        if not kept:
            return _Const(is_and)
        if len(kept) == 1:
            return kept[0]
        return And(tuple(kept)) if is_and else Or(tuple(kept))
    return node


def fts_quote(text: str) -> str:
    """``text`` as an FTS5 string: in double quotes, inner quotes doubled.

    NUL becomes a space: FTS5 reads its query as a C string, and NUL separates tokens anyway.
    """
    return '"' + text.replace("\x00", " ").replace('"', '""') + '"'


def _fts(node: Node) -> str | None:
    """The FTS5 expression for ``node`` if it can be one (a standalone NOT cannot), else None."""
    if isinstance(node, Term):
        return fts_quote(node.text) + ("" if node.phrase else "*")
    if isinstance(node, Or):
        parts = [_fts(child) for child in node.children]
        if any(p is None for p in parts):
            return None
        return " OR ".join(f"({p})" for p in parts)
    if isinstance(node, And):
        positive, negative = _split_and(node.children)
        if len(positive) + len(negative) != len(node.children) or not positive:
            return None
        return _and_fts(positive, negative)
    return None


def _split_and(children: tuple[Node, ...]) -> tuple[list[str], list[str]]:
    """FTS expressions of an AND's children that are full-text, and of negated full-text ones."""
    positive: list[str] = []
    negative: list[str] = []
    for child in children:
        if isinstance(child, Not):
            inner = _fts(child.child)
            if inner is not None:
                negative.append(inner)
        else:
            expr = _fts(child)
            if expr is not None:
                positive.append(expr)
    return positive, negative


def _and_fts(positive: list[str], negative: list[str]) -> str:
    expr = " AND ".join(f"({p})" for p in positive)
    if negative:
        expr = f"({expr}) NOT (" + " OR ".join(f"({n})" for n in negative) + ")"
    return expr


def _like_pattern(pattern: str) -> str:
    """A LIKE pattern (escape ``\\``) where only ``*`` is a wildcard."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _leaf_sql(node: Node, params: list[Any]) -> str:
    if isinstance(node, Field):
        column = f"sessions.{node.name}"
        if node.pattern == "":
            return f"({column} IS NULL OR {column} = '')"
        if "*" in node.pattern:
            params.append(_like_pattern(node.pattern))
            # IS NOT NULL first: "0 AND NULL" is 0, so NOT never meets a NULL.
            return f"({column} IS NOT NULL AND {column} LIKE ? ESCAPE '\\')"
        params.append(node.pattern)
        return f"{column} IS ? COLLATE NOCASE"
    if isinstance(node, Dir):
        column = "sessions.directory"
        if node.path == "/":
            params.extend(["/", "0"])
            return f"({column} IS NOT NULL AND {column} >= ? AND {column} < ?)"
        # Everything below "/a/b" sorts between "/a/b/" and "/a/b0" ("0" follows "/").
        params.extend([node.path, node.path + "/", node.path + "0"])
        return f"({column} IS NOT NULL AND ({column} = ? OR ({column} >= ? AND {column} < ?)))"
    if isinstance(node, Status):
        if node.value == "active":
            return "sessions.status IN ('attached', 'detached')"
        params.append(node.value)
        return "sessions.status = ?"
    if isinstance(node, Since):
        params.append(node.at)
        return "sessions.last_access >= ?"
    if isinstance(node, Until):
        params.append(node.at)
        return "sessions.last_access <= ?"
    raise TypeError(f"not a leaf: {node!r}")  # pragma: no cover


def _sql(node: _Simple, params: list[Any], *, ranked_join: bool = False) -> str:
    """A WHERE expression for ``node`` that is never NULL.

    ``ranked_join``: the query joins the materialized ranking of this node's top-level full-text
    part, which already restricts the rows to it; that part is then left out here.
    """
    if isinstance(node, _Const):
        return "1" if node.value else "0"
    whole = _fts(node)
    if whole is not None:
        if ranked_join:
            return "1"
        params.append(whole)
        return _FTS_IN
    if isinstance(node, Not):
        inner = _fts(node.child)
        if inner is not None:
            params.append(inner)
            return _FTS_NOT_IN
        return f"NOT ({_sql(node.child, params)})"
    if isinstance(node, And):
        positive, negative = _split_and(node.children)
        parts: list[str] = []
        if positive:
            if not ranked_join:
                params.append(_and_fts(positive, negative))
                parts.append(_FTS_IN)
        elif negative:
            params.append(" OR ".join(f"({n})" for n in negative))
            parts.append(_FTS_NOT_IN)
        for child in node.children:
            if _is_fts_conjunct(child):
                continue
            parts.append(_sql(child, params))
        return "(" + " AND ".join(parts or ["1"]) + ")"
    if isinstance(node, Or):
        texts = [e for e in (_fts(c) for c in node.children) if e is not None]
        parts = []
        if texts:
            params.append(" OR ".join(f"({t})" for t in texts))
            parts.append(_FTS_IN)
        parts.extend(_sql(c, params) for c in node.children if _fts(c) is None)
        return "(" + " OR ".join(parts) + ")"
    return _leaf_sql(node, params)


def _is_fts_conjunct(node: Node) -> bool:
    if isinstance(node, Not):
        return _fts(node.child) is not None
    return _fts(node) is not None


def _rank_terms(node: _Simple, negated: bool = False) -> list[str]:
    """FTS expressions of the words and phrases that are not negated (what relevance scores)."""
    if isinstance(node, Term):
        return [] if negated else [_fts(node) or ""]
    if isinstance(node, Not):
        return _rank_terms(node.child, not negated)
    if isinstance(node, And | Or):
        return [t for child in node.children for t in _rank_terms(child, negated)]
    return []


def _rank_expr(node: _Simple) -> tuple[str, bool] | None:
    """The MATCH that scores the results, and whether every result matches it.

    That is the query's own full-text part when it is the whole query or one of its top-level
    conjuncts (the common case); otherwise the OR of every word that is not negated.
    """
    terms = _rank_terms(node)
    if not terms:
        return None
    whole = _fts(node) if not isinstance(node, _Const) else None
    if whole is not None:
        return whole, True
    if isinstance(node, And):
        positive, negative = _split_and(node.children)
        if positive:
            return _and_fts(positive, negative), True
    return " OR ".join(f"({t})" for t in dict.fromkeys(terms)), False


def _indexed_filter(node: And) -> tuple[str, list[Any]] | None:
    """Top-level conjuncts one index answers alone, as SQL and parameters, or None.

    An exact ``name:``/``project:``/``worktree:``/``branch:`` (its NOCASE index, with
    last_access second) with any ``since:``/``until:``, or those alone (the last_access index):
    counting and collecting their rows reads only the index, never the table.
    """
    fields = [
        c for c in node.children if isinstance(c, Field) and c.pattern and "*" not in c.pattern
    ]
    times: list[Node] = [c for c in node.children if isinstance(c, Since | Until)]
    parts = [*fields[:1], *times]
    if not parts:
        return None
    params: list[Any] = []
    return " AND ".join(_leaf_sql(part, params) for part in parts), params


def compile_query(
    tree: Node, *, sort: SearchSort = "relevance", limit: int | None = 20, offset: int = 0
) -> CompiledQuery:
    """Compile a syntax tree into SQL over ``sessions``; ``limit=None`` means no limit."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    node = _simplify(tree)
    params: list[Any] = []
    rank = _rank_expr(node) if sort == "relevance" else None
    page = [limit if limit is not None else -1, max(0, offset)]
    if rank is None:
        where = _sql(node, params)
        order = _ORDER["recent" if sort == "relevance" else sort]
        sql = f"SELECT {_SELECT} FROM sessions WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
        return CompiledQuery(sql, (*params, *page), ranked=False)
    match, covers = rank
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    bm25 = f"bm25({FTS_TABLE}, {weights})"
    final = (
        f"SELECT {_SELECT}, -page.score AS score FROM page "
        f"JOIN sessions ON sessions.rowid = page.rid "
        f"ORDER BY page.score, page.last_access DESC, page.rid DESC"
    )
    page_order = f"ORDER BY 2, {_ORDER['recent']} LIMIT ? OFFSET ?"
    if not covers:
        # Some results may match none of the ranked words (``auth OR project:x``): a LEFT JOIN
        # scores what the WHERE, sub-selects and all, lets through. MATERIALIZED: bm25 comes
        # from one pass over the index, never once per row (the join trap).
        where = _sql(node, params)
        sql = (
            f"WITH ranked (rid, score) AS MATERIALIZED ("
            f"SELECT rowid, {bm25} FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?), "
            f"page (rid, score, last_access) AS MATERIALIZED ("
            f"SELECT sessions.rowid, coalesce(ranked.score, 0.0), sessions.last_access "
            f"FROM sessions LEFT JOIN ranked ON ranked.rid = sessions.rowid WHERE {where} "
            f"{page_order}) {final}"
        )
        return CompiledQuery(sql, (match, *params, *page), ranked=True)
    # The ranking MATCH is the query's own full-text part, so its one pass is also the filter
    # (a second pass for a sub-select would double the cost). It is always the outer loop:
    # CROSS JOIN fixes SQLite's join order, so the planner can never drive from a filter's index
    # and probe the index once per row (the join trap: hundreds of times slower at 1 M).
    if isinstance(node, _Const) or _fts(node) is None:
        # Other filters too: the sub-select is flattened into the join, so bm25 is computed
        # only for the matches that pass them, each looked up once by rowid.
        where = _sql(node, params, ranked_join=True)

        def ranked_with(narrow: str) -> str:
            return (
                f"WITH page (rid, score, last_access) AS MATERIALIZED ("
                f"SELECT ranked.rid, ranked.score, sessions.last_access "
                f"FROM (SELECT rowid AS rid, {bm25} AS score FROM {FTS_TABLE} "
                f"WHERE {FTS_TABLE} MATCH ?{narrow}) AS ranked "
                f"CROSS JOIN sessions ON sessions.rowid = ranked.rid WHERE {where} "
                f"{page_order}) {final}"
            )

        narrowed = None
        indexed = _indexed_filter(node) if isinstance(node, And) else None
        if indexed is not None:
            narrow_sql, narrow_params = indexed
            # "+rowid": a set to test each match against, never handed to FTS5 as a rowid
            # constraint (which would run the full-text query once per candidate).
            narrowed = Narrowed(
                ranked_with(
                    f" AND +rowid IN (SELECT sessions.rowid FROM sessions WHERE {narrow_sql})"
                ),
                (match, *narrow_params, *params, *page),
                f"SELECT count(*) FROM (SELECT 1 FROM {FTS_TABLE} "
                f"WHERE {FTS_TABLE} MATCH ? LIMIT ?)",
                f"SELECT count(*) FROM (SELECT 1 FROM sessions WHERE {narrow_sql} LIMIT ?)",
                tuple(narrow_params),
            )
        return CompiledQuery(ranked_with(""), (match, *params, *page), True, narrowed)
    # Words alone: every match is a result and needs its score anyway, but only the page needs
    # last_access (the tie-break). The score of the page's last row, found in the one bm25
    # pass, bounds the page: only matches scoring at least as well (ties included) are looked
    # up in sessions, not all of them; so few rows are left that they are read in full at once
    # (no narrow page first: every temporary table and sorter costs memory churn per query).
    cut = ""
    cut_params: tuple[Any, ...] = ()
    if limit is not None and limit > 0:
        cut = (
            "WHERE ranked.score <= coalesce((SELECT r.score FROM ranked AS r "
            "ORDER BY r.score LIMIT 1 OFFSET ?), ranked.score) "
        )
        cut_params = (limit + max(0, offset) - 1,)
    sql = (
        f"WITH ranked (rid, score) AS MATERIALIZED ("
        f"SELECT rowid, {bm25} FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?) "
        f"SELECT {_SELECT}, -ranked.score AS score "
        f"FROM ranked CROSS JOIN sessions ON sessions.rowid = ranked.rid {cut}"
        f"ORDER BY ranked.score, {_ORDER['recent']} LIMIT ? OFFSET ?"
    )
    return CompiledQuery(sql, (match, *cut_params, *page), ranked=True)
