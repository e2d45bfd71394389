"""Running searches: a compiled query in, its plan chosen, result values out.

Takes a stdlib connection from :func:`store.reads.open_reader`: the CLI runs one query and
exits, and skipping the event loop (and the import of anyio and aiosqlite) keeps
``ccmgr-watch query`` quick to start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from store.errors import StoreError
from store.query.compiler import (
    FILTER_CAP,
    RELEVANCE_WINDOW,
    RESULT_COLUMNS,
    SAMPLE_SIZE,
    CompiledQuery,
    Plan,
)
from store.reads import json_object
from store.values import Value

DEFAULT_LIMIT = 20
"""Sessions a search shows by default; the config's ``search.default_limit`` (whose default this
is) changes it."""

_MISSING_INDEX_HINT = "run `ccmgr-watch db migrate` to create the search index"


# Results and queries are plain values, not msgspec structs: they never leave the process, and
# the CLI's search path must not pay for importing msgspec (see store.values).


class SearchHit(Value):
    """One session found by a search; ``score`` (higher is better) only when ranked."""

    __match_args__ = (
        "id",
        "name",
        "project",
        "worktree",
        "branch",
        "directory",
        "status",
        "created_at",
        "updated_at",
        "last_access",
        "ended_at",
        "metadata",
        "score",
    )
    __slots__ = __match_args__
    id: str
    name: str
    project: str | None
    worktree: str | None
    branch: str | None
    directory: str | None
    status: str
    created_at: str
    updated_at: str
    last_access: str
    ended_at: str | None
    metadata: dict[str, Any]
    score: float | None

    def __init__(
        self,
        *,
        id: str,
        name: str,
        project: str | None,
        worktree: str | None,
        branch: str | None,
        directory: str | None,
        status: str,
        created_at: str,
        updated_at: str,
        last_access: str,
        ended_at: str | None,
        metadata: dict[str, Any],
        score: float | None = None,
    ) -> None:
        super().__init__(
            id,
            name,
            project,
            worktree,
            branch,
            directory,
            status,
            created_at,
            updated_at,
            last_access,
            ended_at,
            metadata,
            score,
        )


def hit_from_row(row: Sequence[Any], *, ranked: bool) -> SearchHit:
    """A SearchHit from a row of a compiled query (RESULT_COLUMNS, then the score if ranked)."""
    values = dict(zip(RESULT_COLUMNS, row, strict=False))
    return SearchHit(
        id=values["id"],
        name=values["name"],
        project=values["project"],
        worktree=values["worktree"],
        branch=values["branch"],
        directory=values["directory"],
        status=values["status"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        last_access=values["last_access"],
        ended_at=values["ended_at"],
        metadata=json_object(values["metadata"]),
        # "+ 0.0" turns the -0.0 of an unscored row into 0.0.
        score=round(float(row[len(RESULT_COLUMNS)]), 6) + 0.0 if ranked else None,
    )


def _database_error(exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "no such table" in text or "no such column" in text:
        return StoreError(f"the database has no search index ({text})", hint=_MISSING_INDEX_HINT)
    return StoreError(f"searching the database failed: {text}")


# --- the planner ----------------------------------------------------------------------------------
#
# Every plan of a query returns the same rows in the same order (property-tested); the planner
# only decides which is cheapest, from bounded reads (never by counting every match): the newest
# SAMPLE_SIZE full-text matches (how densely the words match: the rowids they span), and an
# indexed filter's rows counted in its index up to FILTER_CAP. Costs are in microseconds per
# unit of work, measured at 1 M sessions (docs/search.md); only their ratios matter.

_COST_PROBE = 12.0  # one FTS5 lookup by rowid (order_walk, filter_first, filter_ranked)
_COST_ROW = 1.5  # one session row read by rowid, or one full-text match streamed and looked up
_COST_MATCH = 2.0  # fts_first: one match read as a set, looked up and sorted
_COST_BM25 = 8.0  # bm25 of one hit

# The FTS table's prefix lengths (migration 003): without them per-row probes of a word of 1 or
# 4+ letters would merge doclists on every row, so only the default plan may run.
_PREFIXES_SQL = (
    "SELECT count(*) FROM sqlite_master WHERE name = 'sessions_fts' "
    "AND sql LIKE '%prefix = ''1 2 3 4 5 6 7 8''%'"
)


class _Estimate:
    """What the planner's reads say: matches of the words, their share of all rows, the
    filters' share (1 when unknown), and how many rows a walk should read to fill the page."""

    def __init__(
        self,
        compiled: CompiledQuery,
        sample: tuple[int, int | None, int | None],
        candidates: int | None,
    ) -> None:
        facts = compiled.facts
        found, lowest, top = sample
        self.top = max(1, top or 1)
        if found < SAMPLE_SIZE or lowest is None:
            matches = float(found)  # the sample read every match
        else:
            matches = found * self.top / max(1, self.top - lowest + 1)
        if facts is not None and facts.sample_negated:
            matches = max(0.0, self.top - matches)
        self.matches = matches
        self.share = max(matches, 1.0) / self.top
        self.few = candidates is not None and candidates < FILTER_CAP
        self.candidates = candidates or 0
        # The filters' share of rows: known when the index holds few, else taken as "most".
        self.filter_share = max(self.candidates, 1) / self.top if self.few else 1.0
        self.needed = None if facts is None else facts.needed
        # Reading the matches as a set costs about their count times the phrases FTS5
        # intersects or unites (an AND of two dense words reads both doclists).
        text = facts.sample_params[0] if facts is not None and facts.sample_params else '""'
        self.phrases = max(1, str(text).count('"') // 2)
        self.fts_cost = matches * _COST_MATCH * self.phrases
        density = max(self.share * self.filter_share, 1 / self.top)
        # One and a half times the rows the estimate says hold a page, plus a margin.
        self.walk = int(min(self.top, 1.5 * (self.needed or 0) / density + 32))


def choose_plan(
    compiled: CompiledQuery,
    sample: tuple[int, int | None, int | None],
    candidates: int | None,
    span: tuple[int | None, int | None] | None = None,
) -> Plan:
    """The cheapest plan by the cost model, given the planner's reads (pure).

    ``sample``: how many of the newest SAMPLE_SIZE matches there were, the lowest of their
    rowids, and the highest rowid in ``sessions``. ``candidates``: the indexed filter's rows up
    to FILTER_CAP, or None without one. ``span``: the lowest and highest rowid among the first
    rows a walk would read (None: not read).
    """
    if compiled.facts is None or len(compiled.plans) == 1:
        return compiled.plans[0]
    est = _Estimate(compiled, sample, candidates)
    cost: dict[str, float] = {}
    budgets: dict[str, int] = {}
    retries: dict[str, int] = {}
    for plan in compiled.plans:
        if plan.name == "fts_first":
            cost[plan.name] = est.fts_cost
        elif plan.name in ("order_walk", "order_range") and est.needed is not None:
            if plan.name == "order_walk":
                per_row = _COST_ROW + est.filter_share * _COST_PROBE * est.phrases
                fixed = 0.0
            elif span is not None and span[0] is not None and span[1] is not None:
                # The matches within the walked rows' rowid range, read once.
                fraction = (span[1] - span[0] + 1) / est.top
                per_row = 2 * _COST_ROW
                fixed = est.matches * fraction * _COST_MATCH * est.phrases
            else:
                continue
            budgets[plan.name] = est.walk
            # A retry may cost as much as reading the matches would have (never more).
            retries[plan.name] = int(max(0.0, est.fts_cost - fixed) / per_row)
            cost[plan.name] = est.walk * per_row + fixed
        elif plan.name in ("filter_first", "filter_ranked") and est.few:
            scoring = est.matches * est.filter_share * _COST_BM25
            cost[plan.name] = est.candidates * (_COST_ROW + _COST_PROBE) + scoring * (
                plan.name == "filter_ranked"
            )
        elif plan.name == "newest_ranked":
            hits = est.matches * est.filter_share
            needed = est.needed
            wanted = hits if needed is None else min(hits, max(needed, RELEVANCE_WINDOW))
            streamed = min(est.matches, wanted / est.filter_share)
            cost[plan.name] = streamed * _COST_ROW + wanted * _COST_BM25
    if not cost:
        return compiled.plans[0]
    best = min(cost, key=lambda name: cost[name])
    chosen = compiled.plan(best)
    return chosen.with_budget(budgets[best], retries[best]) if best in budgets else chosen


def walk_rows(
    compiled: CompiledQuery, sample: tuple[int, int | None, int | None], candidates: int | None
) -> int:
    """How many rows of the sort order a walk would read (what the span is read over), or 0
    when even reading them would cost more than reading the matches (then no walk can win and
    the span is not read: it would cost as much as the walk)."""
    est = _Estimate(compiled, sample, candidates)
    return est.walk if est.walk * 2 * _COST_ROW < est.fts_cost else 0


def retry_walk(plan: Plan, compiled: CompiledQuery, found: int) -> Plan:
    """After a walk fell short (the words or filters are sparser near the top of the sort
    order than estimated): a walk long enough at the density it saw, if the planner's bound
    allows it, else the exact default plan."""
    if plan.walk_budget is None:
        return compiled.plans[0]
    walked = plan.params[plan.walk_budget]
    needed = max(1, plan.params[-2]) + plan.params[-1]
    longer = int(walked * needed / max(found, 0.5) * 1.5) + 32
    if longer > plan.retry:
        return compiled.plans[0]
    return plan.with_budget(longer)


def falls_short(plan: Plan, rows: int) -> bool:
    """Whether ``plan`` (a bounded walk) may have missed rows: it did not fill its page."""
    return plan.walk_budget is not None and (plan.params[-2] < 0 or rows < plan.params[-2])


def plan_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> Plan:
    """The plan to run for ``compiled``, from the planner's cheap reads on ``conn``."""
    facts = compiled.facts
    if facts is None or facts.sample_sql is None or len(compiled.plans) == 1:
        return compiled.plans[0]
    (prefixed,) = conn.execute(_PREFIXES_SQL).fetchone()
    if not prefixed:
        return compiled.plans[0]
    sample = conn.execute(facts.sample_sql, facts.sample_params).fetchone()
    candidates = None
    if facts.candidates_sql is not None:
        (candidates,) = conn.execute(facts.candidates_sql, facts.candidates_params).fetchone()
    span = None
    rows = walk_rows(compiled, sample, candidates)
    if facts.span_sql is not None and rows > 0:
        span = conn.execute(facts.span_sql, (rows,)).fetchone()
    return choose_plan(compiled, sample, candidates, span)


def statement_sync(
    conn: sqlite3.Connection, compiled: CompiledQuery
) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of the plan :func:`plan_sync` chooses (without a walk's
    fallback: run queries with :func:`rows_sync` or :func:`search_sync`)."""
    plan = plan_sync(conn, compiled)
    return plan.sql, plan.params


def rows_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> list[Any]:
    """The rows of ``compiled``: the chosen plan, then the exact fallback if a walk fell short."""
    plan = plan_sync(conn, compiled)
    rows = conn.execute(plan.sql, plan.params).fetchall()
    if falls_short(plan, len(rows)):
        plan = retry_walk(plan, compiled, len(rows))
        rows = conn.execute(plan.sql, plan.params).fetchall()
        if falls_short(plan, len(rows)):
            rows = conn.execute(compiled.sql, compiled.params).fetchall()
    return rows


def search_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> list[SearchHit]:
    """Run a compiled search on a stdlib connection."""
    try:
        rows = rows_sync(conn, compiled)
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    return [hit_from_row(row, ranked=compiled.ranked) for row in rows]
