"""The query compiler: a syntax tree in, one parameterised SQL statement out.

Pure. In the default plans every full-text part becomes ``sessions.rowid IN (SELECT rowid FROM
sessions_fts WHERE sessions_fts MATCH ?)``: joining the FTS table with ordinary filters lets
SQLite's planner probe the index once per row, hundreds of times slower at a million sessions
when the filter is not selective (see the project's performance notes). Only the walking plans
test rows one by one, on purpose, and only when the planner has estimated few such tests.
Neighbouring full-text parts of one AND or OR are merged into one MATCH, where
FTS5 intersects and unites doclists itself. User text reaches FTS5 only inside double quotes (with
quotes doubled), so FTS5 syntax in a query (``NEAR``, ``^``, ``*``, ``:``) is searched for, never
obeyed; everything else is a bound parameter.

Ranking (``relevance``, only when the query has words): bm25 over the words that are not negated,
name weighted highest, then the most recent first, among the RELEVANCE_WINDOW most recently
recorded matches (older matches follow, most recent first): FTS5 streams the matches newest first
and the stream stops once the window is full, so a word in half of all sessions is not scored a
million times.

Each query compiles to a default plan and the alternatives the planner in store.search may choose
instead (one function shape each: fts_first, order_walk, order_range, filter_first,
filter_walk, newest_ranked, filter_ranked, newest_scored, filter_scored, filter_tested,
order_set, filter_set, name_snapshot, name_window, filter_set_walk, created_walk, created_set,
or_union, phrase_scored;
alive_scored and alive_tested in store.query.alive; the window plans' SQL in
store.query.windows; docs/search.md). All plans of a query return the same rows in the same
order.
"""

from __future__ import annotations

from store.columns import SESSION_COLUMNS, ascii_lower, like_escape
from store.query.ast import And, Dir, Field, MatchAll, Node, Not, Or, Since, Status, Term, Until
from store.query.text import fts_tokens, has_tokens
from store.query.windows import (
    EARLY_INDEX,
    TIME_INDEX,
    Beside,
    day_bounds_sql,
    scored_within_bounds_sql,
    window_bounds,
    window_created_sql,
    window_created_wordless_sql,
    window_range_sql,
    window_scan_sql,
    window_scored_sql,
    window_set_sql,
    window_times_sql,
    window_walk_sql,
    within_bounds,
)
from store.values import Value

# typing is imported by type checkers only: it costs `ccmgr-watch query` ~10% of its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final, Literal

    from store.query.ast import StatusValue

    SearchSort = Literal["relevance", "recent", "created", "name"]
SORTS: tuple[str, ...] = ("relevance", "recent", "created", "name")

FTS_TABLE: Final = "sessions_fts"
# bm25 column weights in the index's column order: name, project, worktree, branch, directory.
BM25_WEIGHTS: Final = (10.0, 4.0, 3.0, 3.0, 1.0)
RESULT_COLUMNS: Final = SESSION_COLUMNS
_SELECT: Final = ", ".join(f"sessions.{c}" for c in RESULT_COLUMNS)
SCORED_COLUMNS: Final = (
    *("rowid", "last_access"),
    *("name", "project", "worktree", "branch", "directory"),
)
"""What the ``*_scored`` plans read of each candidate: only what bm25 and the ranking need (the
page's sessions are read in full afterwards, by rowid: PAGE_SQL). The text columns in the
index's column order."""
# The text columns coalesced: Python joins a column of rows at a time, and NULL is no text.
_SCORED_SELECT: Final = ", ".join(
    f"coalesce(sessions.{c}, '')" if i > 1 else f"sessions.{c}"
    for i, c in enumerate(SCORED_COLUMNS)
)
PAGE_SQL: Final = (
    f"SELECT {_SELECT}, sessions.rowid FROM sessions "
    f"WHERE sessions.rowid IN (SELECT value FROM json_each(?))"
)
"""The sessions of a page ranked in Python, by rowid (a JSON array of them)."""
_FTS_IN: Final = f"sessions.rowid IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
_FTS_NOT_IN: Final = (
    f"sessions.rowid NOT IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
)
# One FTS5 lookup by rowid for the row at hand: for plans that walk an index, never for a set.
_FTS_PROBE: Final = (
    f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? "
    f"AND {FTS_TABLE}.rowid = sessions.rowid)"
)
_FTS_NOT_PROBE: Final = "NOT " + _FTS_PROBE
# The matches whose rowids lie within the walked rows' (order_range): one FTS5 pass over that
# slice of each doclist, which is short when recent sessions have recent rowids.
_FTS_RANGED: Final = (
    f"sessions.rowid IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? AND rowid "
    f"BETWEEN (SELECT min(rid) FROM walk) AND (SELECT max(rid) FROM walk))"
)
_FTS_NOT_RANGED: Final = _FTS_RANGED.replace("sessions.rowid IN", "sessions.rowid NOT IN", 1)
_ORDER: Final = {
    "recent": "sessions.last_access DESC, sessions.rowid DESC",
    "created": "sessions.created_at DESC, sessions.rowid DESC",
    "name": "sessions.name COLLATE NOCASE ASC, sessions.last_access DESC, sessions.rowid DESC",
}


RELEVANCE_WINDOW: Final = 500
"""Relevance ranks (bm25) this many of the most recently recorded matches; older ones follow."""
FILTER_CAP: Final = 2048
"""Most candidates the filter-first plan reads from a filter's index (planner's capped count)."""
SAMPLE_SIZE: Final = 256
"""Newest full-text matches the planner reads to estimate how many sessions match."""
INDEXED_PREFIX_MAX: Final = 8
"""The longest prefix the FTS index holds (migration 003: ``prefix='1 2 3 4 5 6 7 8'``)."""

if TYPE_CHECKING:
    PlanName = Literal[
        "fts_first",
        "order_walk",
        "order_range",
        "filter_first",
        "newest_ranked",
        "filter_ranked",
        "newest_scored",
        "filter_scored",
        "filter_walk",
        "filter_tested",
        "order_set",
        "filter_set",
        "name_snapshot",
        "name_window",
        "name_except",
        "alive_scored",
        "alive_tested",
        "window_scored",
        "window_walk",
        "window_range",
        "window_set",
        "window_scored_by_day",
        "window_created",
        "or_union",
        "filter_set_walk",
        "created_walk",
        "created_set",
        "phrase_scored",
        "prefix_first",
        "prefix_tested",
        "known_first",
        "known_scored",
    ]

# The index that gives each sort's order (the order walk reads it newest first, or A-Z).
_ORDER_INDEX: Final = {
    "recent": "ix_sessions_last_access",
    "created": "ix_sessions_created_at",
    "name": "ix_sessions_name_nocase",
}
_FIELD_INDEX: Final = {
    "name": "ix_sessions_name_nocase",
    "project": "ix_sessions_project_nocase",
    "worktree": "ix_sessions_worktree_nocase",
    "branch": "ix_sessions_branch_nocase",
    "host": "ix_sessions_host_nocase",
}


Phrase = tuple[tuple[str, ...], bool]
"""One FTS5 phrase: its tokens, and whether the last one is a prefix (``"auth log"*``)."""


Clause = tuple[bool, tuple[int, ...]]
"""A condition on a row's phrase hits: one of these phrases (by index) occurs, or (``True``)
none of them does."""


class Scoring(Value):
    """How ``newest_scored`` and ``filter_scored`` rank in Python what FTS5's bm25 would: the
    ranking MATCH's phrases in FTS5's order, the page (limit, offset) cut from the ranked
    window, and (set by the planner) the statistics bm25 reads: the index's row count, its
    total tokens, and each phrase's IDF (from an estimate of the rows that hold it).
    ``clauses`` (``filter_scored``, whose rows are a filter's, not yet matched): the MATCH as
    an AND of clauses on the hits, tested in Python; the newest ``window`` rows that pass are
    ranked."""

    __match_args__ = ("phrases", "page", "rows", "tokens", "idfs", "clauses", "window")
    __slots__ = __match_args__
    phrases: tuple[Phrase, ...]
    page: tuple[int, int]
    rows: int
    tokens: int
    idfs: tuple[float, ...]
    clauses: tuple[Clause, ...] | None
    window: int

    def __init__(
        self,
        phrases: tuple[Phrase, ...],
        page: tuple[int, int],
        rows: int = 0,
        tokens: int = 0,
        idfs: tuple[float, ...] = (),
        clauses: tuple[Clause, ...] | None = None,
        window: int = 0,
    ) -> None:
        super().__init__(phrases, page, rows, tokens, idfs, clauses, window)

    def with_statistics(self, rows: int, tokens: int, idfs: tuple[float, ...]) -> Scoring:
        """This scoring with bm25's statistics."""
        return Scoring(self.phrases, self.page, rows, tokens, idfs, self.clauses, self.window)


class NameWalk(Value):
    """What ``name_snapshot`` runs besides its walk (store.name_order): the statement that
    reads the matches among the sessions the snapshot does not hold as they are (inserted,
    or renamed since its build) and its parameters but one (the second, ``?2``: the
    walk's last name, or None; later names cannot reach the page), the page (limit, offset)
    and how many rows it needs (limit + offset). ``window``: for ``name_window``, the
    since:/until: window whose rowid range bounds the walk (the planner estimates it).
    ``lookup_sql``: for ``name_except``, whose walk yields ranks (the snapshot's sessions
    without the negated words' matches), the statement that reads a chunk of them (a JSON
    array of ranks, its first parameter; then ``lookup_params``) as (rank, session, name),
    but the sessions that are dirty, gone or fail the query's filters."""

    __match_args__ = (
        "delta_sql",
        "delta_params",
        "page",
        "needed",
        "window",
        "lookup_sql",
        "lookup_params",
    )
    __slots__ = __match_args__
    delta_sql: str
    delta_params: tuple[Any, ...]
    page: tuple[int, int]
    needed: int
    window: tuple[str | None, str | None] | None
    lookup_sql: str | None
    lookup_params: tuple[Any, ...]

    def __init__(
        self,
        delta_sql: str,
        delta_params: tuple[Any, ...],
        page: tuple[int, int],
        needed: int,
        window: tuple[str | None, str | None] | None = None,
        lookup_sql: str | None = None,
        lookup_params: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(delta_sql, delta_params, page, needed, window, lookup_sql, lookup_params)


class NewestIds(Value):
    """A ranked ``or_union``'s branch with no word to rank (``project:x`` in ``auth OR
    project:x``): its newest sessions (by rowid, a parameter after ``params`` says how many),
    read from its filter's index and sorted when it holds few (``count_sql`` counts them there,
    up to a parameter; ``indexed_sql``), else found by a scan of the table newest first
    (``scan_sql``: a filter with many sessions has its newest ones soon). Both select rowids."""

    __match_args__ = ("count_sql", "count_params", "indexed_sql", "scan_sql", "params")
    __slots__ = __match_args__
    count_sql: str | None
    count_params: tuple[Any, ...]
    indexed_sql: str | None
    scan_sql: str
    params: tuple[Any, ...]

    def __init__(
        self,
        count_sql: str | None,
        count_params: tuple[Any, ...],
        indexed_sql: str | None,
        scan_sql: str,
        params: tuple[Any, ...],
    ) -> None:
        super().__init__(count_sql, count_params, indexed_sql, scan_sql, params)


class OrUnion(Value):
    """``or_union``'s branches: an OR with a filter in it (``zanzibar OR (auth status:active)``,
    ``project:a OR project:b``) as one query per branch, each planned as a query of its own,
    whose sessions the plan's SQL gathers (``page``: limit, offset). In a sort order each
    branch's query is for the page's first sessions, and the plan's SQL sorts their union and
    cuts the page. Ranked, each branch gives its newest ``window`` matches (``branches``: by
    ranking a page of ``window`` of them, which is its whole window; ``filters``: branches
    without words to rank), and the plan's SQL reads the newest ``window`` of their union,
    which the plan's scoring ranks."""

    __match_args__ = ("branches", "page", "filters", "window")
    __slots__ = __match_args__
    branches: tuple[CompiledQuery, ...]
    page: tuple[int, int]
    filters: tuple[NewestIds, ...]
    window: int

    def __init__(
        self,
        branches: tuple[CompiledQuery, ...],
        page: tuple[int, int],
        filters: tuple[NewestIds, ...] = (),
        window: int = 0,
    ) -> None:
        super().__init__(branches, page, filters, window)


class CreatedWalk(Value):
    """``created_walk``'s other reads: the sessions of the filter last used before they were
    created (``early_sql``: migration 013's partial index, normally empty), the most rows
    its walk reads (``budget``) before it gives way to the default plan (``fallback_sql``)."""

    __match_args__ = ("early_sql", "early_params", "budget", "fallback_sql", "fallback_params")
    __slots__ = __match_args__
    early_sql: str
    early_params: tuple[Any, ...]
    budget: int
    fallback_sql: str
    fallback_params: tuple[Any, ...]

    def __init__(
        self,
        early_sql: str,
        early_params: tuple[Any, ...],
        budget: int,
        fallback_sql: str,
        fallback_params: tuple[Any, ...],
    ) -> None:
        super().__init__(early_sql, early_params, budget, fallback_sql, fallback_params)

    def with_budget(self, budget: int) -> CreatedWalk:
        """These reads, the walk reading at most ``budget`` rows."""
        return self.replace(budget=budget)


class Plan(Value):
    """One way to run a query: every plan of a query returns the same rows in the same order.

    ``walk_budget``: for ``order_walk``, which reads only the first rows of the sort order,
    the index of the parameter that bounds how many (the planner sets it, and ``retry``: how
    many rows a second, longer walk may read). Such a plan is exact only when it fills the
    page; store.search otherwise retries it once, longer, or runs the default plan.
    ``scoring``: for ``newest_scored`` and ``filter_scored``, whose SQL returns candidates
    unranked, newest first (SCORED_COLUMNS): how store.search ranks them and cuts the page.
    ``name_walk``: for ``name_snapshot``, whose SQL streams the snapshot's matches in name
    order: the rest of what it runs (store.name_order). ``union``: for ``or_union``, the
    branches whose sessions its SQL (their ids as a JSON array, the first parameter) sorts.
    ``created``: for ``created_walk``, its other reads (store.search.created_rows).
    ``fallback``: for a bounded walk, the exact plan the planner found cheapest after it (run
    when the walk and its retry fall short; None: the default plan).
    """

    __match_args__ = (
        "name",
        "sql",
        "params",
        "walk_budget",
        "retry",
        "scoring",
        "name_walk",
        "union",
        "created",
        "fallback",
    )
    __slots__ = __match_args__
    name: PlanName
    sql: str
    params: tuple[Any, ...]
    walk_budget: int | None
    retry: int
    scoring: Scoring | None
    name_walk: NameWalk | None
    union: OrUnion | None
    created: CreatedWalk | None
    fallback: Plan | None

    def __init__(
        self,
        name: PlanName,
        sql: str,
        params: tuple[Any, ...],
        walk_budget: int | None = None,
        retry: int = 0,
        scoring: Scoring | None = None,
        name_walk: NameWalk | None = None,
        union: OrUnion | None = None,
        created: CreatedWalk | None = None,
        fallback: Plan | None = None,
    ) -> None:
        super().__init__(
            name, sql, params, walk_budget, retry, scoring, name_walk, union, created, fallback
        )

    def with_budget(self, rows: int, retry: int = 0) -> Plan:
        """This walk, reading at most ``rows`` rows of the sort order (then ``retry``)."""
        if self.walk_budget is None:
            return self
        params = list(self.params)
        params[self.walk_budget] = rows
        return self.replace(params=tuple(params), retry=retry)

    def with_created_budget(self, budget: int) -> Plan:
        """This ``created_walk``/``created_set``, its walk reading at most ``budget`` rows."""
        if self.created is None:
            return self
        return self.replace(created=self.created.with_budget(budget))

    def with_scoring(self, scoring: Scoring) -> Plan:
        """This plan, ranking with ``scoring`` (the planner's statistics filled in)."""
        return self.replace(scoring=scoring)


class PlanFacts(Value):
    """The cheap, bounded reads the planner (store.search) makes to choose among the plans.

    ``sample_sql``: the rowids of the newest :data:`SAMPLE_SIZE` full-text matches (how densely
    the words match; None when a word is a prefix the index does not hold, which FTS5 would
    merge in full just to sample). ``sample_negated``: the sample is of the negated words (the
    query has no positive ones). ``candidates_sql``: how many rows an indexed filter picks out,
    counted in the index up to :data:`FILTER_CAP` (None without such a filter). ``needed``:
    limit + offset (None: every row). ``span_sql``: the rowid range of the first rows (a
    parameter) of the sort order, for the walks. ``sort``: the order the rows are listed in
    (``recent`` for relevance without words). ``whole_filter``: the indexed filter is the whole
    query (every row its index yields is a result: a walk of it stops at the page).
    ``passing_sql`` (ranked queries with an indexed filter): how many of the newest
    :data:`SAMPLE_SIZE` full-text matches pass the rest of the query (its filters), read when
    the filter holds too many rows to count: how long a stream of the matches fills the window.
    ``window``: the ``since:``/``until:`` window when it is the indexed filter (its start and
    end, None when open): the planner estimates its sessions from it when they are too many
    to count (store.query.windows). ``parts``: the words ANDed in ``sample_params``' MATCH
    (two or more, each an FTS5 expression), which the planner samples one by one to put the
    rarest first (:func:`rarest_first`); ``part_samples``: those samples once read (each
    part's text and its sample), which the ranking's IDFs reuse. ``beside``: the window when
    another filter is the indexed one (a field, a status, a folder: `auth project:myapp
    until:2025-06-01`), and how many of the newest matches pass the query's filters but the
    window (SQL, parameters): the window plans' reads beside that filter
    (store.query.windows.Beside). ``narrow``: the words' MATCH with every exact field's column
    phrase too (a superset of the query's rows, narrower than the words'), which the planner
    samples for known_first/known_scored when few of the words' newest matches pass the
    filters (:func:`_with_passing`).
    """

    __match_args__ = (
        "sample_sql",
        "sample_params",
        "sample_negated",
        "candidates_sql",
        "candidates_params",
        "needed",
        "span_sql",
        "sort",
        "whole_filter",
        "passing_sql",
        "passing_params",
        "window",
        "parts",
        "beside",
        "part_samples",
        "narrow",
    )
    __slots__ = __match_args__
    sample_sql: str | None
    sample_params: tuple[Any, ...]
    sample_negated: bool
    candidates_sql: str | None
    candidates_params: tuple[Any, ...]
    needed: int | None
    span_sql: str | None
    sort: str
    whole_filter: bool
    passing_sql: str | None
    passing_params: tuple[Any, ...]
    window: tuple[str | None, str | None] | None
    parts: tuple[str, ...]
    beside: Beside | None
    part_samples: tuple[tuple[str, tuple[int, int | None, int | None]], ...]
    narrow: str | None

    def __init__(
        self,
        sample_sql: str | None,
        sample_params: tuple[Any, ...],
        sample_negated: bool,
        candidates_sql: str | None,
        candidates_params: tuple[Any, ...],
        needed: int | None,
        span_sql: str | None = None,
        sort: str = "recent",
        whole_filter: bool = False,
        passing_sql: str | None = None,
        passing_params: tuple[Any, ...] = (),
        window: tuple[str | None, str | None] | None = None,
        parts: tuple[str, ...] = (),
        beside: Beside | None = None,
        part_samples: tuple[tuple[str, tuple[int, int | None, int | None]], ...] = (),
        narrow: str | None = None,
    ) -> None:
        super().__init__(
            sample_sql,
            sample_params,
            sample_negated,
            candidates_sql,
            candidates_params,
            needed,
            span_sql,
            sort,
            whole_filter,
            passing_sql,
            passing_params,
            window,
            parts,
            beside,
            part_samples,
            narrow,
        )


class Source(Value):
    """What a query was compiled from (:func:`compile_query`'s arguments), for the planner to
    compile it again with its ANDed words in another order (:func:`rarest_first`)."""

    __match_args__ = ("tree", "sort", "limit", "offset", "window")
    __slots__ = __match_args__
    tree: Node
    sort: SearchSort
    limit: int | None
    offset: int
    window: int

    def __init__(
        self, tree: Node, sort: SearchSort, limit: int | None, offset: int, window: int
    ) -> None:
        super().__init__(tree, sort, limit, offset, window)


class CompiledQuery(Value):
    """SQL and its parameters; rows are RESULT_COLUMNS, then ``score`` when ``ranked``.

    ``sql``/``params`` are the default plan (``plans[0]``); ``plans`` are every plan the
    planner may choose (all return the same rows in the same order), ``facts`` what it reads
    to choose (None when there is no choice).
    """

    __match_args__ = ("sql", "params", "ranked", "plans", "facts", "source")
    __slots__ = __match_args__
    sql: str
    params: tuple[Any, ...]
    ranked: bool
    plans: tuple[Plan, ...]
    facts: PlanFacts | None
    source: Source | None

    def __init__(
        self,
        sql: str,
        params: tuple[Any, ...],
        ranked: bool,
        plans: tuple[Plan, ...] = (),
        facts: PlanFacts | None = None,
        source: Source | None = None,
    ) -> None:
        if not plans:
            plans = (Plan("fts_first", sql, params),)
        super().__init__(sql, params, ranked, plans, facts, source)

    def plan(self, name: str) -> Plan:
        """The plan called ``name`` (KeyError if this query has none)."""
        for plan in self.plans:
            if plan.name == name:
                return plan
        raise KeyError(name)


class _Const(Value):
    __match_args__ = ("value",)
    __slots__ = __match_args__
    value: bool

    def __init__(self, value: bool) -> None:
        super().__init__(value)


_Simple = Node | _Const


_OTHER_STATUS: Final[dict[str, StatusValue]] = {"ended": "active", "active": "ended"}


def _simplify(node: Node) -> _Simple:
    """Flatten nested AND/OR, fold words without any token (``&``) into "always true",
    ``-status:ended`` into ``status:active`` (and back), ``-since:X`` into ``until:X`` without
    X (and ``-until:X`` into ``since:X`` without X), and an AND that cannot match into
    "always false"."""
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
        if isinstance(child, Since):
            # `-since:X` (last used before X) is `until:X` without X itself: a window the
            # plans read from its index, the exclusion of its end tested on its rows.
            return And((Until(child.at), Not(child)))
        if isinstance(child, Until):
            return And((Since(child.at), Not(child)))
        if isinstance(child, Status) and child.value in _OTHER_STATUS:
            # A status is attached, detached or ended (NOT NULL, CHECK: sql/001), so
            # `-status:ended` is `status:active`: an indexed filter, which a negation is not
            # (`auth -status:ended` streamed every match of auth to find the 0.2 % alive).
            return Status(_OTHER_STATUS[child.value])
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
        if is_and and (_excluded_by_itself(kept) or _contradicts(kept)):
            return _Const(False)
        if len(kept) == 1:
            return kept[0]
        return And(tuple(kept)) if is_and else Or(tuple(kept))
    return node


def _excluded_by_itself(children: list[Node]) -> bool:
    """Whether an AND of ``children`` matches nothing because a word in it is also what a
    negated prefix in it rules out: every match of `main` (or of the phrase "main line")
    holds a token starting with `m`, so `main -m` matches no session (tenth round: FTS5 read
    both words' whole lists to find none, 43 ms at 1 M sessions; the reference evaluator of
    the tests agrees)."""
    negated = [
        tokens[0]
        for child in children
        if isinstance(child, Not) and isinstance(child.child, Term) and not child.child.phrase
        for tokens in (fts_tokens(child.child.text),)
        if len(tokens) == 1
    ]
    if not negated:
        return False
    return any(
        token.startswith(prefix)
        for child in children
        if isinstance(child, Term)
        for token in fts_tokens(child.text)
        for prefix in negated
    )


_STATUS_SETS: Final[dict[str, frozenset[str]]] = {
    "active": frozenset(("attached", "detached")),
    "attached": frozenset(("attached",)),
    "detached": frozenset(("detached",)),
    "ended": frozenset(("ended",)),
}


def _like_matches(value: str, pattern: str) -> bool:
    """Whether the whole ``value`` matches ``pattern`` (``*`` any run, ASCII folded), as the
    field's LIKE does."""
    parts = ascii_lower(pattern).split("*")
    text = ascii_lower(value)
    if len(parts) == 1:
        return text == parts[0]
    head, *middle, tail = parts
    if len(text) < len(head) + len(tail) or not text.startswith(head) or not text.endswith(tail):
        return False
    at, end = len(head), len(text) - len(tail)
    for part in middle:
        found = text.find(part, at, end)
        if found < 0:
            return False
        at = found + len(part)
    return True


def _fields_meet(a: str, b: str) -> bool:
    """Whether some value matches both patterns of one field (``""``: NULL or empty). False
    only when it is certain: two wildcards are compared by their literal heads and tails."""
    if a == "" or b == "":
        other = b if a == "" else a
        return other == "" or ("*" in other and _like_matches("", other))
    if "*" not in a or "*" not in b:
        value, pattern = (a, b) if "*" not in a else (b, a)
        return _like_matches(value, pattern)
    a_parts, b_parts = ascii_lower(a).split("*"), ascii_lower(b).split("*")
    heads, tails = (
        sorted((a_parts[0], b_parts[0]), key=len),
        sorted((a_parts[-1], b_parts[-1]), key=len),
    )
    return heads[1].startswith(heads[0]) and tails[1].endswith(tails[0])


def _within(pattern: str, excluded: str) -> bool:
    """Whether every value ``pattern`` matches also matches ``excluded`` (True only when
    certain)."""
    if "*" not in pattern:
        return _like_matches(pattern, excluded) if pattern else excluded == ""
    head = pattern.split("*", 1)[0]
    # `feat/a*` within `feat*`: an excluded pattern that is one literal head and a star.
    return (
        excluded.endswith("*")
        and "*" not in excluded[:-1]
        and ascii_lower(head).startswith(ascii_lower(excluded[:-1]))
    )


def _under(path: str, parent: str) -> bool:
    """Whether every directory ``dir:path`` matches is one ``dir:parent`` matches."""
    if parent == "/":
        return path.startswith("/")
    return path == parent or path.startswith(parent + "/")


def _contradicts(children: list[Node]) -> bool:
    """Whether an AND of ``children`` matches nothing because its filters cannot hold together:
    one field two ways (`branch:feat* branch:main`, `project:a project:b`, `branch:main
    -branch:m*`), statuses without one in common (`status:ended status:active`), a `since:`
    after an `until:`, or directories apart (`dir:/a dir:/b`). SQLite would find that out
    only by reading the rows: a dense field's, or every match of the words beside it
    (eleventh round: `branch:feat* (m OR fix) branch:main` took 0.45-0.9 s at 1 M sessions).
    """
    fields: dict[str, list[str]] = {}
    excluded: dict[str, list[str]] = {}
    statuses = _STATUS_SETS["active"] | _STATUS_SETS["ended"]
    since: str | None = None
    until: str | None = None
    dirs: list[str] = []
    not_dirs: list[str] = []
    for child in children:
        negated = isinstance(child, Not)
        leaf = child.child if isinstance(child, Not) else child
        if isinstance(leaf, Field):
            (excluded if negated else fields).setdefault(leaf.name, []).append(leaf.pattern)
        elif isinstance(leaf, Status):
            statuses = (
                statuses - _STATUS_SETS[leaf.value]
                if negated
                else statuses & _STATUS_SETS[leaf.value]
            )
        elif isinstance(leaf, Since) and not negated:
            since = leaf.at if since is None else max(since, leaf.at)
        elif isinstance(leaf, Until) and not negated:
            until = leaf.at if until is None else min(until, leaf.at)
        elif isinstance(leaf, Dir):
            (not_dirs if negated else dirs).append(leaf.path)
    if not statuses or (since is not None and until is not None and since > until):
        return True
    for name, patterns in fields.items():
        if any(not _fields_meet(a, b) for i, a in enumerate(patterns) for b in patterns[i + 1 :]):
            return True
        if any(_within(p, x) for p in patterns for x in excluded.get(name, ())):
            return True
    if any(not (_under(a, b) or _under(b, a)) for i, a in enumerate(dirs) for b in dirs[i + 1 :]):
        return True
    return any(_under(a, x) for a in dirs for x in not_dirs)


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
    return like_escape(pattern).replace("*", "%")


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


def _sql(
    node: _Simple,
    params: list[Any],
    *,
    ranked_join: bool = False,
    probe: bool = False,
    ranged: bool = False,
) -> str:
    """A WHERE expression for ``node`` that is never NULL.

    ``ranked_join``: the query joins the materialized ranking of this node's top-level full-text
    part, which already restricts the rows to it; that part is then left out here.
    ``probe``: the rows come from an index walk (a sort order or a selective filter), so each
    full-text part tests the row by its rowid (one FTS5 lookup a row) instead of reading every
    match as a set; those tests come after the plain filters, which are cheaper.
    ``ranged``: the rows come from the ``walk`` CTE; each full-text part reads only the matches
    within the walked rowids' range, as a set.
    """
    fts_in, fts_not_in = (
        (_FTS_PROBE, _FTS_NOT_PROBE)
        if probe
        else (_FTS_RANGED, _FTS_NOT_RANGED)
        if ranged
        else (_FTS_IN, _FTS_NOT_IN)
    )
    if isinstance(node, _Const):
        return "1" if node.value else "0"
    whole = _fts(node)
    if whole is not None:
        if ranked_join:
            return "1"
        params.append(whole)
        return fts_in
    if isinstance(node, Not):
        inner = _fts(node.child)
        if inner is not None:
            params.append(inner)
            return fts_not_in
        return f"NOT ({_sql(node.child, params, probe=probe, ranged=ranged)})"
    if isinstance(node, And):
        positive, negative = _split_and(node.children)
        text_parts: list[str] = []
        text_params: list[Any] = []
        if positive:
            if not ranked_join:
                text_params.append(_and_fts(positive, negative))
                text_parts.append(fts_in)
        elif negative:
            text_params.append(" OR ".join(f"({n})" for n in negative))
            text_parts.append(fts_not_in)
        if not probe:
            params.extend(text_params)
        parts = [] if probe else text_parts
        for child in node.children:
            if _is_fts_conjunct(child):
                continue
            parts.append(_sql(child, params, probe=probe, ranged=ranged))
        if probe:
            parts.extend(text_parts)
            params.extend(text_params)
        return "(" + " AND ".join(parts or ["1"]) + ")"
    if isinstance(node, Or):
        texts = [e for e in (_fts(c) for c in node.children) if e is not None]
        parts = []
        if texts:
            params.append(" OR ".join(f"({t})" for t in texts))
            parts.append(fts_in)
        parts.extend(
            _sql(c, params, probe=probe, ranged=ranged) for c in node.children if _fts(c) is None
        )
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


def _known_match(
    facts: PlanFacts, node: _Simple, sort: str = "recent", match: str | None = None
) -> str:
    """known_first's and known_scored's MATCH: the words' (``match``, else the sample's),
    after the prefix fields' column phrases, which every row of those filters holds (a
    superset: the filters are tested on the rows): the words' matches a prefix keeps can be
    few where the words' are many (`myapp project:isx*`: none of 300,000; 0.3 s -> 10 ms).
    Not an exact field's: there the filter plans do well, and the phrase's read cost 2-3 ms
    more than it saved (`auth project:tinyproj`, `billing project:myapp` at 1 M)."""
    words = str(facts.sample_params[0]) if match is None else match
    phrases = [p for p in _column_phrases(node) if p.endswith(" *")]
    if not phrases or sort == "name":
        # (By name the snapshot walks the phrases itself: `myapp project:isx*` 1.1 ms, where
        # this read costs 6.)
        return words
    return " AND ".join(f"({part})" for part in (*phrases, words))


def _known(facts: PlanFacts | None, node: _Simple) -> bool:
    """Whether known_first/known_scored are offered: the planner samples the words (not only
    negated ones) and the query is words and filters ANDed (:func:`_known_words`). A filter
    beside a single word counts too: SQLite's own plan drove from the filter's index
    whatever the words matched (`worktree:main db`, no match: 400,000 rows tested, 80 ms)."""
    if facts is None or facts.sample_sql is None or facts.sample_negated:
        return False
    return _known_words(node)


def _known_words(node: _Simple) -> bool:
    """Whether each of ``node``'s conjuncts is a word of its MATCH (:func:`_and_fts`: a
    full-text expression, or one negated) or holds no word (a filter): then the MATCH's rows
    passing the filters (:func:`_filters_sql`) are exactly the query's."""
    if not isinstance(node, And):
        return False
    for child in node.children:
        inner = child.child if isinstance(child, Not) else child
        if _has_terms(child) and _fts(inner) is None:
            return False
    return True


def _has_terms(node: _Simple) -> bool:
    """Whether any word or phrase is in ``node`` (negated or not)."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return _has_terms(node.child)
    if isinstance(node, And | Or):
        return any(_has_terms(child) for child in node.children)
    return False


def _simple_or(node: Node) -> bool:
    return isinstance(node, Term) or (
        isinstance(node, Or) and all(isinstance(c, Term) for c in node.children)
    )


def _scorable(node: _Simple) -> bool:
    """Whether Python can count each ranked phrase's hits in a row as FTS5's bm25 does.

    FTS5 reports a phrase's hits in a row only where its part of the expression matched
    (``(a b) OR c``: none for ``a`` in a row without ``b``), so only shapes where that is every
    hit of the phrase in the row qualify: words, an OR of words, an AND of those and of negated
    ones (a matching row holds no negated phrase at all).
    """
    if isinstance(node, _Const):
        return False
    if _simple_or(node):
        return True
    if not isinstance(node, And):
        return False
    for child in node.children:
        if isinstance(child, Not):
            if _fts(child.child) is not None and not _simple_or(child.child):
                return False
        elif _fts(child) is not None and not _simple_or(child):
            return False
    return True


def _clauses(node: _Simple) -> tuple[Clause, ...]:
    """A scorable node's full-text part as clauses on phrase indexes, in the order _fts and
    _and_fts write the phrases (an AND's words first, then its negated ones)."""
    groups: list[tuple[bool, Node]] = []
    if isinstance(node, And):
        for child in node.children:
            if not isinstance(child, Not) and _fts(child) is not None:
                groups.append((False, child))
        for child in node.children:
            if isinstance(child, Not) and _fts(child.child) is not None:
                groups.append((True, child.child))
    elif isinstance(node, Term | Or):
        groups.append((False, node))
    clauses: list[Clause] = []
    first = 0
    for negated, group in groups:
        size = len(group.children) if isinstance(group, Or) else 1
        clauses.append((negated, tuple(range(first, first + size))))
        first += size
    return tuple(clauses)


def fts_phrases(match: str) -> tuple[Phrase, ...]:
    """The phrases of an FTS5 expression this module wrote, in FTS5's order (pure).

    Every phrase is a double-quoted string (inner quotes doubled), a ``*`` after it making its
    last token a prefix; everything outside quotes is an operator or a parenthesis.
    """
    phrases: list[Phrase] = []
    i = 0
    while i < len(match):
        if match[i] != '"':
            i += 1
            continue
        j = i + 1
        text: list[str] = []
        while j < len(match):
            if match[j] == '"':
                if match[j + 1 : j + 2] == '"':
                    text.append('"')
                    j += 2
                    continue
                break
            text.append(match[j])
            j += 1
        prefix = match[j + 1 : j + 2] == "*"
        phrases.append((tuple(fts_tokens("".join(text))), prefix))
        i = j + 1
    return tuple(phrases)


def _indexed_filter(node: _Simple) -> tuple[str, str, list[Any], bool] | None:
    """The index that picks out the rows of the query's top-level filters, the SQL of those
    filters, its parameters, and whether they are the whole query; or None.

    An exact ``name:``/``project:``/``worktree:``/``branch:`` (its NOCASE index, last_access
    second), else a ``status:`` (status, last_access), each with any ``since:``/``until:``; or
    those alone (the last_access index). Counting their rows reads only the index.
    """
    children = node.children if isinstance(node, And) else (node,)
    fields = [c for c in children if isinstance(c, Field) and c.pattern and "*" not in c.pattern]
    statuses = [c for c in children if isinstance(c, Status)]
    times: list[Node] = [c for c in children if isinstance(c, Since | Until)]
    dirs = [c for c in children if isinstance(c, Dir)]
    prefixed = [
        c
        for c in children
        if isinstance(c, Field) and c.name in _FIELD_INDEX and _prefix_of(c.pattern)
    ]
    first: list[Node] = []
    alive = [c for c in statuses if c.value in _ALIVE_STATUSES]
    if alive:
        # A status only alive sessions have comes first, before an exact field: its sessions
        # have their own index (migration 011, store.query.alive), which tests the field too,
        # and they are few (`auth project:myapp status:active`, the project counted: 0.3 s at
        # 1 M sessions; the alive sessions tested: 2 ms).
        index, first = "ix_sessions_status", [alive[0]]
    elif fields:
        index, first = _FIELD_INDEX[fields[0].name], [fields[0]]
    elif dirs:
        # A folder and everything below it: one value and a range of the directory index
        # (a rare folder beside a dense word streamed all of the word's matches: 0.5-3.5 s
        # at 1 M sessions). Its rows are not in last-access order (several directories),
        # so it never counts as the whole query (which would read them "in order").
        params: list[Any] = []
        sql = " AND ".join(_leaf_sql(part, params) for part in [dirs[0], *times])
        return "ix_sessions_directory", sql, params, False
    elif prefixed and _has_terms(node):
        # A field's prefix beside words: the prefix's range of the field's NOCASE index, as a
        # folder's (several values: not in last-access order, never the whole query; filters
        # alone count it themselves: compile_query's prefix facts). Tested on each row only,
        # a prefix kept by 0.7 % of 1 M sessions beside a dense word streamed the word's
        # matches or walked the sort order past them (`auth project:isx*`: 70-640 ms).
        params = []
        sql = " AND ".join(_leaf_sql(part, params) for part in [prefixed[0], *times])
        return _FIELD_INDEX[prefixed[0].name], sql, params, False
    elif statuses:
        index, first = "ix_sessions_status", [statuses[0]]
    elif times:
        index = "ix_sessions_last_access"
    else:
        return None
    params = []
    parts = [*first, *times]
    sql = " AND ".join(_leaf_sql(part, params) for part in parts)
    return index, sql, params, len(parts) == len(children)


_ALIVE_STATUSES: Final = frozenset({"active", "attached", "detached"})
"""The statuses only alive sessions have (store.query.alive keeps its own copy)."""


def _unordered_filter(sql: str, index: str) -> bool:
    """Whether an indexed filter (:func:`_indexed_filter`: its SQL and index) reads several
    values' runs of its index, not in last-access order: a folder's, or a field's prefix
    (a LIKE range)."""
    return index == "ix_sessions_directory" or " LIKE " in sql


def _prefix_beside_words(node: _Simple) -> tuple[Field, _Simple] | None:
    """``node`` as a field's prefix (one, with a NOCASE index) ANDed with words that are all
    positive full-text conjuncts, and those words; or None."""
    if not isinstance(node, And):
        return None
    fields = [
        c
        for c in node.children
        if isinstance(c, Field) and c.name in _FIELD_INDEX and _prefix_of(c.pattern)
    ]
    words = [c for c in node.children if c not in fields]
    if len(fields) != 1 or not words or not all(_fts(c) is not None for c in words):
        return None
    return fields[0], words[0] if len(words) == 1 else And(tuple(words))


def _prefix_tested_sql(select: str, field_where: str, index: str, word_where: str) -> str:
    """prefix_tested: the rows of a field's prefix from ``index`` (covering by recent), sorted
    newest used first (a subquery SQLite runs as a co-routine: sorted before any is tested),
    each tested against ``word_where`` (one FTS5 lookup a row, ``sessions.rowid`` the walked
    one) until the rows needed are in; then only those read. Exact: it stops only at the
    page. Parameters: ``field_where``'s, ``word_where``'s, the rows needed, limit, offset."""
    order = _ORDER["recent"]
    return (
        f"SELECT {select} FROM sessions WHERE sessions.rowid IN (SELECT sessions.rowid FROM "
        f"(SELECT sessions.rowid AS rowid FROM sessions INDEXED BY {index} WHERE {field_where} "
        f"ORDER BY {order} LIMIT -1) AS sessions WHERE {word_where} LIMIT ?) "
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )


def _filters_sql(node: _Simple, params: list[Any]) -> str | None:
    """The WHERE of the query's top-level conjuncts that hold no word or phrase (its filters
    alone), or None without any."""
    children = node.children if isinstance(node, And) else (node,)
    filters = [c for c in children if not isinstance(c, _Const) and not _has_terms(c)]
    return _sql(_simplify(And(tuple(filters))), params) if filters else None


def _prefix_of(pattern: str) -> str | None:
    """What a field's pattern starts with when it is a prefix (``ccmgr-*``: one ``*``, at the
    end, after at least one character), else None."""
    return pattern[:-1] if len(pattern) > 1 and pattern.find("*") == len(pattern) - 1 else None


def _prefix_filter(node: _Simple) -> tuple[str, str, list[Any]] | None:
    """A top-level field filter on a prefix (``name:ccmgr-*``), its NOCASE index (whose range
    LIKE reads), its SQL and parameters; or None."""
    children = node.children if isinstance(node, And) else (node,)
    for child in children:
        if isinstance(child, Field) and child.name in _FIELD_INDEX and _prefix_of(child.pattern):
            params: list[Any] = []
            return _FIELD_INDEX[child.name], _leaf_sql(child, params), params
    return None


# Indexes that give a qualifier's sessions in name order (migration 005; name: needs none).
NAME_ORDER_INDEX: Final = {
    "name": "ix_sessions_name_nocase",
    "project": "ix_sessions_project_name",
    "branch": "ix_sessions_branch_name",
    "status": "ix_sessions_status_name",
}


def _name_filter(node: _Simple) -> tuple[str, list[tuple[str, list[Any]]]] | None:
    """The index that gives the rows of one of the query's top-level filters in name order,
    that filter's SQL (with any ``since:``/``until:``) and parameters as one run of the index
    for each of its values; or None: an exact ``name:``/``project:``/``branch:``
    (the one :func:`_indexed_filter` counts), else one ``status:`` (``active`` is two values,
    ``attached`` and ``detached``: two runs of the index, each in name order).
    Not ``worktree:``: a worktree holds a few sessions, sorting them is cheap (no index)."""
    children = node.children if isinstance(node, And) else (node,)
    fields = [c for c in children if isinstance(c, Field) and c.pattern and "*" not in c.pattern]
    statuses = [c for c in children if isinstance(c, Status)]
    times: list[Node] = [c for c in children if isinstance(c, Since | Until)]
    firsts: list[Node]
    if fields:
        if fields[0].name not in NAME_ORDER_INDEX:
            return None  # a worktree holds a few sessions: sorting them is cheap
        firsts, index = [fields[0]], NAME_ORDER_INDEX[fields[0].name]
    elif statuses:
        active = statuses[0].value == "active"
        firsts = [Status("attached"), Status("detached")] if active else [statuses[0]]
        index = NAME_ORDER_INDEX["status"]
    else:
        return None
    # The same rows as _indexed_filter's (with the times): the planner's count of those rows
    # says whether a walk of them reads them all.
    runs = []
    for first in firsts:
        params: list[Any] = []
        runs.append((" AND ".join(_leaf_sql(part, params) for part in [first, *times]), params))
    return index, runs


def _filter_walk_sql(
    select: str, where: str, index: str, index_where: str, sort: str = "name"
) -> str:
    """Like :func:`_walk_sql` for ``--sort name``, but the walk reads one filter's rows in name
    order from its (filter, name) index: the first rows of that index are the filter's first
    names, where the name index would reach a project's sessions only late in A-Z. By recent,
    an exact field's own index (the field, then last_access) gives the order the same way."""
    # NOT INDEXED, as in _walk_sql: with a second filter SQLite drove the outer loop from that
    # filter's index (`auth project:myapp branch:main`: every branch:main row, 4 s of CPU at 1 M).
    return (
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT sessions.rowid FROM sessions INDEXED BY {index} WHERE {index_where} "
        f"ORDER BY {_ORDER[sort]} LIMIT ?) AND {where} "
        f"ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
    )


def _runs_walk_sql(select: str, index: str, runs: list[tuple[str, list[Any]]]) -> str:
    """The first rows (a parameter after each run's own) of each run of ``index`` in name
    order, merged: for a filter with several values (``status:active``) that is the whole
    query. Each run's first ``limit + offset`` rows hold every row of the page that comes from
    it, so the merge is exact without a budget or a retry (SQLite cannot stop early itself:
    the index lacks the order's tie-break, so it sorts all of both runs)."""
    walks = " UNION ALL ".join(
        f"SELECT rid FROM (SELECT sessions.rowid AS rid FROM sessions INDEXED BY {index} "
        f"WHERE {run} ORDER BY {_ORDER['name']} LIMIT ?)"
        for run, _ in runs
    )
    return (
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ({walks}) "
        f"ORDER BY {_ORDER['name']} LIMIT ? OFFSET ?"
    )


def _probe_safe(node: _Simple) -> bool:
    """Whether every word's full-text test is one indexed lookup (cheap to repeat per row).

    A bare word is a prefix query; FTS5 answers it from its index only when the prefix's
    length is one the index holds (1 to 8 letters), and otherwise merges the doclist of every
    term that starts with it on every evaluation: once is fine, once per row is not.
    """
    if isinstance(node, Term):
        tokens = fts_tokens(node.text)
        return node.phrase or not tokens or len(tokens[-1]) <= INDEXED_PREFIX_MAX
    if isinstance(node, Not):
        return _probe_safe(node.child)
    if isinstance(node, And | Or):
        return all(_probe_safe(child) for child in node.children)
    return True


def _sample_expr(node: _Simple) -> tuple[str, bool] | None:
    """The full-text expression every result must match (or, ``True``, must not), or None."""
    if isinstance(node, _Const):
        return None
    whole = _fts(node)
    if whole is not None:
        return whole, False
    if isinstance(node, Not):
        inner = _fts(node.child)
        return (inner, True) if inner is not None else None
    if isinstance(node, And):
        positive, negative = _split_and(node.children)
        if positive:
            return _and_fts(positive, negative), False
        if negative:
            return " OR ".join(f"({n})" for n in negative), True
    return None


# known_first's words: every match, or (the planner's) the rowids of all of them as JSON.
KNOWN_MATCH: Final = f"(SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
KNOWN_ROWIDS: Final = "(SELECT value FROM json_each(?))"

_SAMPLE_SQL: Final = (
    f"SELECT count(*), min(rowid), (SELECT max(rowid) FROM sessions) FROM ("
    f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? ORDER BY rowid DESC LIMIT ?)"
)


def _filter_first(
    select: str,
    where: str,
    params: list[Any],
    sort: str,
    index: str,
    needed: int | None,
    page: tuple[int, int],
) -> Plan:
    """filter_first: ``index`` (a selective filter's) read, each row tested, then sorted.

    By created or name in two steps: the page's rowids sorted by themselves, then only their
    rows read in full. Sorting whole rows copied every selected column of each tested row into
    the sorter (`project:x branch:main --sort created`, x in 0.5 % of 1 M sessions: 5,445 rows
    read, 13.1 ms; this 8.7). By recent a filter's index (field, last_access) mostly gives the
    order itself, and the reading stops at the page."""
    if sort == "recent":
        sql = (
            f"SELECT {select} FROM sessions INDEXED BY {index} WHERE {where} "
            f"ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
        )
        return Plan("filter_first", sql, (*params, *page))
    sql = _rowids_first_sql(select, where, sort, index)
    return Plan("filter_first", sql, (*params, -1 if needed is None else needed, *page))


def _rowids_first_sql(select: str, where: str, sort: str, index: str) -> str:
    """The page's rowids from ``index`` (``where``'s rows, sorted by themselves: the rows
    needed, a parameter after ``where``'s), then only those rows read in full and sorted."""
    return (
        f"SELECT {select} FROM sessions WHERE sessions.rowid IN (SELECT sessions.rowid "
        f"FROM sessions INDEXED BY {index} WHERE {where} ORDER BY {_ORDER[sort]} LIMIT ?) "
        f"ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
    )


def _walk_start(node: _Simple, sort: str) -> tuple[str, tuple[Any, ...]]:
    """Where a walk of the sort order starts, as a WHERE of its index and its parameters: by
    recent, at the end of an ``until:`` window (every row above it fails the query); else at
    the top (``""``, none). A window in the past beside a filter that is not the indexed one
    (`until:2025-06-01 dir:/home/user`) was walked from the newest session, met none of its
    rows, and fell back to SQLite's plan (0.2-0.4 s at 1 M sessions)."""
    bounds = window_bounds(node) if sort == "recent" else None
    if bounds is None or bounds[1] is None:
        return "", ()
    return WALK_FROM_WINDOW, (bounds[1],)


WALK_FROM_WINDOW: Final = "WHERE sessions.last_access <= ? "
"""The start of a walk of the recent order at an ``until:`` window's end (:func:`_walk_start`):
the planner does not charge such a walk for the rows above the window."""


def _walk_sql(select: str, where: str, sort: str, start: str = "") -> str:
    """An unranked plan that reads the first rows (a budget, the first parameter after
    ``start``'s: :func:`_walk_start`) of the sort order from its index and tests each of them;
    exact when it fills the page."""
    # NOT INDEXED: the walked rowids drive the outer loop (rowid lookups stay allowed). Left to
    # itself SQLite reads a qualifier's whole index instead (`project:myapp au`: every one of the
    # project's 30,000 rows tested against the walk, 9 ms instead of 0.2 at 100 k sessions).
    return (
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT sessions.rowid FROM sessions INDEXED BY {_ORDER_INDEX[sort]} "
        f"{start}ORDER BY {_ORDER[sort]} LIMIT ?) AND {where} "
        f"ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
    )


def _range_sql(select: str, where: str, sort: str, start: str = "") -> str:
    """Like :func:`_walk_sql` (NOT INDEXED for the same reason), but the walked rows are tested
    against the full-text matches within their rowid range, read once as a set (no lookup per
    row). Where the words restrict the rows (by recent or created), only their matches within
    that range are read (:func:`_edge_range_sql`)."""
    head = "(" + _FTS_RANGED
    restricted = where == _FTS_RANGED or where.startswith((head + " AND ", head + ")"))
    if sort != "name" and restricted:
        return _edge_range_sql(select, where, sort, start)
    return (
        f"WITH walk (rid) AS MATERIALIZED (SELECT sessions.rowid FROM sessions "
        f"INDEXED BY {_ORDER_INDEX[sort]} {start}ORDER BY {_ORDER[sort]} LIMIT ?) "
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN "
        f"(SELECT rid FROM walk) AND {where} ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
    )


RANGE_FROM_WINDOW: Final = "WHERE sessions.last_access <= (SELECT s FROM arg) "
"""WALK_FROM_WINDOW as :func:`_edge_range_sql` writes it (its start is read twice)."""
_KEY: Final = {"recent": "sessions.last_access", "created": "sessions.created_at"}


def ranges_by_edge(sql: str) -> bool:
    """Whether an order_range's SQL reads only the matches within its walk's range
    (:func:`_edge_range_sql`), not every walked row."""
    return sql.startswith("WITH arg ")


def sorts_by_name(sql: str) -> bool:
    """Whether a plan's SQL lists its rows in name order."""
    return f"ORDER BY {_ORDER['name']} LIMIT" in sql


def walks_created_order(sql: str) -> bool:
    """Whether a walk's SQL walks the created order's index."""
    return f"INDEXED BY {_ORDER_INDEX['created']} " in sql


def starts_at_window(sql: str) -> bool:
    """Whether a walk's SQL starts at an ``until:`` window's end (:func:`_walk_start`)."""
    return WALK_FROM_WINDOW in sql or RANGE_FROM_WINDOW in sql


def _edge_range_sql(select: str, where: str, sort: str, start: str = "") -> str:
    """order_range without the walked rows read (tenth round): the walk's rowid range (``span``,
    an aggregate over the index alone, nothing materialized but its two ends) and its last
    entry's key (``edge``: the budget's place in the same index) bound the full-text matches
    read within the range, and only those rows are read: a match belongs to the walk exactly
    when its key is at or above the edge's. ``where`` must restrict the rows to those matches
    (its first conjunct :data:`_FTS_RANGED`). The old form read and tested every walked row,
    ~1.8 µs each (`a b c d` by created at 1 M sessions: 15,000 rows, 27 ms; this: 4 ms).
    Parameters: ``start``'s (the window's end, read in both walks through ``arg``), the
    budget, ``where``'s, limit and offset."""
    index, order, key = _ORDER_INDEX[sort], _ORDER[sort], _KEY[sort]
    arg, begin = (
        ("arg (s, n) AS MATERIALIZED (SELECT ?, ?)", RANGE_FROM_WINDOW)
        if start
        else (
            "arg (n) AS MATERIALIZED (SELECT ?)",
            "",
        )
    )
    walk = f"FROM sessions INDEXED BY {index} {begin}ORDER BY {order}"
    return (
        f"WITH {arg}, span (lo, hi) AS MATERIALIZED (SELECT min(rid), max(rid) FROM "
        f"(SELECT sessions.rowid AS rid {walk} LIMIT (SELECT n FROM arg))), "
        f"walk (rid) AS (SELECT lo FROM span UNION ALL SELECT hi FROM span), "
        f"edge (k, r) AS MATERIALIZED (SELECT {key}, sessions.rowid {walk} "
        f"LIMIT 1 OFFSET (SELECT n - 1 FROM arg)) "
        f"SELECT {select} FROM sessions NOT INDEXED WHERE {where} AND (NOT EXISTS "
        f"(SELECT 1 FROM edge) OR ({key}, sessions.rowid) >= (SELECT k, r FROM edge)) "
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )


def _words_only(node: _Simple) -> bool:
    """Whether ``node`` is words alone (any of them negated): its SQL reads only the rowid,
    so it can test a walk of an index by rowid (:func:`_set_walk_sql`). With a filter in it,
    ``sessions.project`` there would name the outer query's row: a correlated subquery."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return _words_only(node.child)
    if isinstance(node, And | Or):
        return all(_words_only(child) for child in node.children)
    return False


def _set_walk_sql(select: str, where: str, sort: str) -> str:
    """The first rows (a budget, the first parameter) of the sort order, from its index alone
    (named ``sessions`` with a ``rowid`` column, so that ``where`` reads as over the table),
    tested against ``where`` (full-text sets only: each word's matches read once, as a set of
    rowids) before any row is read; then only the rows that pass are read. Exact when it fills
    the page, as the other walks."""
    return (
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT sessions.rowid FROM (SELECT sessions.rowid AS rowid FROM sessions "
        f"INDEXED BY {_ORDER_INDEX[sort]} ORDER BY {_ORDER[sort]} LIMIT ?) AS sessions "
        f"WHERE {where}) ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
    )


def span_sql(sort: str) -> str:
    """The lowest and highest rowid among the first rows (a parameter) of a sort order."""
    return (
        f"SELECT min(rid), max(rid) FROM (SELECT sessions.rowid AS rid FROM sessions "
        f"INDEXED BY {_ORDER_INDEX[sort]} ORDER BY {_ORDER[sort]} LIMIT ?)"
    )


NAME_FTS_TABLE: Final = "sessions_name_fts"
"""The full-text index whose rowid is the session's rank in name order (migration 009)."""
NAME_SNAPSHOT_TABLES: Final = (
    "sessions_name_fts",
    "sessions_name_rank",
    "sessions_name_dirty",
    "sessions_name_build",
)
# The columns of both full-text indexes, for a filter's value as a column phrase.
_FTS_COLUMNS: Final = ("name", "project", "worktree", "branch")
_BUILT_MAX: Final = "(SELECT max_rowid FROM sessions_name_build)"
NAME_PAGE_SQL: Final = (
    f"SELECT {_SELECT} FROM sessions WHERE sessions.rowid IN (SELECT value FROM json_each(?)) "
    f"ORDER BY {_ORDER['name']} LIMIT ? OFFSET ?"
)
"""name_snapshot's page: its candidates (a JSON array of rowids) in the exact name order."""


def _column_phrases(node: _Simple) -> list[str]:
    """FTS5 column phrases every row of the query's exact top-level ``name:``, ``project:``,
    ``worktree:`` and ``branch:`` filters matches: a value equal to the filter's (NOCASE,
    which folds ASCII case only) has the same tokens, so the column holds them as a phrase.
    They let the snapshot's walk skip the rows the filter rejects (names start with their
    project's: a project's matches come in one stretch of A-Z, which a walk that tested each
    row would reach late)."""
    children = node.children if isinstance(node, And) else (node,)
    phrases = []
    for child in children:
        if not isinstance(child, Field) or child.name not in _FTS_COLUMNS or not child.pattern:
            continue
        pattern, prefix = child.pattern, _prefix_of(child.pattern)
        if "*" not in pattern and has_tokens(pattern):
            phrases.append("{" + child.name + "} : " + fts_quote(pattern))
        elif prefix is not None and has_tokens(prefix):
            # A prefix (`project:my*`): a value that starts with it holds its tokens, the
            # last as a prefix of one of the value's (FTS5's `"…" *`).
            phrases.append("{" + child.name + "} : " + fts_quote(prefix) + " *")
    return phrases


def _dir_phrases(node: _Simple) -> list[str]:
    """FTS5 column phrases every row of the query's top-level ``dir:`` filters matches: the
    folder's path, whose tokens every directory at or below it starts with (its last token
    ends where the path does: a ``/`` or the end follows). For the name snapshot's walk of
    filters alone (eleventh round: `dir:/home/user/code/myapp --sort name`, whose sessions'
    names come late in A-Z, walked 300,000 names in 0.5 s at 1 M sessions). Not anchored
    with ``^``: FTS5 then checked every position (7 ms where the phrase takes 0.1)."""
    children = node.children if isinstance(node, And) else (node,)
    return [
        "{directory} : " + fts_quote(child.path)
        for child in children
        if isinstance(child, Dir) and has_tokens(child.path)
    ]


def _name_snapshot_plan(
    node: _Simple,
    match: str,
    page: tuple[int, int],
    needed: int,
    window: tuple[str | None, str | None] | None = None,
    negated: bool = False,
) -> Plan | None:
    """name_snapshot: the snapshot's matches (sessions_name_fts, rowid = rank in name order)
    streamed in name order, each tested against the other filters, until the page's rows and
    every row with the same name as its last (the order's tie-break, last access, is not in
    the rank) are in; then the matches among the sessions written since the build, and the
    page cut from both in the exact order (store.name_order). Only for words (not all
    negated) ANDed with plain filters: the snapshot's MATCH is the query's whole full-text
    part, so every other condition is a filter on the row.

    With ``window`` (the query's top-level since:/until:), ``name_window``: the same walk,
    each match's session first tested against the window's rowid range (read by day,
    store.query.windows.day_bounds_sql) before its row is read; None when its ends are not
    timestamps.

    ``negated``: ``match`` is the words the rows must not hold (the query's words are all
    negated); the walk's MATCH is then the exact field filters' column phrases NOT those
    words (FTS5 skips the phrases' rows that hold them as it streams), so there must be such
    a filter (else ``name_except``)."""
    if isinstance(node, _Const):
        return None
    head, bound, bound_params = "", "", list[str]()
    if window is not None:
        day = day_bounds_sql(window)
        if day is None:
            return None
        head, bound_params = day
        bound = f"AND {within_bounds('r.sid')} "
    children = node.children if isinstance(node, And) else (node,)
    if any(not _is_fts_conjunct(child) and _has_terms(child) for child in children):
        return None
    params: list[Any] = []
    if negated:
        # The NOT is in the MATCH (of the walk and of the delta): the WHERE is the filters'.
        phrases = [*_column_phrases(node), *_dir_phrases(node)]
        if not phrases:
            return None
        where = _filters_sql(node, params) or "1"
        match = "(" + " AND ".join(f"({p})" for p in phrases) + f") NOT ({match})"
    else:
        where = _sql(node, params, ranked_join=True)
    # Filters alone (``match`` empty): the column phrases are the whole MATCH, of the walk and
    # of the delta (a superset of the filters, each row still tested against them), a
    # folder's too.
    parts = (
        (match, *_column_phrases(node)) if match else (*_column_phrases(node), *_dir_phrases(node))
    )
    if negated:
        parts = (match,)  # the phrases are in it
    if not parts:
        return None
    walk_match = " AND ".join(f"({part})" for part in parts)
    match = match or walk_match
    walk = (
        f"{head}SELECT r.sid, sessions.name FROM {NAME_FTS_TABLE} "
        f"CROSS JOIN sessions_name_rank AS r ON r.rank = {NAME_FTS_TABLE}.rowid "
        f"CROSS JOIN sessions ON sessions.rowid = r.sid "
        f"WHERE {NAME_FTS_TABLE} MATCH ? {bound}"
        f"AND NOT EXISTS (SELECT 1 FROM sessions_name_dirty AS d WHERE d.sid = r.sid) "
        f"AND {where} ORDER BY {NAME_FTS_TABLE}.rowid"
    )
    # Sessions inserted since the build have higher rowids than it saw (their matches: a
    # range of sessions_fts); the dirty ones are tested one by one (renames are rare).
    # ?1 is the words' MATCH, ?2 the walk's last name (None: no bound; a later name cannot
    # reach the page), tested on a dirty session before its FTS5 lookup (~40 µs at 1 M).
    # CROSS JOIN: the dirty rows drive (left to itself SQLite scanned every built session).
    before = "(?2 IS NULL OR {} <= ?2 COLLATE NOCASE)"
    delta = (
        f"SELECT sessions.rowid FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?1 AND rowid > {_BUILT_MAX} "
        f"UNION ALL SELECT d.sid FROM sessions_name_dirty AS d "
        f"CROSS JOIN sessions AS s ON s.rowid = d.sid WHERE d.sid <= {_BUILT_MAX} "
        f"AND {before.format('s.name')} AND EXISTS (SELECT 1 FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH ?1 AND {FTS_TABLE}.rowid = d.sid)) "
        f"AND {before.format('sessions.name')} AND {where}"
    )
    steps = NameWalk(delta, (match, *params), page, needed, window)
    name: PlanName = "name_snapshot" if window is None else "name_window"
    return Plan(name, walk, (*bound_params, walk_match, *params), name_walk=steps)


NAME_EXCEPT_SQL: Final = (
    f"SELECT rank FROM sessions_name_rank EXCEPT SELECT rowid FROM {NAME_FTS_TABLE} "
    f"WHERE {NAME_FTS_TABLE} MATCH ? ORDER BY 1"
)
"""name_except's walk: every rank of the snapshot but its matches of the negated words, A-Z.
A compound with ORDER BY is merged (``MERGE (EXCEPT)``): both sides are read in rank order
(the rank table by its key, the snapshot's doclists by rowid), one step of each at a time, and
the stream stops where the reader stops (a temp B-tree of either side read it whole)."""


def _name_except_plan(node: _Simple, match: str, page: tuple[int, int], needed: int) -> Plan | None:
    """name_except (``--sort name``, words all negated, no exact field to walk as column
    phrases: `-a`, `-a status:ended`): the snapshot's ranks without the words' matches
    (NAME_EXCEPT_SQL), read in chunks, each chunk's sessions read and tested against the
    filters (``lookup_sql``), until the page's rows and the same-name group at its edge are
    in; then the delta's sessions without the words, and the page (as name_snapshot,
    store.name_order). A name order walk that tested each row (one FTS5 lookup, ~12 µs) read
    13,086 rows for `-a`'s first 20 at 1 M sessions (names start with their project's: every
    project starting with "a" comes first); the merge steps through them in C."""
    if isinstance(node, _Const):
        return None
    children = node.children if isinstance(node, And) else (node,)
    if any(not _is_fts_conjunct(child) and _has_terms(child) for child in children):
        return None
    params: list[Any] = []
    where = _filters_sql(node, params) or "1"
    lookup = (
        f"SELECT r.rank, r.sid, sessions.name FROM json_each(?) AS j "
        f"CROSS JOIN sessions_name_rank AS r ON r.rank = j.value "
        f"CROSS JOIN sessions ON sessions.rowid = r.sid "
        f"WHERE NOT EXISTS (SELECT 1 FROM sessions_name_dirty AS d WHERE d.sid = r.sid) "
        f"AND {where} ORDER BY r.rank"
    )
    # The delta: the sessions inserted since the build but the words' matches among them (a
    # range of sessions_fts's doclists), and the dirty ones without them (a lookup each);
    # ?1 the words, ?2 the walk's last name (as name_snapshot's).
    before = "(?2 IS NULL OR {} <= ?2 COLLATE NOCASE)"
    delta = (
        f"SELECT sessions.rowid FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT i.rowid FROM sessions AS i WHERE i.rowid > {_BUILT_MAX} AND i.rowid NOT IN ("
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?1 AND rowid > {_BUILT_MAX}) "
        f"UNION ALL SELECT d.sid FROM sessions_name_dirty AS d "
        f"CROSS JOIN sessions AS s ON s.rowid = d.sid WHERE d.sid <= {_BUILT_MAX} "
        f"AND {before.format('s.name')} AND NOT EXISTS (SELECT 1 FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH ?1 AND {FTS_TABLE}.rowid = d.sid)) "
        f"AND {before.format('sessions.name')} AND {where}"
    )
    steps = NameWalk(
        delta, (match, *params), page, needed, lookup_sql=lookup, lookup_params=tuple(params)
    )
    return Plan("name_except", NAME_EXCEPT_SQL, (match,), name_walk=steps)


def _tested_plan(
    node: _Simple,
    match: str,
    sort: str,
    page: tuple[int, int],
    index: str,
    named: tuple[str, list[tuple[str, list[Any]]]] | None,
) -> Plan:
    """filter_tested: a selective filter's rows in the sort's order, the words tested in Python
    on each row's own text (as filter_scored does: no FTS5 lookup per row, ~15-20 µs each for
    a dense word at 1 M sessions), stopping at the page; then the page's rows read in full.

    The rows come from the filter's index; by name from its (filter, name) index, in order
    (only equal names sorted), so that the reading stops early: one run of it, or for
    ``status:active`` its two runs merged by SQLite (``MERGE (UNION ALL)`` of two ordered
    reads, where ``status IN (…)`` sorted every row of both); otherwise (created) SQLite
    sorts the filter's few rows first."""
    params: list[Any] = []
    # The filters alone: Python tests every full-text part, negated ones too (with the words
    # all negated, ranked_join would keep their NOT IN, which reads their whole doclist).
    where = _filters_sql(node, params) or "1"
    if sort != "name" or named is None:
        sql = (
            f"SELECT {_SCORED_SELECT} FROM sessions INDEXED BY {index} WHERE {where} "
            f"ORDER BY {_ORDER[sort]}"
        )
        scoring = Scoring(fts_phrases(match), page, clauses=_clauses(node))
        return Plan("filter_tested", sql, tuple(params), scoring=scoring)
    # A compound's ORDER BY names its result columns: the rowid, last access and name aliased.
    select = _SCORED_SELECT.replace("sessions.rowid", "sessions.rowid AS rid", 1).replace(
        "sessions.last_access", "sessions.last_access AS la", 1
    )
    select = select.replace("coalesce(sessions.name, '')", "sessions.name AS nm", 1)
    arms = []
    arm_params: list[Any] = []
    for run, run_params in named[1]:
        arms.append(f"SELECT {select} FROM sessions INDEXED BY {named[0]} WHERE {run} AND {where}")
        arm_params.extend([*run_params, *params])
    order = "nm COLLATE NOCASE ASC, la DESC, rid DESC"
    sql = " UNION ALL ".join(arms) + f" ORDER BY {order}"
    scoring = Scoring(fts_phrases(match), page, clauses=_clauses(node))
    return Plan("filter_tested", sql, tuple(arm_params), scoring=scoring)


def _window_scored_plan(
    time_window: tuple[str | None, str | None],
    match: str,
    indexed: tuple[str, str, list[Any], bool],
    where: str,
    params: list[Any],
    page: tuple[int, int],
    window: int,
) -> Plan:
    """window_scored: newest_scored's stream bounded to the rowids of a since:/until:
    window's sessions (read exactly from the last-access index; store.query.windows), so a
    window in the past is not reached through every newer match."""
    return Plan(
        "window_scored",
        window_scored_sql(_SCORED_SELECT, FTS_TABLE, indexed[1], where, time_window),
        (*indexed[2], match, *params, window),
        scoring=Scoring(fts_phrases(match), page),
    )


def _window_scored_by_day_plan(
    time_window: tuple[str | None, str | None],
    match: str,
    where: str,
    params: list[Any],
    page: tuple[int, int],
    window: int,
) -> Plan | None:
    """window_scored_by_day: window_scored with the window's rowid range read by day
    (migration 013's day index: two seeks a whole day, where the last-access index reads
    every entry of the window); None when the window's ends are not timestamps."""
    bounds = day_bounds_sql(time_window)
    if bounds is None:
        return None
    return Plan(
        "window_scored_by_day",
        bounds[0] + scored_within_bounds_sql(_SCORED_SELECT, FTS_TABLE, where),
        (*bounds[1], match, *params, window),
        scoring=Scoring(fts_phrases(match), page),
    )


def _window_created_plan(
    until: str,
    node: _Simple,
    sample: tuple[str, bool],
    times: tuple[str, list[Any]],
    page: tuple[int, int],
) -> Plan:
    """window_created (``--sort created``, a window with an end): the created order walked
    down from the window's end, with the sessions last used before they were created (none,
    normally; migration 013's partial index), the words tested as a set before a row is read
    (store.query.windows); a walk with a budget (the second parameter), exact when it fills
    the page. ``times``: the window's test on last access and its parameters (the indexed
    filter's, or the window's alone beside another filter, which ``where`` tests)."""
    params: list[Any] = []
    where = _sql(node, params, ranged=True)
    needed = page[0] + page[1]
    return Plan(
        "window_created",
        window_created_sql(_SELECT, FTS_TABLE, times[0], where, sample[1]),
        (until, 4 * needed, *times[1], sample[0], *times[1], *params, *page),
        walk_budget=1,
    )


def _window_range_plan(
    time_window: tuple[str | None, str | None],
    node: _Simple,
    match: str,
    indexed: tuple[str, str, list[Any], bool],
    sort: str,
    page: tuple[int, int],
) -> Plan:
    """window_range: the words' matches within a since:/until: window's rowid range, read
    once as a set, tested and sorted (any sort: `--sort created` has no index that relates
    creation to last access, so the window's matches are read and sorted)."""
    params: list[Any] = []
    where = _sql(node, params, ranked_join=True)
    return Plan(
        "window_range",
        window_range_sql(_SELECT, FTS_TABLE, indexed[1], where, _ORDER[sort], time_window),
        (*indexed[2], match, *params, *page),
    )


def _window_set_plan(
    node: _Simple, indexed: tuple[str, str, list[Any], bool], sort: str, page: tuple[int, int]
) -> Plan | None:
    """window_set: a window's sessions in the recent or name order from an index alone
    (the last-access index, or the name index, which holds last_access), tested
    against the words' matches as a set; only for words and the window (any other filter
    would need the row). None for other shapes."""
    if isinstance(node, _Const):
        return None
    children = node.children if isinstance(node, And) else (node,)
    words = [c for c in children if _is_fts_conjunct(c)]
    times = [c for c in children if isinstance(c, Since | Until)]
    if not words or len(words) + len(times) != len(children):
        return None
    params: list[Any] = []
    where = _sql(And(tuple(words)) if len(words) > 1 else words[0], params)
    needed = page[0] + page[1]
    return Plan(
        "window_set",
        window_set_sql(_SELECT, where, indexed[1], _ORDER[sort], _ORDER_INDEX[sort]),
        (*indexed[2], 4 * needed, *params, *page),
        walk_budget=len(indexed[2]),
    )


def _with_passing(facts: PlanFacts, node: _Simple) -> PlanFacts:
    """``facts`` with ``passing_sql``: how many of the newest matches pass the query's
    filters (its full-text conjuncts left out: the rowids are their matches). For words that
    are all negated the sample is of the words the rows must not hold: then how many of the
    newest sessions (the sample's size of the highest rowids) pass the filters alone (with
    the NOT, the count read the words' whole doclist: `-auth project:myapp` at 1 M, 143 ms
    of the planner's time, and said nothing: no match of the sample passes it)."""
    if facts.sample_negated:
        params: list[Any] = []
        where = _filters_sql(node, params)
        if where is None:
            return facts
        return facts.replace(
            passing_sql=(
                # NOT INDEXED: the rowid range drives (with a filter's index SQLite read
                # all of myapp's 300,000 entries, 50 ms at 1 M).
                f"SELECT count(*) FROM sessions NOT INDEXED WHERE sessions.rowid > "
                f"(SELECT max(rowid) FROM sessions) - ? AND {where}"
            ),
            passing_params=(facts.sample_params[-1], *params),
        )
    params = []
    # Words nested in the filters (an OR's: `worktree:main lo (ma OR since:30d)`) each tested
    # by a lookup of the sample's rowids, not read whole as a set (eleventh round: ma's
    # 500,000 matches, 40 ms at 1 M sessions, to count 256 rows).
    where = _sql(node, params, ranked_join=True, probe=_probe_safe(node))
    # Few of the words' newest matches pass the filters: the words and an exact field may
    # rarely meet at all, and then their intersection, which FTS5 reads from the field's
    # column phrase, is every match (eleventh round: `webshop project:infra auth` by created
    # at 1 M, no session: a walk of infra's rows, 121 ms; this read, ~1-3 ms).
    phrases = _column_phrases(node)
    narrow = None
    if any(not phrase.endswith(" *") for phrase in phrases):
        narrow = " AND ".join(f"({part})" for part in (*phrases, facts.sample_params[0]))
    return facts.replace(
        narrow=narrow,
        passing_sql=(
            # NOT INDEXED: the matches' rowids drive (left to itself SQLite read every row of
            # branch:main, 400,000 at 1 M, testing each against them).
            f"SELECT count(*) FROM sessions NOT INDEXED WHERE sessions.rowid IN (SELECT "
            f"rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? ORDER BY rowid DESC LIMIT ?) "
            f"AND {where}"
        ),
        passing_params=(*facts.sample_params, *params),
    )


def _beside_facts(
    facts: PlanFacts | None,
    node: _Simple,
    beside: tuple[str | None, str | None] | None,
    plans: list[Plan],
) -> PlanFacts | None:
    """``facts`` with ``beside`` (store.query.windows.Beside) when a window plan is offered
    beside another indexed filter (the ninth round's plans: window_scored_by_day,
    window_created, filter_tested by recent): how many of the newest matches pass the
    query's filters but the window (its sessions are older than the newest matches when it
    lies in the past, so the whole query's passing share says nothing of the other filter)."""
    offered = ("window_scored_by_day", "window_created", "filter_tested")
    if facts is None or beside is None or not any(p.name in offered for p in plans):
        return facts
    children = node.children if isinstance(node, And) else (node,)
    rest: list[Node] = [
        c for c in children if not isinstance(c, Since | Until | _Const) and not _has_terms(c)
    ]
    params: list[Any] = []
    where = _sql(_simplify(And(tuple(rest))), params) if rest else "1"
    sql = (
        # NOT INDEXED: the matches' rowids drive (as _with_passing's).
        f"SELECT count(*) FROM sessions NOT INDEXED WHERE sessions.rowid IN (SELECT "
        f"rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? ORDER BY rowid DESC LIMIT ?) "
        f"AND {where}"
    )
    return facts.replace(beside=Beside(beside, sql, (*facts.sample_params, *params)))


def _words_beside_field(node: _Simple, indexed: tuple[str, str, list[Any], bool]) -> list[Node]:
    """The query's full-text conjuncts when the rest is the indexed filter's alone: one exact
    field (its index the indexed filter's) and any since:/until:; else none."""
    if isinstance(node, _Const) or indexed[0] not in _FIELD_INDEX.values():
        return []
    children = node.children if isinstance(node, And) else (node,)
    words = [c for c in children if _is_fts_conjunct(c)]
    fields = [c for c in children if isinstance(c, Field) and c.pattern and "*" not in c.pattern]
    times = [c for c in children if isinstance(c, Since | Until)]
    if not words or not fields or len(words) + 1 + len(times) != len(children):
        return []
    return words


def _words_beside_status(node: _Simple, indexed: tuple[str, str, list[Any], bool]) -> list[Node]:
    """The query's full-text conjuncts when the rest is one ``status:`` and a since:/until:
    window, the status index the indexed filter's (status, then last_access: the window's
    stretch of one status, in the recent order); else none. filter_set_walk's walk there
    (ninth round: `cache until:2025-06-01 status:ended`, 1 % and 25 % of 1 M sessions)."""
    if isinstance(node, _Const) or indexed[0] != "ix_sessions_status":
        return []
    children = node.children if isinstance(node, And) else (node,)
    words = [c for c in children if _is_fts_conjunct(c)]
    statuses = [c for c in children if isinstance(c, Status)]
    times = [c for c in children if isinstance(c, Since | Until)]
    if not words or len(statuses) != 1 or not times:
        return []
    return words if len(words) + 1 + len(times) == len(children) else []


CREATED_WALK_BUDGET: Final = 1_000_000
"""created_walk's budget until the planner sets one (a forced plan reads to its end)."""


def _created_walk_plans(
    node: _Simple,
    match: str,
    indexed: tuple[str, str, list[Any], bool],
    page: tuple[int, int],
    default: Plan,
    negated: bool = False,
) -> list[Plan]:
    """created_walk and created_set (``--sort created``): an exact field's sessions (and any
    since:/until: beside it) newest *used* first from its own index (the field, then
    last_access), the words tested on each row's text in Python (created_walk) or its rowid
    first against the words' matches read once as a set (created_set: only the rows that
    pass are read), keeping the best *limit + offset* by creation; the walk stops once the
    last of them was created after the last access of the row just read: every later row
    was last used, and so created, before that (store.search.created_rows). A session last
    used before it was created (imported, another host's clock) breaks that, so those are
    read first from migration 013's partial index (normally empty). Where the field is too
    large to count, the default sorted every match (`auth project:isxecoru-faguka`, 0.5 %:
    310 ms at 1 M sessions) and a walk of the created order meets few of its rows. Only for
    words beside the field alone, and the shapes newest_scored takes.

    ``negated`` (the words all negated: ``match`` is what the rows must not hold): only
    created_walk, its SQL the filters alone (Python tests the words; created_set's set would
    be every match of them: `-auth -login project:x`, 0.5 % of 1 M sessions, ~170 ms)."""
    if not _words_beside_field(node, indexed) or not _scorable(node):
        return []
    params: list[Any] = []
    # Words all negated: the filters alone (a NOT IN would read every match of the words).
    filters = _filters_sql(node, params) if negated else None
    where = filters or ("1" if negated else _sql(node, params, ranked_join=True))
    set_params: list[Any] = []
    set_where = _sql(node, set_params)
    select = f"{_SCORED_SELECT}, sessions.created_at"
    early = CreatedWalk(
        f"SELECT {select} FROM sessions INDEXED BY {EARLY_INDEX} "
        f"WHERE sessions.created_at > sessions.last_access AND {where}",
        tuple(params),
        CREATED_WALK_BUDGET,
        default.sql,
        default.params,
    )
    scoring = Scoring(fts_phrases(match), page, clauses=_clauses(node))
    walk = f"SELECT {select} FROM sessions INDEXED BY {indexed[0]} WHERE "
    order = f" ORDER BY {_ORDER['recent']}"
    created_walk = Plan(
        "created_walk", walk + where + order, tuple(params), scoring=scoring, created=early
    )
    if negated:
        return [created_walk]
    return [
        created_walk,
        Plan(
            "created_set",
            walk + set_where + order,
            tuple(set_params),
            scoring=scoring,
            created=early,
        ),
    ]


def _filter_set_walk_plan(
    node: _Simple, indexed: tuple[str, str, list[Any], bool], page: tuple[int, int]
) -> Plan | None:
    """filter_set_walk (``--sort recent``): an exact field's sessions (``project:myapp``, and
    any since:/until: beside it) newest first from its own index alone (the field, then
    last_access: the index's order is the sort's), each rowid tested against the words'
    matches read once as a set before any row is read; then only the passing rows read.
    Exact when it fills the page, as every walk (window_set's shape over a field's stretch
    of its index). Where the field holds many sessions and the words few (`cache
    project:myapp`: 30 % and 1 % of 1 M sessions), order_range walked ~10,000 rows of the
    whole recent order reading each one (40 ms). Only for words and the field's filters."""
    words = _words_beside_field(node, indexed) or _words_beside_status(node, indexed)
    if not words:
        return None
    params: list[Any] = []
    where = _sql(And(tuple(words)) if len(words) > 1 else words[0], params)
    needed = page[0] + page[1]
    return Plan(
        "filter_set_walk",
        window_set_sql(_SELECT, where, indexed[1], _ORDER["recent"], indexed[0]),
        (*indexed[2], 4 * needed, *params, *page),
        walk_budget=len(indexed[2]),
    )


def _window_walk_plan(
    indexed: tuple[str, str, list[Any], bool],
    where: str,
    params: list[Any],
    page: tuple[int, int],
) -> Plan:
    """window_walk: a since:/until: window's sessions in name order, the window tested in the
    name index (which holds last_access), each row in it probed for the words; a walk with a
    budget (the parameter after the window's), exact when it fills the page."""
    needed = page[0] + page[1]
    return Plan(
        "window_walk",
        window_walk_sql(_SELECT, where, indexed[1], _ORDER["name"]),
        (*indexed[2], 4 * needed, *params, *page),
        walk_budget=len(indexed[2]),
    )


def _words_in_every_branch(node: _Simple) -> bool:
    """Whether every row ``node`` matches holds one of its words that are not negated: each
    branch of every OR has a positive full-text conjunct (``auth OR (login status:active)``,
    not ``auth OR status:active``). Such a query's results are all among the matches of the
    OR of its ranked words, so they can be streamed from them newest first, as a window."""
    if isinstance(node, _Const | Not):
        return False
    if _fts(node) is not None:
        return True
    if isinstance(node, And):
        return any(_words_in_every_branch(child) for child in node.children)
    if isinstance(node, Or):
        return all(_words_in_every_branch(child) for child in node.children)
    return False


UNION_CAP: Final = 4096
"""Most sessions ``or_union`` gathers from its branches (their count times the page's end)."""


def _or_branches(node: _Simple) -> tuple[Node, ...] | None:
    """The branches of an OR with a filter in it: the OR's own at the top, or each of them
    with the other conjuncts of an AND that holds one OR (``(a OR project:x) status:active``:
    ``a status:active``, ``project:x status:active``); None for anything else, and for an OR
    of words alone (one MATCH, which FTS5 unites itself)."""
    if isinstance(node, Or):
        return None if _fts(node) is not None else node.children
    if not isinstance(node, And):
        return None
    ors = [c for c in node.children if isinstance(c, Or) and _fts(c) is None]
    if len(ors) != 1:
        return None
    rest = tuple(c for c in node.children if c is not ors[0])
    return tuple(And((*rest, branch)) for branch in ors[0].children)


def _or_union_plan(node: _Simple, sort: str, page: tuple[int, int], needed: int) -> Plan | None:
    """or_union: each branch of an OR with a filter (:func:`_or_branches`) compiled as a query
    of its own for the page's first ``needed`` sessions in the sort's order; the page of the
    OR is among their union (a session in the OR's first ``needed`` is in its branch's first
    ``needed``), which one statement sorts and cuts. Each branch gets the plan it would get
    alone (a word by its matches, a status by its index), where the default plan reads every
    match of each word and every row of the filter (`zanzibar OR (auth status:active)`: 0.4 s
    at 1 M sessions). Not for relevance (a window of scored matches is not a union of the
    branches' windows), nor past UNION_CAP sessions."""
    branches = _or_branches(node)
    if branches is None or needed * len(branches) > UNION_CAP:
        return None
    compiled = tuple(
        compile_query(branch, sort=sort, limit=needed, offset=0)  # type: ignore[arg-type]
        for branch in branches
    )
    sql = (
        f"SELECT {_SELECT} FROM sessions WHERE sessions.id IN (SELECT value FROM json_each(?)) "
        f"ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
    )
    return Plan("or_union", sql, ("[]", *page), union=OrUnion(compiled, page))


def _covered_walks(node: _Simple, sort: str, page: tuple[int, int], needed: int) -> list[Plan]:
    """order_walk and order_range for words ORed with filters, a word in every branch
    (:func:`_words_in_every_branch`), in a sort order: the sort order's first rows tested
    against the whole query, each word by one FTS5 lookup (order_walk) or its matches within
    the walked rows' rowid range read once as a set (order_range). The default reads every
    match of each word and sorts them (`auth OR (login status:active) --sort created`: 1.3 s
    at 1 M sessions)."""
    probe_params: list[Any] = []
    probe_where = _sql(node, probe_params, probe=True)
    range_params: list[Any] = []
    range_where = _sql(node, range_params, ranged=True)
    return [
        Plan(
            "order_walk",
            _walk_sql(_SELECT, probe_where, sort),
            (4 * needed, *probe_params, *page),
            walk_budget=0,
        ),
        Plan(
            "order_range",
            _range_sql(_SELECT, range_where, sort),
            (4 * needed, *range_params, *page),
            walk_budget=0,
        ),
    ]


def _covered_or_plan(
    node: _Simple, match: str, bm25: str, hits_limit: int, window: int, page: tuple[int, int]
) -> Plan:
    """Words ORed with filters where every branch holds a word (:func:`_words_in_every_branch`),
    ranked as every other query: the matches of the OR of the ranked words streamed newest
    first, each tested against the whole query (one FTS5 lookup a word: the query's own
    full-text parts as sets would read every match of each), bm25 over the newest window of
    hits, older hits after by recency. Before, this shape ranked every match (`auth OR (login
    status:active)`: 3.7 s at 1 M sessions)."""
    params: list[Any] = []
    where = _sql(node, params, probe=True)
    newest = (
        f"SELECT {FTS_TABLE}.rowid, {bm25}, sessions.last_access FROM {FTS_TABLE} "
        f"CROSS JOIN sessions ON sessions.rowid = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH ? AND {where} ORDER BY {FTS_TABLE}.rowid DESC LIMIT ?"
    )
    edge = (max(1, window) - 1,)
    return Plan("newest_ranked", _windowed_sql(newest), (match, *params, hits_limit, *edge, *page))


def _uncovered_or_plan(
    node: _Simple, match: str, bm25: str, hits_limit: int, window: int, page: tuple[int, int]
) -> Plan:
    """Words ORed with a filter in a branch that has no word (``auth OR project:x``), ranked
    as every other query: the sessions the WHERE lets through, newest first, the newest
    ``window`` of them scored (those matching none of the words score 0, after every match
    of one), older ones after by recency. bm25 comes from one pass over the matches within
    the window's rowids (FTS5 seeks to a rowid range; its statistics are the whole index's
    either way), never once per row (the join trap), and only the window's sessions are
    looked up in it: a LEFT JOIN of every session to every match, which SQLite ran as a
    scan of the matches per session, took 208 s at 100,000 sessions. Before the seventh
    round this shape ranked every match (no window)."""
    params: list[Any] = []
    where = _sql(node, params)
    hits = (
        f"WITH found (rid, last_access) AS MATERIALIZED (SELECT sessions.rowid, "
        f"sessions.last_access FROM sessions WHERE {where} ORDER BY sessions.rowid DESC "
        f"LIMIT ?), "
        f"bounds (lo, hi) AS MATERIALIZED (SELECT min(rid), max(rid) FROM ("
        f"SELECT rid FROM found ORDER BY rid DESC LIMIT ?)), "
        f"ranked (rid, score) AS MATERIALIZED (SELECT rowid, {bm25} FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH ? AND rowid BETWEEN (SELECT lo FROM bounds) "
        f"AND (SELECT hi FROM bounds)) "
        f"SELECT found.rid, CASE WHEN found.rid >= (SELECT lo FROM bounds) THEN coalesce(("
        f"SELECT ranked.score FROM ranked WHERE ranked.rid = found.rid), 0.0) ELSE 0.0 END, "
        f"found.last_access FROM found"
    )
    edge = (max(1, window) - 1,)
    return Plan(
        "fts_first",
        _windowed_sql(hits),
        (*params, hits_limit, max(1, window), match, *edge, *page),
    )


_UNION_WINDOW_SQL: Final = (
    f"SELECT {_SCORED_SELECT} FROM sessions WHERE sessions.rowid IN ("
    f"SELECT value FROM json_each(?1) UNION SELECT s.rowid FROM sessions AS s "
    f"WHERE s.id IN (SELECT value FROM json_each(?2))) ORDER BY sessions.rowid DESC LIMIT ?3"
)
"""A ranked or_union's window: the newest of the sessions its branches gave (their rowids, a
JSON array, and their ids, another), read for scoring (SCORED_COLUMNS), newest first."""


def _newest_ids(branch: _Simple) -> NewestIds:
    """A branch without words to rank, as :class:`NewestIds` (its index: the filter's that
    :func:`_indexed_filter` picks, or none)."""
    params: list[Any] = []
    where = _sql(branch, params)
    newest = f"WHERE {where} ORDER BY sessions.rowid DESC LIMIT ?"
    scan = f"SELECT sessions.rowid FROM sessions NOT INDEXED {newest}"
    indexed = _indexed_filter(branch)
    if indexed is None:
        return NewestIds(None, (), None, scan, tuple(params))
    index, filter_sql, filter_params, _ = indexed
    return NewestIds(
        f"SELECT count(*) FROM (SELECT 1 FROM sessions INDEXED BY {index} "
        f"WHERE {filter_sql} LIMIT ?)",
        tuple(filter_params),
        f"SELECT sessions.rowid FROM sessions INDEXED BY {index} {newest}",
        scan,
        tuple(params),
    )


def _or_union_ranked_plan(
    node: _Simple, match: str, page: tuple[int, int], needed: int, window: int
) -> Plan | None:
    """or_union, ranked: each branch of an OR with a filter (:func:`_or_branches`) gives its
    newest ``window`` matches, a branch with words by its own ranked query for a page of
    ``window`` (which is its whole window, found by the plan it would get alone: an alive
    status from its own index, a word by its newest matches), a branch without by
    :class:`NewestIds`. The OR's window, its newest ``window`` matches, is among their
    union (a match among the OR's newest ``window`` is among its branch's), and is ranked in
    Python by bm25 of the OR's ranked words, as newest_scored ranks (a session that holds
    none scores 0, as the default's LEFT JOIN). Only where the page lies within the window
    (``needed <= window``), with every word's phrases scorable, and at most UNION_CAP
    sessions gathered."""
    branches = _or_branches(node)
    if branches is None or window * len(branches) > UNION_CAP:
        return None
    ranked: list[CompiledQuery] = []
    filters: list[NewestIds] = []
    for branch in branches:
        simple = _simplify(branch)
        if _rank_terms(simple):
            ranked.append(compile_query(branch, limit=window, offset=0, window=window))
        else:
            filters.append(_newest_ids(simple))
    scoring = Scoring(fts_phrases(match), page, window=window)
    union = OrUnion(tuple(ranked), page, tuple(filters), window)
    return Plan("or_union", _UNION_WINDOW_SQL, ("[]", "[]", window), scoring=scoring, union=union)


_STREAM_HEAD: Final = (
    f"SELECT {_SCORED_SELECT} FROM {FTS_TABLE} "
    f"CROSS JOIN sessions ON sessions.rowid = {FTS_TABLE}.rowid WHERE {FTS_TABLE} MATCH ? AND "
)
_STREAM_TAIL: Final = f" ORDER BY {FTS_TABLE}.rowid DESC LIMIT ?"


def resumed_stream(plan: Plan, rowids: str, lowest: int) -> Plan | None:
    """``newest_scored`` (or ``phrase_scored``) with the newest of its stream's matches already
    known: ``rowids`` (a JSON array), every match of its MATCH from ``lowest`` up (the
    planner's sample of it). Those sessions are read by rowid and tested against the filters,
    and FTS5's stream resumes below ``lowest`` for the rest of the window: the same rows,
    without intersecting the words' doclists over the sample's range a second time
    (eleventh round: `a b c d` by relevance at 1 M sessions, whose newest 256 matches span
    ~125,000 rowids of four dense lists: 2.8 ms of the stream's 6.3). None when ``plan`` is
    not such a stream. The rows come newest first; store.search sorts them again anyway."""
    sql = plan.sql
    if not (sql.startswith(_STREAM_HEAD) and sql.endswith(_STREAM_TAIL)):
        return None
    where = sql[len(_STREAM_HEAD) : -len(_STREAM_TAIL)]
    match, *params, window = plan.params
    return plan.replace(
        sql=(
            f"WITH head AS MATERIALIZED (SELECT {_SCORED_SELECT} FROM sessions NOT INDEXED "
            f"WHERE sessions.rowid IN {KNOWN_ROWIDS} AND {where}) "
            "SELECT * FROM (SELECT * FROM head ORDER BY 1 DESC) UNION ALL SELECT * FROM ("
            f"{_STREAM_HEAD}{FTS_TABLE}.rowid < ? AND {where} ORDER BY {FTS_TABLE}.rowid DESC "
            "LIMIT max(0, ? - (SELECT count(*) FROM head)))"
        ),
        params=(rowids, *params, match, lowest, *params, window),
    )


def _windowed_sql(hits: str) -> str:
    """Rank ``hits`` (rid, score, last_access: matches that pass every filter) by relevance.

    The newest :data:`RELEVANCE_WINDOW` hits (by rowid, the order sessions were recorded in) are
    ranked by bm25, ties most recent first; older hits, when a page reaches past the window,
    follow most recent first. The page is cut before the sessions are read in full.
    """
    return (
        f"WITH hits (rid, score, last_access) AS MATERIALIZED ({hits}), "
        f"edge (rid) AS (SELECT rid FROM hits ORDER BY rid DESC LIMIT 1 OFFSET ?), "
        f"page (rid, score, last_access, outside) AS MATERIALIZED ("
        f"SELECT rid, score, last_access, coalesce(rid < (SELECT rid FROM edge), 0) AS outside "
        f"FROM hits ORDER BY outside, CASE WHEN outside THEN 0.0 ELSE score END, "
        f"last_access DESC, rid DESC LIMIT ? OFFSET ?) "
        f"SELECT {_SELECT}, -page.score AS score FROM page "
        f"JOIN sessions ON sessions.rowid = page.rid "
        f"ORDER BY page.outside, CASE WHEN page.outside THEN 0.0 ELSE page.score END, "
        f"page.last_access DESC, page.rid DESC"
    )


def compile_query(
    tree: Node,
    *,
    sort: SearchSort = "relevance",
    limit: int | None = 20,
    offset: int = 0,
    window: int = RELEVANCE_WINDOW,
) -> CompiledQuery:
    """Compile a syntax tree into SQL over ``sessions``; ``limit=None`` means no limit.

    Returns the default plan and every alternative the planner (store.search) may choose
    instead; ``window`` is how many of the newest matches relevance ranks (tests shrink it).
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    compiled = _compile(tree, sort, limit, offset, window, None)
    if compiled.facts is not None and compiled.facts.parts:
        compiled = compiled.replace(source=Source(tree, sort, limit, offset, window))
    return compiled


def rarest_first(compiled: CompiledQuery, shares: Mapping[str, float]) -> CompiledQuery:
    """``compiled`` again, its ANDed words (``facts.parts``) in the order of ``shares`` (each
    part's estimated share of the sessions), the rarest first; ``compiled`` itself when that
    is their order already or it cannot be compiled again (no ``source``).

    FTS5 intersects an AND's doclists driven by its first phrase, each other one advanced to
    that phrase's next rowid: led by a dense one, every entry of it is read (`auth api cache
    d*` at 1 M sessions, 22 matches: 23 ms to read them all; `cache api d* auth`: 11.7)."""
    source, facts = compiled.source, compiled.facts
    if source is None or facts is None or not facts.parts:
        return compiled
    ordered = sorted(facts.parts, key=lambda part: shares.get(part, 1.0))
    if ordered == list(facts.parts):
        return compiled
    return _compile(source.tree, source.sort, source.limit, source.offset, source.window, shares)


def _by_share(node: And, shares: Mapping[str, float]) -> And:
    """``node``, its positive full-text children in the order of their ``shares`` (the rarest
    first, stably), each other child where it was."""
    children = list(node.children)
    slots = [i for i, c in enumerate(children) if not isinstance(c, Not) and _fts(c) is not None]
    ordered = sorted((children[i] for i in slots), key=lambda c: shares.get(_fts(c) or "", 1.0))
    for slot, child in zip(slots, ordered, strict=True):
        children[slot] = child
    return And(tuple(children))


def _compile(
    tree: Node,
    sort: SearchSort,
    limit: int | None,
    offset: int,
    window: int,
    shares: Mapping[str, float] | None,
) -> CompiledQuery:
    node = _simplify(tree)
    if shares is not None and isinstance(node, And):
        node = _by_share(node, shares)
    rank = _rank_expr(node) if sort == "relevance" else None
    page = (limit if limit is not None else -1, max(0, offset))
    needed = None if limit is None else limit + max(0, offset)
    order_sort = "recent" if sort == "relevance" else sort
    sample = _sample_expr(node)
    safe = _probe_safe(node)
    indexed = _indexed_filter(node)
    # A since:/until: window that is the indexed filter (no exact field, no status beside it).
    time_window = window_bounds(node) if indexed is not None and indexed[0] == TIME_INDEX else None
    # A since:/until: window beside another indexed filter (a field, a status, a folder:
    # `auth project:myapp until:2025-06-01`): the window plans bounded to its rowid range,
    # the other filters tested on each row (docs/search.md, ninth round). Not for words all
    # negated (their sample is of the words the rows must not hold).
    beside = None
    if indexed is not None and indexed[0] != TIME_INDEX and sample is not None and not sample[1]:
        beside = window_bounds(node) if safe else None
    facts = None
    if sample is not None:
        candidates_sql = None
        candidates_params: tuple[Any, ...] = ()
        if indexed is not None and safe:
            candidates_sql = (
                f"SELECT count(*) FROM (SELECT 1 FROM sessions INDEXED BY {indexed[0]} "
                f"WHERE {indexed[1]} LIMIT ?)"
            )
            candidates_params = (*indexed[2], FILTER_CAP)
        positive = _split_and(node.children)[0] if isinstance(node, And) else []
        facts = PlanFacts(
            _SAMPLE_SQL if safe else None,
            (sample[0], SAMPLE_SIZE),
            sample[1],
            candidates_sql,
            candidates_params,
            needed,
            span_sql(order_sort) if rank is None and needed is not None else None,
            window=time_window if safe else None,
            parts=tuple(positive) if len(positive) > 1 and not sample[1] else (),
        )
    # Words ORed with filters, a word in every branch, in a sort order (`auth OR (login
    # status:active) --sort recent`): no conjunct every result matches, but every result holds
    # one of the words, so the OR of the words is sampled for the density of the results (an
    # upper bound: a walk that falls short retries at the density it saw, then the default),
    # and the sort order is walked, each row tested against the whole query.
    cover = None
    covered = sample is None and rank is None and safe and needed is not None
    if covered and _words_in_every_branch(node):
        cover = " OR ".join(f"({t})" for t in dict.fromkeys(_rank_terms(node)))
        facts = PlanFacts(
            _SAMPLE_SQL, (cover, SAMPLE_SIZE), False, None, (), needed, span_sql(order_sort)
        )
    # No words, filters only. SQLite's own choice misjudges a filter from sqlite_stat1's
    # averages: `status:active` (0.2 % of the rows, where status's average value holds a
    # third) made it scan the sort order's index testing each row (0.1-0.5 s at 1 M sessions).
    # So the planner counts the filter's rows in its index, up to FILTER_CAP: few, and
    # filter_first reads them from that index and sorts them (recent: every filter index has
    # last_access second, so that read is in order and stops at the page); many, and a walk
    # of the sort order tests them (created: the filter's index does not give that order; the
    # default sorts every row it keeps, 1 s for a project in 30 % of 1 M sessions), or, by
    # name, a walk of the filter's own (filter, name) index (names start with their
    # project's, so a project's rows come in one late stretch of A-Z of the name index).
    named = _name_filter(node) if order_sort == "name" and needed is not None else None
    wordless = (
        sample is None
        and indexed is not None
        and needed is not None
        and not _rank_terms(node)
        and not _has_terms(node)
    )
    if wordless and indexed is not None:
        facts = PlanFacts(
            None,
            (),
            False,
            f"SELECT count(*), (SELECT max(rowid) FROM sessions) FROM (SELECT 1 FROM sessions "
            f"INDEXED BY {indexed[0]} WHERE {indexed[1]} LIMIT ?)",
            (*indexed[2], FILTER_CAP),
            needed,
            sort=order_sort,
            whole_filter=indexed[3],
        )
    # A field's prefix alone (no exact field, status or window: `name:ccmgr-*`), by recent or
    # created: SQLite reads the prefix's range of the field's NOCASE index and sorts every row
    # of it (0.3-2 s at 1 M sessions, where most names start with `ccmgr-`). Counted in that
    # range up to FILTER_CAP: many, and a walk of the sort order tests them (as a field's
    # many rows by created, above); few, and SQLite's plan reads them. By name, another field's
    # prefix walks the name snapshot (below); the name's own range is in name order.
    prefix = None
    if sample is None and indexed is None and needed is not None:
        prefix = None if _has_terms(node) else _prefix_filter(node)
    alone_prefix = prefix is not None and isinstance(node, Field)
    if prefix is not None:
        facts = PlanFacts(
            None,
            (),
            False,
            f"SELECT count(*), (SELECT max(rowid) FROM sessions) FROM (SELECT 1 FROM sessions "
            f"INDEXED BY {prefix[0]} WHERE {prefix[1]} LIMIT ?)",
            (*prefix[2], FILTER_CAP),
            needed,
            sort=order_sort,
            whole_filter=False,
        )
    if rank is None:
        params: list[Any] = []
        where = _sql(node, params)
        # fts_first: the full-text part read once as a set (SQLite picks the join order).
        default = Plan(
            "fts_first",
            f"SELECT {_SELECT} FROM sessions WHERE {where} "
            f"ORDER BY {_ORDER[order_sort]} LIMIT ? OFFSET ?",
            (*params, *page),
        )
        plans = [default]
        if needed is not None and facts is not None and _known(facts, node):
            # known_first: words (ANDed with each other or with filters) that match fewer rows
            # than the planner's sample reads (SAMPLE_SIZE) are all in that sample: the planner
            # puts their rowids in place of the MATCH (KNOWN_MATCH -> KNOWN_ROWIDS), read with
            # the filters alone, not intersected again (`auth api cache d*`, 22 of 1 M
            # sessions: 11 ms each time).
            # NOT INDEXED: the rowids drive; left to itself SQLite read a filter's index and
            # tested each row against them (`zanzibar m branch:main`: 400,000 rows, 80 ms).
            known_params: list[Any] = []
            rest = _filters_sql(node, known_params)
            plans.append(
                Plan(
                    "known_first",
                    f"SELECT {_SELECT} FROM sessions NOT INDEXED WHERE sessions.rowid IN "
                    f"{KNOWN_MATCH}"
                    f"{f' AND {rest}' if rest else ''} "
                    f"ORDER BY {_ORDER[order_sort]} LIMIT ? OFFSET ?",
                    (_known_match(facts, node, order_sort), *known_params, *page),
                )
            )
        # By recent too when the indexed filter is not the whole query: its index gives the
        # order, but the other filters are tested on its rows (`status:ended name:ccmgr-*`:
        # SQLite read the name's range and sorted it, 2.6 s at 1 M sessions).
        whole = indexed is not None and indexed[3]
        # By name when no index gives the filter's rows in name order (a folder: `dir:~`,
        # most sessions, sorted whole in 2.2-2.8 s at 1 M).
        # (A window alone has its own: window_walk, which tests it in the name index.)
        timed = indexed is not None and indexed[0] == TIME_INDEX
        unnamed = order_sort == "name" and named is None and not timed
        walked_order = wordless and (
            order_sort == "created" or (order_sort == "recent" and not whole) or unnamed
        )
        if needed is not None and (walked_order or (prefix is not None and order_sort != "name")):
            start, start_params = _walk_start(node, order_sort)
            plans.append(
                Plan(
                    "order_walk",
                    _walk_sql(_SELECT, where, order_sort, start),
                    (*start_params, 4 * needed, *params, *page),
                    walk_budget=len(start_params),
                )
            )
        if needed is not None and prefix is not None and order_sort == "recent" and alone_prefix:
            # prefix_first: a field's prefix, the whole query, by recent: the page's rowids
            # from its range of the field's NOCASE index, which holds last_access (covering:
            # no row read until the page's), then only those rows (`project:isx*`, 7,415 of
            # 1 M sessions: SQLite's plan read and sorted each row, 14 ms; this 2).
            plans.append(
                Plan(
                    "prefix_first",
                    _rowids_first_sql(_SELECT, prefix[1], "recent", prefix[0]),
                    (*prefix[2], needed, *page),
                )
            )
        bounds = window_bounds(node) if wordless and order_sort == "created" else None
        if needed is not None and bounds is not None and bounds[1] is not None:
            # window_created of filters alone: the created order walked down from the
            # window's end, not from the newest session (which order_walk starts at: a window
            # in the past is reached after every newer session, and the fallback sorted every
            # session of it, 0.5 s for `until:2025-02-11`, 10 % of 1 M sessions).
            times, times_params = window_times_sql(bounds)
            plans.append(
                Plan(
                    "window_created",
                    window_created_wordless_sql(_SELECT, times, where),
                    (bounds[1], 4 * needed, *times_params, *params, *page),
                    walk_budget=1,
                )
            )
        # (A prefix of another field than the name alone too: `project:my*`, SQLite sorted
        # every session of its range, 0.9 s at 1 M; the name's own range is in name order.)
        by_prefix = prefix is not None and prefix[0] != _FIELD_INDEX["name"]
        # (And a whole filter without a (filter, name) index: `worktree:main`, 40 % of 1 M
        # sessions, but bunched in A-Z: the walk of the name index fell short, 14 ms.)
        unwalked = wordless and (not whole or named is None)
        if needed is not None and order_sort == "name" and (unwalked or by_prefix):
            # name_snapshot of filters alone: other filters beside the one whose name index
            # the walk reads are met late in A-Z (names start with their project's and
            # branch's: `project:myapp branch:main`, 340 ms at 1 M), while the snapshot's
            # MATCH of their values as column phrases skips every row they reject.
            snapshot = _name_snapshot_plan(node, "", page, needed)
            if snapshot is not None:
                plans.append(snapshot)
        if wordless and needed is not None and named is not None and len(named[1]) == 1:
            # filter_walk: the filter's rows in name order from its (filter, name) index.
            ((run, run_params),) = named[1]
            plans.append(
                Plan(
                    "filter_walk",
                    _filter_walk_sql(_SELECT, where, named[0], run),
                    (*run_params, 4 * needed, *params, *page),
                    walk_budget=len(run_params),
                )
            )
        elif wordless and needed is not None and named and indexed and indexed[3]:
            # filter_walk over several runs (`status:active`): exact when the filter is the
            # whole query (each run's first rows hold the page's), so only then.
            plans.append(
                Plan(
                    "filter_walk",
                    _runs_walk_sql(_SELECT, named[0], named[1]),
                    (*(p for _, ps in named[1] for p in (*ps, needed)), *page),
                )
            )
        alone = time_window is not None and indexed is not None and indexed[3]
        if wordless and needed is not None and alone and indexed and order_sort == "name":
            # window_walk without words, the window the whole query: the name index read in
            # order, the window tested in it (SQLite's own plan for `since:X until:Y` read the
            # window from its index and sorted it).
            plans.append(
                Plan(
                    "window_walk",
                    window_scan_sql(_SELECT, indexed[1], _ORDER["name"]),
                    (*indexed[2], *page),
                )
            )
        if wordless and indexed is not None:
            # filter_first: the filter's rows from its index, then sorted (or read in order).
            plans.append(
                _filter_first(_SELECT, where, params, order_sort, indexed[0], needed, page)
            )
        if cover is not None and needed is not None:
            plans.extend(_covered_walks(node, order_sort, page, needed))
        if needed is not None:
            union = _or_union_plan(node, order_sort, page, needed)
            if union is not None:
                plans.append(union)
        if sample is not None and safe:
            probe_params: list[Any] = []
            probe_where = _sql(node, probe_params, probe=True)
            if needed is not None:
                start, start_params = _walk_start(node, order_sort)
                plans.append(
                    Plan(
                        "order_walk",
                        _walk_sql(_SELECT, probe_where, order_sort, start),
                        (*start_params, 4 * needed, *probe_params, *page),
                        walk_budget=len(start_params),
                    )
                )
                range_params: list[Any] = []
                range_where = _sql(node, range_params, ranged=True)
                plans.append(
                    Plan(
                        "order_range",
                        _range_sql(_SELECT, range_where, order_sort, start),
                        (*start_params, 4 * needed, *range_params, *page),
                        walk_budget=len(start_params),
                    )
                )
            if needed is not None and _words_only(node):
                # order_set: words alone (no filter): the sort order's index walked, each
                # rowid tested against the matches read once as a set before any row is read
                # (the walks above read each walked row: ~4 µs a row at 1 M sessions).
                set_params: list[Any] = []
                set_where = _sql(node, set_params)
                plans.append(
                    Plan(
                        "order_set",
                        _set_walk_sql(_SELECT, set_where, order_sort),
                        (4 * needed, *set_params, *page),
                        walk_budget=0,
                    )
                )
            if named is not None and needed is not None and len(named[1]) == 1:
                ((run, run_params),) = named[1]
                plans.append(
                    Plan(
                        "filter_walk",
                        _filter_walk_sql(_SELECT, probe_where, named[0], run),
                        (*run_params, 4 * needed, *probe_params, *page),
                        walk_budget=len(run_params),
                    )
                )
            if indexed is not None:
                plans.append(
                    _filter_first(
                        _SELECT, probe_where, probe_params, order_sort, indexed[0], needed, page
                    )
                )
            if order_sort == "name" and needed is not None and sample[1]:
                # Words all negated: the snapshot's field phrases NOT the words, or its
                # ranks except the words' matches (docs/search.md, "ninth round").
                negated = _name_snapshot_plan(node, sample[0], page, needed, negated=True)
                negated = negated or _name_except_plan(node, sample[0], page, needed)
                if negated is not None:
                    plans.append(negated)
            if order_sort == "name" and needed is not None and not sample[1]:
                snapshot = _name_snapshot_plan(node, sample[0], page, needed)
                if snapshot is not None:
                    plans.append(snapshot)
                # name_window: the snapshot's walk within a window's rowid range.
                bounded = window_bounds(node)
                if snapshot is not None and bounded is not None:
                    ranged = _name_snapshot_plan(node, sample[0], page, needed, bounded)
                    if ranged is not None:
                        plans.append(ranged)
            walked = time_window is not None and needed is not None and order_sort == "name"
            if walked and indexed is not None:
                plans.append(_window_walk_plan(indexed, probe_where, probe_params, page))
            if time_window is not None and indexed is not None and order_sort != "created":
                window_set = _window_set_plan(node, indexed, order_sort, page)
                if window_set is not None:
                    plans.append(window_set)
            by_created = time_window is None and indexed is not None and order_sort == "created"
            if by_created and needed is not None and sample[1] and facts is not None:
                # Words all negated: how many of the newest sessions pass the filters (a field
                # too large to count is counted on if few do: filter_tested then reads it).
                facts = _with_passing(facts, node)
            if by_created and indexed is not None and needed is not None:
                created = _created_walk_plans(
                    node, sample[0], indexed, page, default, negated=sample[1]
                )
                if created and facts is not None:
                    # How many of the newest matches pass the field (read when it is too
                    # large to count) sizes the walks of the created order against these.
                    facts = _with_passing(facts, node)
                plans.extend(created)
            tested_prefix = _prefix_beside_words(node) if order_sort == "recent" else None
            if tested_prefix is not None and needed is not None and indexed is not None:
                # prefix_tested: words beside a field's prefix alone, by recent: the prefix's
                # range of the field's NOCASE index (covering: it holds last_access) sorted,
                # then each rowid tested in that order until the page is in (tenth round:
                # `auth project:isx*`, 7,415 of 1 M sessions, ~7 ms; a walk of the recent
                # order read ~8,400 rows, 11-18).
                field, words = tested_prefix
                field_params: list[Any] = []
                field_where = _leaf_sql(field, field_params)
                word_params: list[Any] = []
                word_where = _sql(words, word_params, probe=True)
                plans.append(
                    Plan(
                        "prefix_tested",
                        _prefix_tested_sql(_SELECT, field_where, indexed[0], word_where),
                        (*field_params, *word_params, needed, *page),
                    )
                )
            if time_window is None and indexed is not None and order_sort == "recent":
                filter_set = _filter_set_walk_plan(node, indexed, page)
                if filter_set is not None:
                    plans.append(filter_set)
                if filter_set is not None and needed is not None and facts is not None:
                    # filter_walk by recent: an exact field's rows newest first from its own
                    # index, each tested (one FTS5 lookup a word), stopping at the page. For
                    # a field too large to count filter_first is never costed, and a walk of
                    # the whole recent order meets few of a small project's rows
                    # (`auth project:isxecoru-faguka`, 0.5 %: order_range 18 ms, this 0.5).
                    # How many of the newest matches pass the field (~0.1 ms, read when it is
                    # too large to count) says which. Only where filter_set_walk is offered:
                    # words and the field alone (its rows then pass every filter, so the
                    # words' share sizes the walk).
                    facts = _with_passing(facts, node)
                    plans.append(
                        Plan(
                            "filter_walk",
                            _filter_walk_sql(
                                _SELECT, probe_where, indexed[0], indexed[1], "recent"
                            ),
                            (*indexed[2], 4 * needed, *probe_params, *page),
                            walk_budget=len(indexed[2]),
                        )
                    )
            if time_window is not None and indexed is not None and not sample[1]:
                plans.append(
                    _window_range_plan(time_window, node, sample[0], indexed, order_sort, page)
                )
            # window_created: by created, a window with an end (store.query.windows).
            until = time_window[1] if time_window is not None else None
            by_created = order_sort == "created" and needed is not None
            if until is not None and indexed is not None and by_created:
                ends = (indexed[1], indexed[2])
                plans.append(_window_created_plan(until, node, sample, ends, page))
            elif beside is not None and beside[1] is not None and by_created:
                # Beside another filter (ninth round), which the walk's rows are tested by.
                ends = window_times_sql(beside)
                plans.append(_window_created_plan(beside[1], node, sample, ends, page))
            elif by_created and sample[1] and indexed is not None and safe:
                # Words all negated beside another filter and a window with an end: the same
                # walk, the words' matches left out (`-api until:2025-06-01 status:ended`:
                # walked from the newest session it met none of the window, 3-4 s at 1 M).
                bounds = window_bounds(node)
                if bounds is not None and bounds[1] is not None:
                    ends = window_times_sql(bounds)
                    plans.append(_window_created_plan(bounds[1], node, sample, ends, page))
            # filter_tested by created or name only: by recent filter_first reads the filter's
            # index in order and stops at the page, where this would sort every row first;
            # except for a time window, whose index gives the recent order: read in order, the
            # rows' own text tested (~4.5 µs a row where a lookup of a word in 1 % of 1 M
            # sessions costs ~10), and the reading stops at the page.
            # (Nor a folder's: several directories' runs of its index, not in recent order.)
            unordered = indexed is not None and _unordered_filter(indexed[1], indexed[0])
            by_order = order_sort != "recent" or time_window is not None or unordered
            # And a window beside a field or a status, by recent: the filter's index holds
            # last_access second, so its window is a range of it read in order (ninth round:
            # `auth until:2025-06-01 status:ended`, a walk from the newest: 0.4 s at 1 M).
            by_order = by_order or beside is not None
            tested = by_order and _scorable(node)
            if indexed is not None and needed is not None and tested:
                plans.append(_tested_plan(node, sample[0], order_sort, page, indexed[0], named))
            if indexed is not None and needed is not None and not sample[1]:
                # alive_tested: an alive status's rows from their own index (store.query.alive).
                from store.query import alive

                plans.extend(alive.unranked_plans(node, sample[0], order_sort, page, indexed[0]))
            walked = facts is not None and facts.passing_sql is None and not sample[1]
            walked = walked and time_window is None and beside is None and order_sort != "name"
            if walked and indexed is not None and needed is not None and facts is not None:
                # How many of the newest matches pass the filters, for every other field too
                # (tenth round): without it a field too large to count was taken to hold
                # most rows, so a walk of the sort order was sized for them and fell short
                # (`auth project:isx*` by created, 0.7 % of 1 M sessions: a walk of 93 rows,
                # then the default plan, 0.5 s). Not by name: the snapshot's plans test the
                # filters themselves (the read cost them ~1.2 ms at 1 M).
                facts = _with_passing(facts, node)
        # (By name no window plan is offered beside a filter: the snapshot plans test it.)
        by_time = beside if order_sort != "name" else None
        facts = _beside_facts(facts, node, by_time, plans)
        return CompiledQuery(default.sql, default.params, False, tuple(plans), facts)
    match, covers = rank
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    bm25 = f"bm25({FTS_TABLE}, {weights})"
    hits_limit = window if needed is not None and needed <= window else -1
    if not covers:
        # An OR with a filter in it: the window of every other query (its newest matches
        # ranked), from one stream of the words' matches when every branch has a word, else
        # from every session the WHERE lets through, newest first; each branch as a query of
        # its own where the page lies within the window (or_union).
        if safe and _words_in_every_branch(node):
            default = _covered_or_plan(node, match, bm25, hits_limit, window, page)
        else:
            default = _uncovered_or_plan(node, match, bm25, hits_limit, window, page)
        union = None
        if safe and needed is not None and needed <= window:
            union = _or_union_ranked_plan(node, match, page, needed, window)
        if union is None:
            return CompiledQuery(default.sql, default.params, True, (default,))
        facts = PlanFacts(_SAMPLE_SQL, (match, SAMPLE_SIZE), False, None, (), needed)
        return CompiledQuery(default.sql, default.params, True, (default, union), facts)
    # The ranking MATCH is the query's own full-text part (with any negated words), so it is
    # also that part's filter; the rest of the WHERE tests each hit.
    # How many hits the ranking needs (hits_limit): the window, or all of them when the page
    # reaches past it.
    edge = (max(1, window) - 1,)
    params = []
    where = _sql(node, params, ranked_join=True)
    # newest_ranked: FTS5 streams the matches newest first (rowid DESC, no sort); CROSS JOIN
    # keeps it the outer loop; bm25 is computed only for hits that pass the filters, and the
    # stream stops once the window is full.
    newest = (
        f"SELECT {FTS_TABLE}.rowid, {bm25}, sessions.last_access FROM {FTS_TABLE} "
        f"CROSS JOIN sessions ON sessions.rowid = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH ? AND {where} ORDER BY {FTS_TABLE}.rowid DESC LIMIT ?"
    )
    default = Plan(
        "newest_ranked",
        _windowed_sql(newest),
        (match, *params, hits_limit, *edge, *page),
    )
    plans = [default]
    if facts is not None and facts.candidates_sql is not None and "MATCH" not in where:
        # How many of the newest matches pass the filters (read by the planner only when the
        # filter's rows are too many to count): a project in 0.5 % of the sessions passes
        # ~1 of 256, and streaming the matches to fill the window would read ~100,000 of them.
        facts = _with_passing(facts, node)
    if needed is not None and needed <= window and safe and _scorable(node):
        # newest_scored: the newest hits streamed without bm25 (whose statistics read each
        # phrase's whole doclist, ~30 ms for a word in half of 1 M sessions) and ranked in
        # Python by the same formula, with estimated IDFs (store.search).
        scored = f"{_STREAM_HEAD}{where}{_STREAM_TAIL}"
        plans.append(
            Plan(
                "newest_scored",
                scored,
                (match, *params, window),
                scoring=Scoring(fts_phrases(match), page),
            )
        )
        if facts is not None and _known(facts, node):
            # known_scored: newest_scored over ANDed words matching fewer rows than the
            # planner's sample reads: their rowids from that sample (known_first, ranked).
            plans.append(
                Plan(
                    "known_scored",
                    f"SELECT {_SCORED_SELECT} FROM sessions NOT INDEXED WHERE sessions.rowid "
                    f"IN {KNOWN_MATCH} AND {where} ORDER BY sessions.rowid DESC LIMIT ?",
                    (_known_match(facts, node, match=match), *params, window),
                    scoring=Scoring(fts_phrases(match), page),
                )
            )
        phrases = _column_phrases(node)
        if phrases:
            # phrase_scored: newest_scored with the exact field filters' values also in the
            # MATCH, as column phrases (which every row the filter keeps holds): FTS5
            # intersects the doclists, so only rows that hold the words and the phrase are
            # read, each still tested against the filter (`auth project:x`, x in 0.5 % of
            # 1 M sessions: ~600 rows read, where filter_scored sorts x's 5,000 rowids and
            # reads ~1,100, and newest_scored streams ~100,000 matches). Scored as
            # newest_scored, from the words' phrases alone.
            walk_match = " AND ".join(f"({part})" for part in (match, *phrases))
            plans.append(
                Plan(
                    "phrase_scored",
                    scored,
                    (walk_match, *params, window),
                    scoring=Scoring(fts_phrases(match), page),
                )
            )
    in_window = needed is not None and needed <= window and safe and _scorable(node)
    if time_window is not None and indexed is not None and in_window:
        plans.append(_window_scored_plan(time_window, match, indexed, where, params, page, window))
        by_day = _window_scored_by_day_plan(time_window, match, where, params, page, window)
        if by_day is not None:
            plans.append(by_day)
    elif beside is not None and in_window:
        # Beside another filter (ninth round): the stream within the window's rowid range,
        # the exact fields' column phrases in its MATCH as phrase_scored's (FTS5 intersects
        # the doclists: only rows of the field are read), the rest tested on each row.
        phrases = _column_phrases(node)
        walk_match = " AND ".join(f"({part})" for part in (match, *phrases))
        by_day = _window_scored_by_day_plan(beside, walk_match, where, params, page, window)
        if by_day is not None:
            plans.append(by_day.with_scoring(Scoring(fts_phrases(match), page)))
    if indexed is not None and safe and needed is not None and needed <= window and _scorable(node):
        # filter_scored (only for a page inside the window: past it, rows follow by recency):
        # a selective filter's rows read from its index, the words tested and
        # scored in Python from the rows' own text (no FTS5 lookup per row, ~0.1 ms each for a
        # dense word at 1 M sessions, and no bm25 statistics). The filter's rowids are sorted
        # newest first from the index alone, and the rows read lazily in that order: Python
        # stops reading once the window's newest matches are in (half the rows for a word in
        # half of them).
        plans.append(
            Plan(
                "filter_scored",
                f"WITH picked (rid) AS MATERIALIZED (SELECT sessions.rowid FROM sessions "
                f"INDEXED BY {indexed[0]} WHERE {where} ORDER BY sessions.rowid DESC LIMIT -1) "
                f"SELECT {_SCORED_SELECT} FROM picked CROSS JOIN sessions "
                f"ON sessions.rowid = picked.rid",
                tuple(params),
                scoring=Scoring(
                    fts_phrases(match), page, clauses=_clauses(node), window=max(1, window)
                ),
            )
        )
    if indexed is not None and safe and needed is not None and needed <= window and _scorable(node):
        # filter_set: a selective filter's rowids from its index, each tested against the
        # words' matches read once as a set (no row read yet), the newest `window` kept; only
        # those rows are read and scored in Python. For words in up to a few percent of the
        # sessions, whose whole doclist costs less to read than the filter's rows
        # (`cache status:active` at 1 M: 10,000 matches, 2,041 filter rows, ~20 in both).
        plans.append(
            Plan(
                "filter_set",
                f"WITH picked (rid) AS MATERIALIZED (SELECT sessions.rowid FROM sessions "
                f"INDEXED BY {indexed[0]} WHERE {where} AND {_FTS_IN} "
                f"ORDER BY sessions.rowid DESC LIMIT ?) "
                f"SELECT {_SCORED_SELECT} FROM picked CROSS JOIN sessions "
                f"ON sessions.rowid = picked.rid",
                (*params, match, window),
                scoring=Scoring(fts_phrases(match), page),
            )
        )
    if indexed is not None and safe and needed is not None and needed <= window:
        # alive_scored: an alive status's rows from their own index (store.query.alive).
        from store.query import alive

        plans.extend(alive.ranked_plans(node, match, page, window, indexed[0]))
    if indexed is not None and safe:
        # filter_ranked: a selective filter's index picks the candidates, each tested against
        # the index by rowid (no bm25 there: FTS5 computes bm25's document frequencies with a
        # pass over each word's whole doclist, per lookup); one bm25 pass then scores the hits.
        probe_params = []
        probe_where = _sql(node, probe_params, probe=True)
        by_filter = (
            f"SELECT {FTS_TABLE}.rowid, {bm25}, sessions.last_access FROM {FTS_TABLE} "
            f"CROSS JOIN sessions ON sessions.rowid = {FTS_TABLE}.rowid "
            f"WHERE {FTS_TABLE} MATCH ? AND +{FTS_TABLE}.rowid IN ("
            f"SELECT sessions.rowid FROM sessions INDEXED BY {indexed[0]} WHERE {probe_where})"
        )
        plans.append(
            Plan(
                "filter_ranked",
                _windowed_sql(by_filter),
                (match, *probe_params, *edge, *page),
            )
        )
    facts = _beside_facts(facts, node, beside, plans)
    return CompiledQuery(default.sql, default.params, True, tuple(plans), facts)


def where_sql(tree: Node) -> tuple[str, tuple[Any, ...]]:
    """The WHERE expression over ``sessions`` (never NULL) that selects exactly the sessions
    ``tree`` matches (every plan of :func:`compile_query` returns these, before its page), and
    its parameters: for statements over the matching sessions (``ccmgr-watch stats``)."""
    params: list[Any] = []
    return _sql(_simplify(tree), params), tuple(params)
