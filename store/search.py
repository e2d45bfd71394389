"""Running searches: a compiled query in, its plan chosen, result values out.

Takes a stdlib connection from :func:`store.reads.open_reader`: the CLI runs one query and
exits, and skipping the event loop (and the import of anyio and aiosqlite) keeps
``ccmgr-watch query`` quick to start.
"""

from __future__ import annotations

import math
import operator
import sqlite3
from collections.abc import Sequence
from itertools import compress, islice, repeat
from operator import itemgetter

from store.errors import StoreError
from store.name_order import name_rows, snapshot_facts, window_facts
from store.query.alive import ALIVE_INDEX, ALIVE_PLANS
from store.query.compiler import (
    BM25_WEIGHTS,
    FILTER_CAP,
    KNOWN_MATCH,
    KNOWN_ROWIDS,
    NAME_ORDER_INDEX,
    PAGE_SQL,
    RELEVANCE_WINDOW,
    RESULT_COLUMNS,
    SAMPLE_SIZE,
    SCORED_COLUMNS,
    Clause,
    CompiledQuery,
    Phrase,
    Plan,
    PlanFacts,
    Scoring,
    fts_phrases,
    fts_quote,
    ranges_by_edge,
    rarest_first,
    resumed_stream,
    sorts_by_name,
    starts_at_window,
    walks_created_order,
)
from store.query.text import fts_tokens
from store.query.windows import (
    PLAN_INDEX,
    WINDOW_ESTIMATE_SQL,
    early_count_sql,
    reads_beside_in_order,
    reads_in_time_order,
    window_days,
    window_estimate,
)
from store.reads import json_object
from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

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
        "host",
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
    host: str | None

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
        host: str | None = None,
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
            host,
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
        host=values["host"],
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
# bm25's statistics: FTS5 reads each ranked phrase's whole doclist once per query to count the
# rows that hold it (~30 ms for a word in half of 1 M sessions), per match.
_COST_DOCLIST = 0.06
_COST_SCORE = 30.0  # newest_scored: one hit read in full, its text tokenized and scored
# The same measured in the ninth round: 500 hits ranked in 1.6-3.3 ms of CPU at 1 M sessions
# (3-7 µs each, the rows read by the stream). Used where a window lies beside another filter,
# for every plan that ranks in Python alike (there bm25's plan, newest_ranked, streaming every
# match recorded after the window, was taken over window_scored_by_day at 30: 15 ms for 7);
# the other shapes' choices were measured at 30 and keep it.
_COST_SCORE_BESIDE = 8.0
_COST_TEST = 12.0  # filter_scored: one filter row read in full, its text tokenized and tested
_COST_PHRASE = 150.0  # *_scored: one phrase's density sample (its IDF estimate)
# order_set: each match put in the set of rowids the walk tests (`cache`, 10,000 matches at 1 M
# sessions: 4 ms with a walk of ~3,000 rows), and each walked row of the index (index only)
_COST_SET = 0.3
_COST_WALKED = 1.0
# filter_tested: one filter row read (the texts only) and its words tested in Python, a chunk
# of rows at a time (`auth status:active --sort created`: 2,041 rows in 9.8 ms at 1 M sessions,
# where filter_first's 2,041 FTS5 lookups took 46 ms).
_COST_TESTED = 3.0
# filter_set: one entry of a filter's index read and its rowid tested against the set of
# matches (`billing status:active` at 1 M: 2,041 entries and 1,000 matches in 0.65 ms).
_COST_ENTRY = 0.3
# Ranked queries whose filter holds FILTER_CAP rows or more, and which fewer than 1 in
# _FEW_PASS of the newest matches pass (a stream of the matches would read 16 times the
# window), count the filter on, up to WIDE_FILTER_CAP (~0.1 µs an index entry): a project in
# 0.5 % of 1 M sessions (5,000) is then read by filter_scored (~1,000 rows, 19 ms), not found
# by streaming ~100,000 matches (53 ms). Not further: sorting a filter's rowids costs ~0.6 µs
# each (13,000 in 8 ms), and at 1.3 % streaming is as cheap (~20 ms either way).
_FEW_PASS = 16
WIDE_FILTER_CAP = 8_192
# filter_scored: one rowid of the filter read from its index and sorted newest first.
_COST_SORTED = 1.5
# phrase_scored: one step of FTS5's intersection of the words' and a field's doclists
# (`auth project:x`, x in 0.5 % of 1 M sessions: ~1,200 steps and ~600 rows in 5 ms), or
# one entry of either read through when both are about as long.
_COST_STEP = 1.5
_COST_SCAN = 0.2
# order_range read by its edge (store.query.compiler._edge_range_sql): one walked entry, read
# twice from the index alone (`a b c d` by created at 1 M sessions: 15,000 entries, ~4 ms in
# all); and how many times as many rowids the range of a walk of the recent order spans
# (sessions used again long after they were recorded: at 1 M, 1.2 for 100 rows walked, 1.4
# for 700, 1.9 for 3,000, 3.7 for 10,000, 2.5 for 30,000).
_COST_EDGE = 0.3
_EDGE_SPREAD = 2.0
# The longest second walk after a first one that found nothing of its page (~30-70 ms at 1 M
# sessions): the density it was sized by is wrong by more than the page, and a walk of
# needed * 3 times its length is a gamble beyond this.
_BLIND_RETRY = 32_768

# The FTS table's prefix lengths (migration 003): without them per-row probes of a word of 1 or
# 4+ letters would merge doclists on every row, so only the default plan may run.
_PREFIXES_SQL = (
    "SELECT count(*) FROM sqlite_master WHERE name = 'sessions_fts' "
    "AND sql LIKE '%prefix = ''1 2 3 4 5 6 7 8''%'"
)


def _matches(sample: tuple[int, int | None, int | None], top: int) -> float:
    """How many rows match, from a density sample: the count below SAMPLE_SIZE, else the
    sample's share of the rowids it spans, times the highest rowid."""
    found, lowest, _ = sample
    if found < SAMPLE_SIZE or lowest is None:
        return float(found)
    return found * top / max(1, top - lowest + 1)


class _Estimate:
    """What the planner's reads say: matches of the words, their share of all rows, the
    filters' share (1 when unknown), and how many rows a walk should read to fill the page."""

    def __init__(
        self,
        compiled: CompiledQuery,
        sample: tuple[int, int | None, int | None],
        candidates: int | None,
        cap: int = FILTER_CAP,
        passing: tuple[int, int] | None = None,
        window_rows: int | None = None,
    ) -> None:
        facts = compiled.facts
        self.top = max(1, sample[2] or 1)
        matches = _matches(sample, self.top)
        if facts is not None and facts.sample_negated:
            matches = max(0.0, self.top - matches)
        self.matches = matches
        self.share = max(matches, 1.0) / self.top
        self.few = candidates is not None and candidates < FILTER_CAP
        # Counted exactly (ranked queries count a large filter further: up to ``cap``).
        self.known = candidates is not None and candidates < max(cap, FILTER_CAP)
        self.candidates = candidates or 0
        # The filters' share of rows: known when the index holds few, else the share of the
        # newest matches that pass them (``passing``: passed, of how many), else "most".
        self.filter_share = max(self.candidates, 1) / self.top if self.known else 1.0
        if not self.known and passing is not None and passing[1] > 0:
            self.filter_share = max(passing[0], 0.5) / passing[1]
        if not self.known and passing is None and window_rows is not None:
            # A since:/until: window too large to count: its estimate (window_rows_sync), at
            # least what was counted (the estimate from the rows created before its ends is
            # coarse for a window open towards now: 2,051 for the last day's 12,915 at 1 M).
            share = max(window_rows, FILTER_CAP, self.candidates) / self.top
            self.filter_share = min(1.0, share)
        self.needed = None if facts is None else facts.needed
        # Whether the counted filter is an alive status (store.query.alive): a filter the
        # name snapshot's column phrases do not cover.
        counted = "" if facts is None else facts.candidates_sql or ""
        self.counted_status = " INDEXED BY ix_sessions_status " in counted
        # Reading the matches as a set costs about their count times the phrases FTS5
        # intersects or unites (an AND of two dense words reads both doclists).
        text = facts.sample_params[0] if facts is not None and facts.sample_params else '""'
        self.sample_text = text
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
    phrase_samples: Sequence[tuple[int, int | None, int | None]] | None = None,
    cap: int = FILTER_CAP,
    passing: tuple[int, int] | None = None,
    snapshot: tuple[int, int] | None = None,
    window: tuple[int, ...] | None = None,
    early: int = 0,
    ranged: tuple[int, int | None] | None = None,
    beside: BesideFacts | None = None,
) -> Plan:
    """The cheapest plan by the cost model, given the planner's reads (pure).

    ``sample``: how many of the newest SAMPLE_SIZE matches there were, the lowest of their
    rowids, and the highest rowid in ``sessions``. ``candidates``: the indexed filter's rows up
    to FILTER_CAP, or None without one. ``span``: the lowest and highest rowid among the first
    rows a walk would read (None: not read). ``phrase_samples``: the same for each phrase the
    ranking scores (:func:`phrase_samples_sync`; None: not read, the query's sample stands in).
    ``cap``: what ``candidates`` was counted up to (a count that reached it is a lower bound).
    ``passing``: how many of the newest matches passed the filters, of how many (when read).
    ``snapshot``: the name-order snapshot's delta (sessions inserted since its build, dirty
    ones: renamed or reusing a rowid), None without one. ``window``: a since:/until:
    window's sessions estimated when too many to count, the rows above its end, and the
    days it spans when known (:func:`window_rows_sync`). ``early``: the window's sessions
    last used before they were created (counted up to FILTER_CAP; window_created reads them).
    ``ranged``: for ``name_window``, its window's sessions estimated and the days it spans
    (store.name_order.window_facts). ``beside``: a window beside another indexed filter
    (:func:`beside_sync`).
    """
    if compiled.facts is None or len(compiled.plans) == 1:
        return compiled.plans[0]
    est = _Estimate(compiled, sample, candidates, cap, passing, _top_share(compiled, window))
    window_rows = None if window is None else window[0]
    # One lookup of a dense word measured 9 µs a row at 1 M (`auth status:active`, 2,048 rows
    # in 18 ms): the probe's cost does not grow with the doclist enough to model.
    probe = _COST_PROBE
    # bm25's statistics: each phrase's whole doclist. A phrase of several words reads each
    # word's doclist with its positions; the words are taken to be in 10 times as many rows
    # as the phrase (unknown without a sample of each; "auth login": 114 ms at 1 M).
    phrases = max((p.scoring.phrases for p in compiled.plans if p.scoring), key=len, default=())
    lists = sum(1 if len(w) == 1 else 10 * len(w) for w, _ in phrases) or est.phrases
    # The doclist entries those reads cover: from each phrase's own sample when read (an AND
    # of two dense words can match few rows: `a b` reads both words' long lists), else from
    # the query's matches.
    doclists = min(est.matches * lists, est.top * max(lists, 1))
    if phrase_samples is not None and len(phrase_samples) == len(phrases):
        doclists = sum(
            min(_matches(found, est.top), est.top) * (1 if len(w) == 1 else 10 * len(w))
            for (w, _), found in zip(phrases, phrase_samples, strict=True)
        )
    statistics = doclists * _COST_DOCLIST
    cost: dict[str, float] = {}
    budgets: dict[str, int] = {}
    retries: dict[str, int] = {}
    created_budgets: dict[str, int] = {}
    for plan in compiled.plans:
        if plan.name == "fts_first":
            cost[plan.name] = est.fts_cost
        elif plan.name in ("order_walk", "order_range") and est.needed is not None:
            walk = est.walk
            if plan.name == "order_walk":
                per_row = _COST_ROW + est.filter_share * probe * est.phrases
                fixed = 0.0
            elif ranges_by_edge(plan.sql):
                # The walk's range and edge read from the index alone (two passes), then the
                # matches within the range: no walked row is read. The range is taken to span
                # _EDGE_SPREAD times the rows walked by recent (sessions used again long after
                # they were recorded), as many by created (recorded as they are created).
                # From an until: window's end the range is taken to span every older rowid
                # (`until:2025-06-01 d`: 377 rows walked, ~300,000 rowids, 11 ms at 1 M).
                # Walked from the top past a window that ends in the past (until:), it is
                # as long as the rows above the window's end and its own length after.
                # (Not costed when the rows above such a window are not known: a window few
                # enough to count.)
                spread = 1.0 if walks_created_order(plan.sql) else _EDGE_SPREAD
                ended = compiled.facts.window is not None and compiled.facts.window[1] is not None
                if starts_at_window(plan.sql):
                    fraction = 1.0
                elif ended and window is None:
                    continue
                else:
                    above = window[1] if window is not None else beside.above if beside else 0
                    walk = int(min(est.top, walk + above))
                    fraction = min(1.0, spread * walk / est.top)
                per_row = _COST_EDGE
                fixed = est.matches * fraction * _COST_MATCH * est.phrases
            elif span is not None and span[0] is not None and span[1] is not None:
                # The matches within the walked rows' rowid range, read once.
                fraction = (span[1] - span[0] + 1) / est.top
                per_row = 2 * _COST_ROW
                fixed = est.matches * fraction * _COST_MATCH * est.phrases
            else:
                continue
            budgets[plan.name] = walk
            # A retry may cost as much as reading the matches would have (never more).
            retries[plan.name] = int(max(0.0, est.fts_cost - fixed) / per_row)
            cost[plan.name] = walk * per_row + fixed
        elif plan.name == "order_set" and est.needed is not None:
            # Every match is put in the set; a phrase of several words reads each word's
            # doclist with positions, taken to be 10 times as long per word (as above).
            text = compiled.facts.sample_params[0] if compiled.facts.sample_params else ""
            words = [w for w, _ in fts_phrases(str(text))]
            # Words all negated: the set is of their matches, not of the sessions without
            # them (`-a -b -c` at 100,000 sessions: 98,000 matches, priced as 2,000: 32 ms).
            in_set = est.top - est.matches if compiled.facts.sample_negated else est.matches
            fixed = in_set * _COST_SET * sum(1 if len(w) == 1 else 10 * len(w) for w in words)
            budgets[plan.name] = est.walk
            retries[plan.name] = int(max(0.0, est.fts_cost - fixed) / _COST_WALKED)
            cost[plan.name] = fixed + est.walk * _COST_WALKED
        elif plan.name == "filter_set_walk" and est.needed is not None:
            # As order_set, but the walk is of the field's own index: every walked entry
            # passes the filter, so the walk is as long as the words' share alone says
            # (`cache project:myapp`: ~3,000 entries, not ~10,000 rows of the recent order).
            text = compiled.facts.sample_params[0] if compiled.facts.sample_params else ""
            words = [w for w, _ in fts_phrases(str(text))]
            fixed = est.matches * _COST_SET * sum(1 if len(w) == 1 else 10 * len(w) for w in words)
            walk = int(min(est.top, 1.5 * est.needed / est.share + 32))
            if est.known:
                walk = min(walk, est.candidates)
            budgets[plan.name] = walk
            retries[plan.name] = int(max(0.0, est.fts_cost - fixed) / _COST_WALKED)
            cost[plan.name] = fixed + walk * _COST_WALKED
        elif plan.name in _CREATED_PLANS and est.needed is not None:
            # The field's rows (or, for created_set, its index entries) newest used first
            # until the page's matches are in, at the words' share, then on until the last
            # access read is older than the page's creations: taken as 4 times as many (the
            # sessions last used in the same hour were created over days: in the benchmark's
            # data 3,200 of a project's sessions share the latest last access, created over a
            # month). A walk past its budget gives way to the default plan.
            rows = 4 * (1.5 * est.needed / max(est.share, 1 / est.top) + 64)
            if est.known:
                rows = min(rows, est.candidates)
            created_budgets[plan.name] = int(8 * rows + 4096)
            if plan.name == "created_walk":
                cost[plan.name] = rows * (_COST_ROW + _COST_TESTED)
            else:
                text = compiled.facts.sample_params[0] if compiled.facts.sample_params else ""
                words = [w for w, _ in fts_phrases(str(text))]
                weight = sum(1 if len(w) == 1 else 10 * len(w) for w in words)
                cost[plan.name] = (
                    est.matches * _COST_SET * weight
                    + rows * _COST_WALKED
                    + est.needed * (_COST_ROW + _COST_TESTED)
                )
        elif plan.name == "filter_walk" and est.few and plan.sql.endswith(_BY_RECENT):
            continue  # by recent filter_first reads a counted field's rows in order too
        elif plan.name == "filter_walk" and est.needed is not None:
            # The filter's rows in name order, each tested against the words: as long as the
            # words' share says a page needs (the filter itself is what the index reads).
            walk = int(min(est.top, 1.5 * est.needed / max(est.share, 1 / est.top) + 32))
            per_row = _COST_ROW + probe * est.phrases
            budgets[plan.name] = walk
            retries[plan.name] = int(est.fts_cost / per_row)
            if est.few and walk >= est.candidates:
                # Every row of the filter: as filter_first, plus a lookup of each row's
                # last_access for the order's tie-break (the name index does not hold it), so
                # filter_first, which sorts them, is the cheaper.
                per_row += _COST_ROW
                walk = est.candidates
            cost[plan.name] = walk * per_row
        elif plan.name in ("filter_first", "filter_ranked") and est.few:
            scoring = est.matches * est.filter_share * _COST_BM25 + statistics
            cost[plan.name] = est.candidates * (_COST_ROW + probe) + scoring * (
                plan.name == "filter_ranked"
            )
        elif compiled.facts.beside is not None and (
            plan.name in _WINDOW_PLANS
            or (plan.name == "filter_tested" and reads_beside_in_order(plan.sql))
        ):
            beside_cost = _beside_cost(est, plan, beside, early)
            if beside_cost is not None:
                cost[plan.name], budget, retry = beside_cost
                if budget:
                    budgets[plan.name], retries[plan.name] = budget, retry
        elif plan.name in _WINDOW_PLANS or (
            plan.name == "filter_tested"
            and compiled.facts.window is not None
            and reads_in_time_order(plan.sql)
        ):
            days = window[2] if window is not None and len(window) > 2 else None
            window_cost = _window_cost(est, plan, window_rows, probe, days, early)
            if window_cost is not None:
                cost[plan.name], budget, retry = window_cost
                if budget:
                    budgets[plan.name], retries[plan.name] = budget, retry
        elif plan.name == "filter_tested" and est.known:
            # Read from a name-order index the rows come in order and the reading stops at
            # the page; otherwise SQLite sorts them all first.
            tested = float(est.candidates)
            in_order = " INDEXED BY ix_sessions_name_nocase " in plan.sql or _indexes_of(plan)
            if est.needed is not None and in_order:
                tested = min(tested, 1.5 * est.needed / max(est.share, 1 / est.top) + 32)
                if ranged is not None and compiled.facts.window is None:
                    # A field's name order beside a window (`auth project:myapp since:...`):
                    # the field's rows are read, the window's share of them passing, however
                    # few of them the count (the field's within the window) found.
                    inside = est.share * min(1.0, ranged[0] / est.top)
                    tested = min(est.top, 1.5 * est.needed / max(inside, 1 / est.top) + 32)
            cost[plan.name] = tested * (_COST_ROW + _COST_TESTED)
        elif plan.name == "prefix_tested" and est.known:
            # The prefix's entries of its covering index sorted, then tested in that order
            # until the page is in (at the words' share): ~0.85 µs an entry at 1 M sessions.
            wanted = 1.5 * (est.needed or 0) / max(est.share, 1 / est.top)
            tested = min(float(est.candidates), wanted)
            cost[plan.name] = est.candidates * _COST_SORTED + (tested + 32) * probe
        elif plan.name == "filter_scored" and est.known:
            # Every rowid of the filter sorted newest first (its index alone), then the rows
            # read until the window's newest matches are in: at the words' share of all rows
            # (taken to hold among the filter's), ~1,000 rows for a word in half of them.
            read = min(est.candidates, 1.2 * RELEVANCE_WINDOW / est.share + 64)
            cost[plan.name] = (
                est.candidates * _COST_SORTED
                + read * (_COST_ROW + _COST_TEST)
                + est.phrases * _COST_PHRASE
            )
        elif plan.name == "filter_set" and est.known:
            # The words' doclists read once into a set, the filter's index walked against it,
            # then only the newest matches read and scored.
            hits = min(RELEVANCE_WINDOW, est.matches * est.filter_share)
            cost[plan.name] = (
                doclists * _COST_DOCLIST
                + est.matches * _COST_SET
                + est.candidates * _COST_ENTRY
                + hits * _COST_SCORE
                + est.phrases * _COST_PHRASE
            )
        elif plan.name in _SNAPSHOT_PLANS and snapshot is not None and est.needed is not None:
            cost[plan.name] = _snapshot_cost(est, plan, snapshot, ranged)
        elif plan.name == "name_except" and snapshot is not None and est.needed is not None:
            cost[plan.name] = _except_cost(est, snapshot)
        elif plan.name in ALIVE_PLANS and est.known:
            cost[plan.name] = _alive_cost(est, plan)
        elif plan.name in ("newest_ranked", "newest_scored"):
            hits = est.matches * est.filter_share
            if window_rows is not None:
                # A window too large to count: its matches are its share of all of them,
                # however few of the newest pass it (`cache until:2025-02-11` at 1 M: ~1,000
                # to rank, where the newest 256 matches, none in it, said ~20).
                hits = max(hits, est.matches * min(1.0, window_rows / est.top))
            if beside is not None:
                # A window beside another filter (ninth round): its matches that pass that
                # filter, as many however few of the newest pass.
                hits = max(hits, _beside_hits(est, beside))
            needed = est.needed
            wanted = hits if needed is None else min(hits, max(needed, RELEVANCE_WINDOW))
            streamed = min(est.matches, wanted / est.filter_share)
            if beside is not None:
                # And every match recorded after the window's end streamed before it.
                streamed = max(streamed, est.matches * beside.above / est.top)
            if plan.name == "newest_ranked":
                cost[plan.name] = streamed * _COST_ROW + wanted * _COST_BM25 + statistics
            else:
                score = _COST_SCORE if beside is None else _COST_SCORE_BESIDE
                cost[plan.name] = streamed * _COST_ROW + wanted * score + est.phrases * _COST_PHRASE
        elif plan.name == "phrase_scored":
            # As newest_scored, but FTS5 intersects the words' doclists with the fields'
            # phrases: only the window's rows are read, and the intersection steps through
            # the shorter list's entries in the rowid range the window spans (the words'
            # matches at the filter's share, or the filter's rows at the words' share).
            # Lists of about the same length are read through (~0.2 µs an entry: `cache
            # project:x`, 10,000 and 5,445 entries in ~2.5 ms); a short one seeks in a long
            # one, a step each.
            wanted = min(est.matches * est.filter_share, max(est.needed or 0, RELEVANCE_WINDOW))
            in_words = min(est.matches, wanted / est.filter_share)
            in_fields = wanted / est.share
            if est.known:
                in_fields = min(in_fields, float(est.candidates))
            shorter = min(in_words, in_fields)
            intersect = min(shorter * _COST_STEP, (in_words + in_fields) * _COST_SCAN)
            if beside is not None:
                # A window beside the fields (ninth round): its matches, however few of the
                # newest pass, and the fields' matches recorded after its end, read first
                # (`auth until:2025-06-01 project:myapp` at 1 M: ~120,000, 150 ms).
                wanted = max(wanted, min(_beside_hits(est, beside), RELEVANCE_WINDOW))
                above_words = est.matches * beside.above / est.top
                above_fields = beside.above * beside.share
                skipped = min(
                    min(above_words, above_fields) * _COST_STEP,
                    (above_words + above_fields) * _COST_SCAN,
                )
                intersect = max(intersect, skipped + above_words * beside.share * _COST_ROW)
            score = _COST_SCORE if beside is None else _COST_SCORE_BESIDE
            cost[plan.name] = (
                intersect + wanted * (_COST_ROW + score) + (est.phrases + 1) * _COST_PHRASE
            )
    if not cost:
        return compiled.plans[0]
    # Walks of the recent order start at an until: window's end (starts_at_window): none of
    # them reads the rows above it.
    from_top = {p.name for p in compiled.plans if not starts_at_window(p.sql)}
    if window is not None and not _by_name(compiled):
        # A window that ends before the newest sessions (until: in the past): a walk from
        # the top of the created order meets none of it for `window[1]` rows.
        for name in ("order_walk", "order_range", "order_set"):
            if name in budgets and name in from_top and budgets[name] <= window[1]:
                cost.pop(name, None)
    if beside is not None and est.needed is not None:
        # The same beside another filter (ninth round; never by name: no such read there).
        for name in ("order_walk", "order_range", "order_set"):
            if name in budgets and name in from_top and budgets[name] <= beside.above:
                cost.pop(name, None)
    if over_walks(compiled, sample, candidates, snapshot):
        # By name the walks of the name index assume the matches spread evenly through A-Z,
        # and names defeat that: they start with their project's, so `myapp`'s matches come
        # in one late stretch (estimated 2 ms, measured 416 ms at 1 M sessions); so does the
        # walk of a filter's own name order (filter_walk) for the words and the other filters
        # (`auth project:myapp branch:main`: estimated 1.2 ms, measured 0.6 s). Their worst
        # case is reading every match (fts_cost: the retry's bound, then the default); the
        # snapshot's estimate rests on no such assumption, so where it beats that worst case
        # it is taken over them.
        for name in ("order_walk", "order_range", "order_set", "filter_walk", "window_walk"):
            cost.pop(name, None)
    if "alive_tested" in cost and "filter_tested" in cost:
        _bounded_over_tested(cost, est)
    # On a tie, the filter's own name order: its rows pass the filter for certain, the sort
    # order's only by estimate (a project's sessions come late in A-Z: names start with it).
    best = min(cost, key=lambda name: (cost[name], name != "filter_walk"))
    chosen = compiled.plan(best)
    fallback = _exact_fallback(compiled, cost, est) if _bounded(chosen) else None
    if fallback is not None:
        chosen = chosen.replace(fallback=fallback[0])
        if best in retries:
            # The retry may cost as much as that plan would (never more).
            retries[best] = int(retries[best] * fallback[1])
    if best in created_budgets:
        return chosen.with_created_budget(created_budgets[best])
    return chosen.with_budget(budgets[best], retries[best]) if best in budgets else chosen


def _bounded(plan: Plan) -> bool:
    """Whether ``plan`` reads a bounded stretch of an order, exact only when that fills the
    page (a walk: then its retry, then an exact plan)."""
    return plan.walk_budget is not None or plan.created is not None


def _exact_fallback(
    compiled: CompiledQuery, cost: dict[str, float], est: _Estimate
) -> tuple[Plan, float] | None:
    """The cheapest costed exact plan (no walk) when it is cheaper than the default, and its
    cost's share of the default's: what a walk that fell short runs instead of the default
    (tenth round: `auth project:isx*` by created, whose walk meets the prefix's sessions
    bunched in time, fell to reading every match of `auth`, 0.5 s at 1 M sessions, where
    filter_tested reads the prefix's ~7,400 rows in ~16 ms)."""
    default = compiled.plans[0]
    worst = cost.get(default.name, est.fts_cost)
    exact = [
        name
        for name in cost
        if name != default.name and not _bounded(compiled.plan(name)) and cost[name] < worst
    ]
    if not exact or worst <= 0:
        return None
    name = min(exact, key=cost.__getitem__)
    return compiled.plan(name), cost[name] / worst


# --- time windows (store.query.windows) --------------------------------------------------------
#
# A since:/until: window as the indexed filter: its sessions are read from the last-access
# index (last_access, rowid). window_scored and window_range read the lowest and highest rowid
# of all of them (index only: 9 ms for 95,000 entries at 1 M sessions, ~0.1 µs each) and read
# the matches within that range (newest first, or as a set); window_walk walks the name index
# testing the window there (it holds last_access: ~0.25 µs an entry, 1 M entries in 247 ms),
# probing the rows inside it; window_set walks the window's stretch of the last-access or name
# index against the matches as a set; filter_tested by recent reads the window's rows in order
# from the last-access index and stops at the page.
_WINDOW_PLANS = frozenset(
    {
        "window_scored",
        "window_walk",
        "window_range",
        "window_set",
        "window_scored_by_day",
        "window_created",
    }
)
_COST_BOUND = 0.1
_COST_NAME_ENTRY = 0.25
# The share of the rows within a window's rowid range that are in the window (sessions are
# recorded as they are created and used for a while after: 0.58 for `until:2024-12-07` at 1 M,
# 0.23 for `since:2026-11-25`, sessions used in the last day having been created over weeks).
_WINDOW_PASS = 0.3
# window_scored_by_day (migration 013): one whole day of the window, its key found and its
# run's end read (two seeks in the day index: 78 days in 0.4 ms at 1 M sessions, 730 in 4.7).
_COST_DAY = 6.0
# window_created: the share of the sessions created just before a window's end that are in
# it (most of them were used after it: 40 of the first ~200 at 1 M for `until:2024-12-07`,
# `until:2025-02-11` and the middle week alike); and one walked entry of the created-at index,
# read twice (the range, then the rowids) and tested against the set of matches (15,000 in
# ~6 ms for `cache until:2025-02-11`).
_WINDOW_NEAR = 0.2
_COST_CREATED_ENTRY = 0.4


def _by_name(compiled: CompiledQuery) -> bool:
    """Whether a window's query is sorted by name (window_walk is offered only there)."""
    return any(plan.name == "window_walk" for plan in compiled.plans)


def _top_share(compiled: CompiledQuery, window: tuple[int, ...] | None) -> int | None:
    """``window_rows`` when it is also the share of the window among the first rows of the
    sort order (what the walks from its top meet), else None: a window open towards now
    (``since:`` alone) holds the top of the recent order, and of the created order as far as
    sessions are used after they are created, so there the walks keep their estimate."""
    facts = compiled.facts
    if window is None or facts is None or facts.window is None:
        return None
    return window[0] if facts.window[1] is not None or _by_name(compiled) else None


def _window_cost(
    est: _Estimate,
    plan: Plan,
    window_rows: int | None,
    probe: float,
    days: int | None = None,
    early: int = 0,
) -> tuple[float, int, int] | None:
    """The cost of a time window's plan, its walk budget and retry (0 when it is no walk),
    or None when it cannot run here. The window's sessions: counted when few, else the
    estimate from the rowids at its ends (``window_rows``), else the filters' share.
    ``days``: the days the window spans (window_scored_by_day's seeks; None: unknown, and
    that plan is left out); ``early``: its sessions last used before they were created."""
    if est.needed is None and plan.name != "window_scored":
        return None
    if est.known:
        rows = float(est.candidates)
    elif window_rows is not None:
        rows = float(max(window_rows, est.candidates))
    else:
        rows = est.top * est.filter_share
    rows = min(max(rows, 1.0), float(est.top))
    hits = est.matches * rows / est.top  # the words' matches in the window
    if plan.name == "window_range":  # every match in the window's rowid range, sorted
        ranged = min(est.matches, hits / _WINDOW_PASS)
        return rows * _COST_BOUND + ranged * _COST_MATCH * est.phrases, 0, 0
    if plan.name in ("window_scored", "window_scored_by_day"):
        wanted = min(hits, RELEVANCE_WINDOW)
        streamed = min(est.matches, wanted / _WINDOW_PASS)
        bounds = rows * _COST_BOUND  # every entry of the window in the last-access index
        if plan.name == "window_scored_by_day":
            if days is None:
                return None
            # Two seeks a day, and the entries of the two days at the window's ends.
            bounds = days * _COST_DAY + 2 * rows / days * _COST_BOUND
        return (
            bounds + streamed * _COST_ROW + wanted * _COST_SCORE + est.phrases * _COST_PHRASE,
            0,
            0,
        )
    needed = est.needed or 0
    share = max(est.share, 1 / est.top)
    if plan.name == "window_created":
        # The created order from the window's end, until the page's matches are in: at the
        # words' share of the walked sessions that are in the window; the sessions last used
        # before they were created read too, and the range of matches widened by them.
        walk = int(min(est.top, 1.5 * needed / (share * _WINDOW_NEAR) + 32))
        per_row = _COST_CREATED_ENTRY + share * (_COST_ROW + _COST_SET * est.phrases)
        fixed = early * _COST_ROW + (est.matches * _COST_SET * est.phrases if early else 0.0)
        return fixed + walk * per_row, walk, int(max(0.0, est.fts_cost - fixed) / per_row)
    # The window's rows until the page's matches are in (at the words' share of them).
    walk = int(min(rows, 1.5 * needed / share + 32))
    if plan.name == "filter_tested":  # by recent: in order, stops at the page
        return walk * (_COST_ROW + _COST_TESTED), 0, 0
    if plan.name == "window_set":  # every match into a set, the window's index walked
        text = str(est.sample_text)
        fixed = (
            est.matches
            * _COST_SET
            * sum(1 if len(w) == 1 else 10 * len(w) for w, _ in fts_phrases(text))
        )
        per_row = _COST_WALKED
        if "INDEXED BY ix_sessions_name_nocase" in plan.sql:  # the window tested in the index
            per_row += _COST_NAME_ENTRY * est.top / rows
        return fixed + walk * per_row, walk, int(max(0.0, est.fts_cost - fixed) / per_row)
    per_row = _COST_ROW + probe * est.phrases
    entries = walk * est.top / rows  # the name index's entries read to find them
    return entries * _COST_NAME_ENTRY + walk * per_row, walk, int(est.fts_cost / per_row)


class BesideFacts(Value):
    """What the planner reads of a window beside another indexed filter (ninth round): the
    window's sessions estimated from the rowids at its ends, the rows recorded after its end,
    the days it spans (None: not dates), and how many of the newest matches pass the other
    filters (``passed`` of ``sampled``): the other filter's share of the window's rows."""

    __match_args__ = ("rows", "above", "days", "passed", "sampled")
    __slots__ = __match_args__
    rows: int
    above: int
    days: int | None
    passed: int
    sampled: int

    def __init__(self, rows: int, above: int, days: int | None, passed: int, sampled: int) -> None:
        super().__init__(rows, above, days, passed, sampled)

    @property
    def share(self) -> float:
        """The other filters' share of the rows (half a row passing when none did)."""
        return max(self.passed, 0.5) / max(self.sampled, 1)


def beside_sync(
    conn: sqlite3.Connection, compiled: CompiledQuery, sample: tuple[int, int | None, int | None]
) -> BesideFacts | None:
    """The reads of a window beside another indexed filter (four seeks, and the newest
    SAMPLE_SIZE matches tested by the other filters: ~0.1-0.3 ms at 1 M sessions), or None
    without one or when the window has no end."""
    facts = compiled.facts
    if facts is None or facts.beside is None or not sample[0]:
        return None
    since, until = facts.beside.window
    if until is None:
        # A window open towards now holds the newest sessions: the streams and walks from
        # the newest reach it at once, and its plans need no read (filter_tested by recent).
        return None
    row = conn.execute(WINDOW_ESTIMATE_SQL, (until, since)).fetchone()
    rows, above = window_estimate(row, (since, until))
    days = window_days(row, (since, until))
    beside = facts.beside
    (passed,) = conn.execute(beside.passing_sql, beside.passing_params).fetchone()
    return BesideFacts(rows, above, days, int(passed), int(sample[0]))


def _beside_hits(est: _Estimate, beside: BesideFacts) -> float:
    """The words' matches in a window beside another filter that pass that filter: their
    share of the window's sessions, at the filter's share (at most its count within the
    window, when known)."""
    hits = est.matches * min(1.0, max(beside.rows, est.candidates) / est.top) * beside.share
    if est.known:
        hits = min(hits, max(est.share, 1 / est.top) * est.candidates)
    return hits


def _beside_cost(
    est: _Estimate, plan: Plan, beside: BesideFacts | None, early: int
) -> tuple[float, int, int] | None:
    """The cost of a window plan beside another indexed filter (ninth round), its walk budget
    and retry (0 when it is no walk), or None when it cannot be costed (the reads not made).

    The window's sessions are estimated from its ends (at least the count of the filter's
    within it), the other filters' share of them from the newest matches (the window left
    out). ``window_scored_by_day``: the stream within the window's rowid range until the
    window's newest matches are in, the rows read being those in the range that hold the
    words (and the exact fields' phrases, which FTS5 intersects: then only the window's
    share of them fails); ``window_created``: the created order from the window's end at the
    words' and the filters' share of its sessions in the window; ``filter_tested`` by
    recent: the filter's index newest first within the window, at the words' share."""
    if est.needed is None:
        return None
    share = max(est.share, 1 / est.top)
    needed = est.needed
    if plan.name == "filter_tested":
        walk = 1.5 * needed / share + 32
        if est.known:
            walk = min(walk, float(est.candidates))
        return walk * (_COST_ROW + _COST_TESTED), 0, 0
    if beside is None:
        return None
    rows = float(min(max(beside.rows, est.candidates, 1), est.top))
    if plan.name == "window_created":
        near = share * _WINDOW_NEAR * beside.share
        walk = int(min(est.top, 1.5 * needed / near + 32))
        per_row = _COST_CREATED_ENTRY + share * (_COST_ROW + _COST_SET * est.phrases)
        fixed = early * _COST_ROW + (est.matches * _COST_SET * est.phrases if early else 0.0)
        return fixed + walk * per_row, walk, int(max(0.0, est.fts_cost - fixed) / per_row)
    if plan.name != "window_scored_by_day" or beside.days is None or est.few:
        # (A filter with few rows in the window: filter_scored reads them, ~1 ms.)
        return None
    # The words' matches in the window that pass the other filters (the count of the
    # filter's rows within the window when it is known).
    wanted = min(_beside_hits(est, beside), RELEVANCE_WINDOW)
    phrased = any("} : " in str(param) for param in plan.params)
    passing = _WINDOW_PASS * (1.0 if phrased else beside.share)
    in_range = est.matches * min(1.0, rows / _WINDOW_PASS / est.top)
    streamed = min(in_range * (beside.share if phrased else 1.0), wanted / passing)
    intersect = 0.0
    if phrased:
        # The shorter list's entries in the streamed part of the range, each a step in the
        # other (`cache until:2025-06-01 project:myapp` at 1 M: ~6,000 of `cache`'s in ~1.5
        # ms; the range's doclists are read near each other, cheaper than phrase_scored's
        # seeks through a whole list).
        shorter = min(streamed / beside.share, streamed / share)
        intersect = shorter * _COST_SCAN
    bounds = beside.days * _COST_DAY + 2 * rows / beside.days * _COST_BOUND
    return (
        bounds
        + intersect
        + streamed * _COST_ROW
        + wanted * _COST_SCORE_BESIDE
        + (est.phrases + phrased) * _COST_PHRASE,
        0,
        0,
    )


def window_rows_sync(
    conn: sqlite3.Connection, compiled: CompiledQuery, candidates: int | None, cap: int
) -> tuple[int, int, int] | tuple[int, int] | None:
    """A since:/until: window's sessions, estimated when its count reached ``cap`` (two seeks
    in the created-at index), the rows above its end, and the days it spans when they are
    dates (two more seeks: an open end's first or last last access); None when counted or
    without a window."""
    facts = compiled.facts
    if facts is None or facts.window is None or candidates is None or candidates < cap:
        return None
    since, until = facts.window
    row = conn.execute(WINDOW_ESTIMATE_SQL, (until, since)).fetchone()
    rows, above = window_estimate(row, (since, until))
    days = window_days(row, (since, until))
    return (rows, above) if days is None else (rows, above, days)


def early_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> int:
    """How many of the window's sessions were last used before they were created (none,
    normally), up to FILTER_CAP, when ``window_created`` is a choice (0 otherwise): what it
    reads besides its walk (the partial index of migration 013)."""
    facts = compiled.facts
    if facts is None:
        return 0
    if not any(plan.name == "window_created" for plan in compiled.plans):
        return 0
    window = facts.window
    if window is None and facts.beside is not None:
        window = facts.beside.window
    if window is None:
        return 0
    sql, params = early_count_sql(window)
    (count,) = conn.execute(sql, (*params, FILTER_CAP)).fetchone()
    return int(count)


# name_snapshot: one snapshot match streamed in name order, its rank and its session read (a
# row in A-Z is anywhere in the table), and the statements' fixed cost (the delta's, the page's).
_COST_SNAPSHOT_ROW = 3.0
_COST_SNAPSHOT_FIXED = 40.0
# One session renamed since the build, tested by one FTS5 lookup: 30-45 µs at 1 M sessions
# (1,000 of them added 28 ms to `cache`, 45 ms to `auth login`), more than a walk's probe.
_COST_SNAPSHOT_DIRTY = 40.0
# name_window: a snapshot match streamed and its rank read (name_snapshot's walk but the row),
# its session's row read (_COST_ROW) only when its rowid is within the window's range (`auth
# since:2025-06-01 until:2025-06-07` at 1 M: ~2,800 matches walked, 6 % of them in the range,
# 2.2 ms where reading each row took 11.6; measured, the row is most of name_snapshot's
# cost, but in the units window_range is costed in, this split chooses between them where
# they measure so: `auth until:2024-12-07` at 100 k, window_range 0.9 ms, name_window 1.1).
_COST_SNAPSHOT_STREAM = _COST_SNAPSHOT_ROW - _COST_ROW
_SNAPSHOT_PLANS = ("name_snapshot", "name_window")


_CREATED_PLANS = ("created_walk", "created_set")
_BY_RECENT = "ORDER BY sessions.last_access DESC, sessions.rowid DESC LIMIT ? OFFSET ?"


def _snapshot_cost(
    est: _Estimate,
    plan: Plan,
    snapshot: tuple[int, int],
    ranged: tuple[int, int | None] | None = None,
) -> float:
    """name_snapshot's cost: the walk until the page's rows pass (the filters whose values it
    matches as column phrases pass always; the others at their share), the delta's matches
    (a range of the inserted sessions' matches, a lookup a dirty session), the page's sort.
    With a window (``ranged``: its sessions estimated, the days it spans), the walk's rows
    pass at its share, and ``name_window`` reads a row only for the matches within its
    rowid range (taken as the window's sessions over _WINDOW_PASS), after reading the
    range's ends by day (as window_scored_by_day)."""
    needed = est.needed or 0
    inserted, dirty = snapshot
    # The walk's MATCH: after the window's parameters (name_window), before the delta's.
    steps = plan.name_walk
    walk_match = plan.params[len(plan.params) - len(steps.delta_params) if steps else 0]
    # The column phrases cover the exact field filters: the walk's rows pass those always;
    # not a counted status (`auth project:myapp status:active`: 0.2 % of them pass).
    covered = "} : " in str(walk_match) and not est.counted_status
    share = 1.0 if covered else est.filter_share
    per_row, bounds = _COST_SNAPSHOT_ROW, 0.0
    if ranged is not None:
        # At least what the indexed filter counted (the window, or a project's part of it).
        rows, days = max(ranged[0], est.candidates, 1), ranged[1]
        # The window is ANDed with the rest: no more of the walk's rows pass than its share
        # (the column phrases cover an exact project, not the window).
        share = min(share, rows / est.top)
        if plan.name == "name_window":
            within = min(1.0, rows / _WINDOW_PASS / est.top)
            per_row = _COST_SNAPSHOT_STREAM + within * _COST_ROW
            # Two seeks a day, and the entries of the days at its ends (unknown: all of them).
            bounds = (
                days * _COST_DAY + 2 * rows / days * _COST_BOUND if days else rows * _COST_BOUND
            )
    walked = min(est.matches, needed / max(share, 1 / est.top) + 1)
    delta = inserted * est.share * est.filter_share
    return (
        bounds
        + walked * per_row * est.phrases
        + delta * (_COST_MATCH + _COST_ROW)
        + dirty * _COST_SNAPSHOT_DIRTY * est.phrases
        + (needed + delta) * _COST_ROW
        + _COST_SNAPSHOT_FIXED
    )


# name_except: one step of its merge, a rank of the snapshot or a match of the negated words
# stepped over (`-a` at 1 M sessions: 13,086 ranks and as many matches to its 20th session
# without an a-word, 1.8 ms; a walk that looked each row up read them in ~150 ms).
_COST_MERGE = 0.1


def _except_cost(est: _Estimate, snapshot: tuple[int, int]) -> float:
    """name_except's cost: the merge's steps until the page's sessions are in (the sessions
    without the words at their share ``est.share``, for words all negated; the filters
    tested on each, at theirs), a lookup of each such session, the delta (the inserted
    sessions, the words' matches among them read as a set, a lookup a dirty session), the
    page's sort."""
    needed = est.needed or 0
    inserted, dirty = snapshot
    floor = 1 / est.top
    looked_up = min(est.matches, needed / max(est.filter_share, floor) + 1)
    ranks = min(float(est.top), looked_up / max(est.share, floor))
    steps = ranks * (2 - est.share)
    delta = inserted * est.share
    return (
        steps * _COST_MERGE
        + looked_up * _COST_SNAPSHOT_ROW
        + inserted * (1 - est.share) * _COST_MATCH
        + delta * _COST_ROW
        + dirty * _COST_SNAPSHOT_DIRTY * est.phrases
        + (needed + delta * est.filter_share) * _COST_ROW
        + _COST_SNAPSHOT_FIXED
    )


# alive_scored, alive_tested (migration 011): one entry of the alive sessions' partial index read
# (texts and all: it is covering), the words' tokens looked for in its texts by LIKE, and,
# unless the index gives the order (recent), sorted (by name NOCASE, dearer); one row that
# passes handed to Python and its words tested there; one kept row scored. Measured at 1 M
# sessions (2,041 alive): the entries read, tested and sorted by rowid ~1-1.5 ms, by name ~2.5;
# a row into Python ~1.2 µs and its test ~0.5 (a row of the table read by rowid costs ~4.5);
# in the units of filter_set's costs, about twice those.
_COST_ALIVE_ENTRY = 1.0
_COST_ALIVE_NAME = 2.0
_COST_ALIVE_ROW = 2.5
_COST_ALIVE_HIT = 3.0


def _alive_cost(est: _Estimate, plan: Plan) -> float:
    """alive_scored's or alive_tested's cost: the filter's entries of the alive index (tested
    by LIKE, sorted in the order the plan reads them), the rows that pass handed to Python
    until the window (ranked) or the page (unranked) is in, at the words' share of all rows
    (taken to hold among the alive ones), and the window's scores or the page's rows read."""
    share = max(est.share, 1 / est.top)
    passing = est.candidates * share
    if plan.name == "alive_scored":
        read = min(passing, 1.2 * RELEVANCE_WINDOW + 64)
        hits = min(RELEVANCE_WINDOW, passing)
        return (
            est.candidates * _COST_ALIVE_ENTRY
            + read * _COST_ALIVE_ROW
            + hits * _COST_ALIVE_HIT
            + est.phrases * _COST_PHRASE
        )
    needed = est.needed if est.needed is not None else est.candidates
    entries = float(est.candidates)
    per_entry = _COST_ALIVE_ENTRY
    if " ORDER BY sessions.last_access DESC" in plan.sql:
        # The index's own order: the read stops once the page's rows passed.
        entries = min(entries, 1.5 * needed / share + 32)
    elif " ORDER BY sessions.name " in plan.sql:
        per_entry = _COST_ALIVE_NAME
    read = min(passing, 1.5 * needed + 32)
    return entries * per_entry + read * _COST_ALIVE_ROW + min(needed, passing) * _COST_ROW


def _bounded_over_tested(cost: dict[str, float], est: _Estimate) -> None:
    """By name ``filter_tested``'s estimate assumes the words' matches spread evenly through
    A-Z, which names defeat (they start with their project's): `"auth login" status:active`
    was estimated to read ~600 of its rows and read ~2,000 from the table (11 ms of CPU at 1 M
    sessions, 30 ms p95 under load). ``alive_tested`` reads at most every alive entry of its
    index, wherever the matches are (~2.5 ms); so it is taken whenever it beats
    ``filter_tested``'s worst case (every row of the filter), as the snapshot is over the
    walks."""
    if cost["alive_tested"] <= est.candidates * (_COST_ROW + _COST_TESTED):
        del cost["filter_tested"]


def over_walks(
    compiled: CompiledQuery,
    sample: tuple[int, int | None, int | None],
    candidates: int | None,
    snapshot: tuple[int, int] | None,
) -> bool:
    """Whether ``name_snapshot`` (or, for words all negated, ``name_except``) is taken over
    the walks of the name index (pure): its cost beats their worst case, reading every match
    (see choose_plan)."""
    if snapshot is None or compiled.facts is None or compiled.facts.needed is None:
        return False
    plans = [plan for plan in compiled.plans if plan.name in ("name_snapshot", "name_except")]
    if not plans:
        return False
    est = _Estimate(compiled, sample, candidates)
    if plans[0].name == "name_except":
        return _except_cost(est, snapshot) <= est.fts_cost
    return _snapshot_cost(est, plans[0], snapshot) <= est.fts_cost


def walk_rows(
    compiled: CompiledQuery,
    sample: tuple[int, int | None, int | None],
    candidates: int | None,
    window_rows: int | None = None,
) -> int:
    """How many rows of the sort order a walk would read (what the span is read over), or 0
    when even reading them would cost more than reading the matches, or than testing a
    selective filter's rows (then no walk can win and the span is not read: it would cost as
    much as the walk). ``window_rows``: as for :func:`choose_plan`."""
    est = _Estimate(compiled, sample, candidates, window_rows=window_rows)
    bound = est.fts_cost
    if est.few:
        # A selective filter's plans test its few rows (filter_first): a span read longer than
        # that would cost more than the whole query (129,000 rows of the name index, ~150 ms,
        # for `auth project:tinyproj` at 1 M sessions, where the filter holds 479).
        bound = min(bound, est.candidates * (_COST_ROW + _COST_PROBE))
    return est.walk if est.walk * 2 * _COST_ROW < bound else 0


def retry_walk(plan: Plan, compiled: CompiledQuery, found: int) -> Plan:
    """After a walk fell short (the words or filters are sparser near the top of the sort
    order than estimated): a walk long enough at the density it saw, if the planner's bound
    allows it, else the exact default plan."""
    exact = plan.fallback or compiled.plans[0]
    if plan.walk_budget is None:
        return exact
    walked = plan.params[plan.walk_budget]
    offset = plan.params[-1]
    needed = max(1, plan.params[-2]) + offset
    # The rows the walk passed: those it returned and every skipped one (it returned some), or
    # somewhere up to the offset (it returned none): taken as half of it. Counted as none,
    # a second page (`project:myapp --sort created --offset 100`) always fell to the default
    # plan (0.5 s at 1 M sessions).
    passed = found + offset if found > 0 else offset / 2
    longer = int(walked * needed / max(passed, 0.5) * 1.5) + 32
    # Nothing at all in the rows walked: a second walk only if it is short (_BLIND_RETRY;
    # tenth round: `branch:feat* (m OR fix) branch:main`, which nothing matches, walked
    # 20,000 rows, then 1.2 M, then read every match: 2 s at 1 M sessions).
    if longer > plan.retry or (passed == 0 and longer > _BLIND_RETRY):
        return exact
    return plan.with_budget(longer)


def falls_short(plan: Plan, rows: int) -> bool:
    """Whether ``plan`` (a bounded walk) may have missed rows: it did not fill its page."""
    return plan.walk_budget is not None and (plan.params[-2] < 0 or rows < plan.params[-2])


# --- newest_scored: bm25 in Python -----------------------------------------------------------
#
# FTS5's bm25 (fts5_aux.c), computed the same way, operation for operation, so that with the same
# statistics it gives the same doubles: k1 = 1.2, b = 0.75; a phrase's frequency in a row is the
# sum of its column weights over its hits; D the row's tokens, avgdl the index's tokens per row;
# IDF log((N - n + 0.5) / (n + 0.5)), at least 1e-6, with N rows and n rows holding the phrase.
# Only n is estimated (exact below SAMPLE_SIZE matches).

_K1 = 1.2
_B = 0.75
# The FTS5 averages record: the row count, then each column's total tokens (varints).
_AVERAGES_SQL = "SELECT block FROM sessions_fts_data WHERE id = 1"
# Where the *_scored plans' rows hold what bm25 needs (SCORED_COLUMNS).
_ROWID = SCORED_COLUMNS.index("rowid")
_LAST_ACCESS = SCORED_COLUMNS.index("last_access")
_TEXTS = tuple(
    SCORED_COLUMNS.index(c) for c in ("name", "project", "worktree", "branch", "directory")
)
_TEXTS_OF = itemgetter(*_TEXTS)
_ascii_words: Any = None


def _varints(blob: bytes) -> list[int]:
    """SQLite's big-endian varints (7 bits a byte, the ninth byte 8), as FTS5 stores them."""
    values: list[int] = []
    i = 0
    while i < len(blob):
        value = 0
        for n in range(9):
            byte = blob[i]
            i += 1
            if n == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
    return values


def _tokens(text: str) -> list[str]:
    """fts_tokens, with a fast path for ASCII (a token is a run of letters and digits)."""
    global _ascii_words
    if not text.isascii():
        return fts_tokens(text)
    if _ascii_words is None:
        import re  # already loaded by json; imported here to keep it off the module's import

        _ascii_words = re.compile("[a-z0-9]+").findall
    words: list[str] = _ascii_words(text.lower())
    return words


def _phrase_hits(tokens: list[str], phrase: Phrase) -> int:
    """How many times ``phrase`` occurs in ``tokens`` (FTS5's instances of it in a column)."""
    words, prefix = phrase
    if len(words) == 1:
        if prefix:  # tokens starting with the word: count it after a space, in C
            return (" " + " ".join(tokens)).count(" " + words[0])
        return tokens.count(words[0])
    head, last, size = list(words[:-1]), words[-1], len(words)
    hits = 0
    for i in range(len(tokens) - size + 1):
        end = tokens[i + size - 1]
        if tokens[i : i + size - 1] == head and (end.startswith(last) if prefix else end == last):
            hits += 1
    return hits


def _features_row(row: Sequence[Any], phrases: tuple[Phrase, ...]) -> tuple[int, list[float]]:
    """One row's tokens (all columns) and each phrase's frequency (hits times column weight),
    token by token: any text (Unicode folding, odd types)."""
    freqs = [0.0] * len(phrases)
    length = 0
    for weight, column in zip(BM25_WEIGHTS, _TEXTS, strict=True):
        text = row[column]
        if not text:
            continue
        tokens = _tokens(str(text))
        length += len(tokens)
        for i, phrase in enumerate(phrases):
            hits = _phrase_hits(tokens, phrase)
            if hits:
                freqs[i] += hits * weight
    return length, freqs


# Lower-cased ASCII: every character that is not a letter or a digit (nor the row separator,
# NUL) becomes a space; then every run of spaces becomes exactly two, so each token stands
# between its own two spaces: "  ccmgr  myapp  main  ". A token starting with "auth" is then
# " auth" in the text, a whole token " auth ", a phrase " auth  login", and a text's tokens are
# half its spaces, less one: all counted by str.count, in C, over a whole column at a time.
_SPACES = {i: " " for i in range(1, 128) if not chr(i).isalnum()}
# The same, but keeping \x01 (what _matching puts between a row's columns).
_SEPARATORS = {i: " " for i in range(2, 128) if not chr(i).isalnum()}


def _needle(phrase: Phrase) -> str | None:
    """What ``str.count`` looks for in a normalized text to count ``phrase``'s hits, or None
    when two hits of it could overlap (``"a a"``, ``"ab a"*``): str.count counts only
    non-overlapping ones, FTS5 every one."""
    words, prefix = phrase
    if not words or len(set(words)) != len(words):
        return None
    if len(words) > 1 and prefix and words[0].startswith(words[-1]):
        return None
    return " " + "  ".join(words) + ("" if prefix else " ")


def _features(rows: list[Any], phrases: tuple[Phrase, ...]) -> list[tuple[int, list[float]]]:
    """Each row's tokens (all columns) and each phrase's frequency (hits times column weight).

    A column of all rows at a time, with C string methods (~1 µs a row where token by token
    took ~6): rows whose text is not ASCII (Unicode folding), holds the row separator or is not
    a string are left out there and done by :func:`_features_row`.
    """
    needles = [_needle(phrase) for phrase in phrases]
    if not rows or any(n is None for n in needles):
        return [_features_row(row, phrases) for row in rows]
    # Words as prefixes only (the common case): " auth" counts them in text whose runs of
    # separators are single spaces (a column's tokens: its spaces less one), made by
    # replace() in C, cheaper than splitting into tokens and joining them with two spaces,
    # which counting phrases and whole words needs (hits that share a separator).
    single = all(prefix and len(words) == 1 for words, prefix in phrases)
    odd: set[int] = set()
    columns: list[list[str]] = []
    transposed = list(zip(*rows, strict=True))
    for index in _TEXTS:
        texts: Sequence[Any] = transposed[index]  # never NULL: the SQL coalesces to ''
        try:
            joined = " \x00 ".join(texts)
        except TypeError:  # a blob or a number in a text column
            joined = ""
        if not joined.isascii() or joined.count("\x00") != len(rows) - 1 or not joined:
            odd.update(
                r
                for r, text in enumerate(texts)
                if type(text) is not str or not text.isascii() or "\x00" in text
            )
            texts = ["" if r in odd else text for r, text in enumerate(texts)]
            joined = " \x00 ".join(texts)
        if single:
            text = " " + joined.lower().translate(_SPACES) + " "
            while "  " in text:  # runs of spaces to one (each pass halves them)
                text = text.replace("  ", " ")
            columns.append(text.split("\x00"))
            continue
        # split() and join: runs of spaces to one (NUL is no space), then each doubled.
        spaced = " ".join(joined.lower().translate(_SPACES).split()).replace(" ", "  ")
        # Empty only when every text is (one row without any token): each is then "  ".
        columns.append(f"  {spaced}  ".split("\x00") if spaced else ["  "] * len(rows))

    def counts(needle: str) -> Any:
        """``needle``'s count in each row, for each column: one tuple of five a row."""
        return zip(*(map(str.count, column, repeat(needle)) for column in columns), strict=True)

    spaces = [sum(row) for row in counts(" ")]
    # Whole numbers of hits times whole weights: exact, and so the same doubles in any order.
    w1, w2, w3, w4, w5 = BM25_WEIGHTS
    weighted = [
        [w1 * a + w2 * b + w3 * c + w4 * d + w5 * e for a, b, c, d, e in counts(needle)]
        for needle in needles
        if needle is not None
    ]
    if single:
        lengths = [space - len(_TEXTS) for space in spaces]
    else:
        lengths = [space // 2 - len(_TEXTS) for space in spaces]
    features = [
        (length, list(freqs))
        for length, freqs in zip(lengths, zip(*weighted, strict=True), strict=True)
    ]
    for r in odd:
        features[r] = _features_row(rows[r], phrases)
    return features


def _passes(freqs: list[float], clauses: tuple[Clause, ...]) -> bool:
    """Whether a row with these phrase frequencies matches the clauses (see Scoring)."""
    return all(any(freqs[i] for i in phrases) != negated for negated, phrases in clauses)


def _matching(rows: list[Any], scoring: Scoring) -> list[bool]:
    """Whether each row matches ``scoring``'s clauses (filter_scored's test of a filter's row).

    All rows at once, in C: each row's five texts joined (``\\x01`` between columns, which no
    phrase crosses), lower-cased, every other separator a space, so that a token starting
    with ``auth`` is ``" auth"`` in it; for phrases of several words or whole words, every
    run of spaces then made one (``" auth login"``, ``" fix "``: only whether a phrase occurs
    matters here, not how often); each phrase tested with ``in`` (~0.5 µs a row, ~1 with
    phrases, where :func:`_features`, which also counts each column's hits and tokens for
    the score, takes ~3.5). Texts that are not ASCII strings free of NUL and ``\\x01`` are
    tested from :func:`_features`.
    """
    clauses = scoring.clauses or ()
    phrases = scoring.phrases
    try:
        joined = " " + " \x00 ".join(map(" \x01 ".join, map(_TEXTS_OF, rows))) + " "
    except TypeError:  # a blob or a number in a text column
        joined = None
    if (
        not rows
        or not all(words for words, _ in phrases)
        or joined is None
        or not joined.isascii()
        or joined.count("\x00") != len(rows) - 1
        or joined.count("\x01") != (len(_TEXTS) - 1) * len(rows)
    ):
        return [_passes(freqs, clauses) for _, freqs in _features(rows, phrases)]
    text = joined.lower().translate(_SEPARATORS)
    if not all(prefix and len(words) == 1 for words, prefix in phrases):
        while "  " in text:  # runs of separators to one space (each pass halves them)
            text = text.replace("  ", " ")
    texts = text.split("\x00")
    present = [
        list(map(str.__contains__, texts, repeat(" " + " ".join(w) + ("" if p else " "))))
        for w, p in phrases
    ]
    tests: list[Any] = []
    for negated, indexes in clauses:
        anyof = present[indexes[0]]
        for i in indexes[1:]:
            anyof = list(map(operator.or_, anyof, present[i]))
        tests.append(map(operator.not_, anyof) if negated else anyof)
    return list(map(all, zip(*tests, strict=True))) if tests else [True] * len(rows)


def _candidates(
    cursor: sqlite3.Cursor, scoring: Scoring, features: bool = True
) -> tuple[list[Any], list[Any]]:
    """The rows to rank and their features (``features``: not counted when False): newest_
    scored's hits (all of them), or the newest ``window`` of filter_scored's rows that match,
    read in chunks, stopping once they are in (only those are scored)."""
    if scoring.clauses is None:
        rows = cursor.fetchall()
        # Newest first (as the SQL reads them; a resumed stream's two parts are sorted again
        # here, in C, ~10 µs for a window already in order).
        rows.sort(key=itemgetter(_ROWID), reverse=True)
        return rows, _features(rows, scoring.phrases) if features else []
    kept: list[Any] = []
    newest_first = True
    lowest: int | None = None
    read = 0
    size = scoring.window
    while True:
        chunk = cursor.fetchmany(size)
        if not chunk:
            break
        read += len(chunk)
        # Stopping early needs the rows newest first (the SQL's order; checked in C).
        rowids = list(map(itemgetter(_ROWID), chunk))
        if lowest is not None:
            rowids.insert(0, lowest)
        newest_first = newest_first and all(map(operator.ge, rowids, islice(rowids, 1, None)))
        lowest = rowids[-1]
        kept.extend(compress(chunk, _matching(chunk, scoring)))
        if newest_first and len(kept) >= scoring.window:
            break
        # The next chunk: what the share of matches so far says the window still needs, and
        # a small margin (each row read costs a lookup and its test, ~4-5 µs at 1 M sessions;
        # a chunk that falls short is followed by another).
        share = max(len(kept), 1) / read
        size = max(64, int((scoring.window - len(kept)) / share * 1.05) + 16)
    kept.sort(key=itemgetter(_ROWID), reverse=True)
    del kept[scoring.window :]
    return kept, _features(kept, scoring.phrases) if features else []


def _ranked_page(scoring: Scoring, rows: list[Any], features: list[Any]) -> list[Any]:
    """(rowid, score) of the page: ``rows`` (newest first) ranked by bm25 as FTS5 computes it,
    best first, ties most recent first."""
    avgdl = float(scoring.tokens) / float(scoring.rows or 1)
    idfs = scoring.idfs
    k1, b, boost = _K1, _B, _K1 + 1.0
    # FTS5's expression, the same operations in the same order (so the same doubles); the
    # score starts at 0.0 there, and 0.0 + x is x for the x >= 0 a phrase adds.
    if len(idfs) == 1:
        idf = idfs[0]
        negated = [
            -1.0 * (idf * ((f * boost) / (f + k1 * (1 - b + b * float(n) / avgdl))))
            for n, (f,) in features
        ]
    else:
        # Phrase by phrase over all rows (list comprehensions, not a loop a row and phrase):
        # each row's score still adds its phrases' terms to 0.0 in FTS5's order.
        norms = [k1 * (1 - b + b * float(n) / avgdl) for n, _ in features]
        scores = [0.0] * len(features)
        for i, idf in enumerate(idfs):
            scores = [
                score + idf * ((f[i] * boost) / (f[i] + norm))
                for score, (_, f), norm in zip(scores, features, norms, strict=True)
            ]
        negated = [-1.0 * score for score in scores]
    ranked = list(
        zip(
            negated, map(itemgetter(_LAST_ACCESS), rows), map(itemgetter(_ROWID), rows), strict=True
        )
    )
    # Newest first already; then most recent last access; then best score (stable sorts).
    ranked.sort(key=itemgetter(1), reverse=True)
    ranked.sort(key=itemgetter(0))
    limit, offset = scoring.page
    end = None if limit < 0 else offset + limit
    return [(rowid, -bm25) for bm25, _, rowid in ranked[offset:end]]


def _page_rows(conn: sqlite3.Connection, rowids: list[int]) -> dict[int, Any]:
    """The sessions of a page cut in Python, read in full by rowid (RESULT_COLUMNS)."""
    import json  # loaded with the CLI's output already; only the Python plans need it here

    return {row[-1]: row[:-1] for row in conn.execute(PAGE_SQL, (json.dumps(rowids),))}


_TESTED_PLANS = ("filter_tested", "alive_tested")


def tested_rows(conn: sqlite3.Connection, plan: Plan) -> list[Any]:
    """``filter_tested``'s and ``alive_tested``'s page: the filter's rows in the sort's order
    (from the table, or from the alive sessions' index), the words tested on
    each row's text in Python, read in chunks until the page's last match; then the page's
    sessions read in full."""
    scoring = plan.scoring
    if scoring is None or scoring.clauses is None:
        return conn.execute(plan.sql, plan.params).fetchall()
    limit, offset = scoring.page
    end = None if limit < 0 else limit + offset
    cursor = conn.execute(plan.sql, plan.params)
    kept: list[int] = []
    size = 64  # a dense word fills a page of 20 from ~40 rows; a rarer one reads on, doubling
    while end is None or len(kept) < end:
        chunk = cursor.fetchmany(size)
        if not chunk:
            break
        # The words tested in C, all rows of the chunk at once (as filter_scored's).
        kept.extend(map(itemgetter(_ROWID), compress(chunk, _matching(chunk, scoring))))
        size = min(2 * size, 1024)
    page = kept[offset:end]
    if not page:
        return []
    found = _page_rows(conn, page)
    # A session deleted between the two reads (each its own snapshot) is left out.
    return [found[rowid] for rowid in page if rowid in found]


def score_rows(conn: sqlite3.Connection, plan: Plan) -> list[Any]:
    """A ``*_scored`` plan's page: its candidates ranked by bm25 in Python, then the page's
    sessions read in full (RESULT_COLUMNS, then the score)."""
    scoring = plan.scoring
    if scoring is None:
        return conn.execute(plan.sql, plan.params).fetchall()
    if plan.name in _TESTED_PLANS:
        return tested_rows(conn, plan)
    rows, features = _candidates(conn.execute(plan.sql, plan.params), scoring)
    page = _ranked_page(scoring, rows, features)
    if not page:
        return []
    found = _page_rows(conn, [rowid for rowid, _ in page])
    # A session deleted between the two reads (each its own snapshot) is left out.
    return [(*found[rowid], score) for rowid, score in page if rowid in found]


def _idf(rows: int, sample: tuple[int, int | None, int | None]) -> float:
    """bm25's IDF for a phrase, from its density sample (the count, exact below SAMPLE_SIZE)."""
    found, lowest, top = sample
    hits = found
    if found >= SAMPLE_SIZE and lowest is not None and top is not None:
        hits = min(rows, round(found * top / max(1, top - lowest + 1)))
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0.0 else 1e-6


def _averages(block: Any) -> tuple[int, int]:
    values = _varints(bytes(block)) if block else [0]
    return values[0], sum(values[1:])


def _phrase_sample(phrase: Phrase) -> tuple[str, int]:
    words, prefix = phrase
    return fts_quote(" ".join(words)) + ("*" if prefix else ""), SAMPLE_SIZE


def phrase_samples_sync(
    conn: sqlite3.Connection,
    compiled: CompiledQuery,
    sample: tuple[int, int | None, int | None] | None = None,
) -> list[tuple[int, int | None, int | None]] | None:
    """The density sample of each phrase the ranking scores in Python (None when no plan
    does). Read before the plan is chosen, so that bm25's statistics are costed per word (an
    AND of two dense words can match few rows and still read two long doclists), and reused
    for the IDFs. ``sample``: the query's own (:data:`PlanFacts.sample_sql`), which is the
    phrase's when the query is that one phrase (`auth`, `auth status:active`): not read
    again."""
    facts = compiled.facts
    scored = [plan.scoring for plan in compiled.plans if plan.scoring is not None]
    if facts is None or facts.sample_sql is None or not scored:
        return None
    phrases = scored[0].phrases
    # One phrase in the sampled expression, and it is this one: only parentheses around it.
    same = not facts.sample_negated and fts_phrases(str(facts.sample_params[0])) == phrases
    if sample is not None and len(phrases) == 1 and same:
        return [sample]
    if len(phrases) < 2:
        return None
    sql = facts.sample_sql
    # A word's sample read already to put the rarest first (prepare_sync) is not read again.
    read = dict(facts.part_samples)
    return [
        read.get(params[0]) or conn.execute(sql, params).fetchone()
        for params in map(_phrase_sample, phrases)
    ]


def with_statistics_sync(
    conn: sqlite3.Connection,
    compiled: CompiledQuery,
    plan: Plan,
    samples: Sequence[tuple[int, int | None, int | None]] | None = None,
) -> Plan:
    """``plan`` with bm25's statistics read (when it scores in Python); ``samples``: each
    phrase's density sample, when already read (:func:`phrase_samples_sync`)."""
    facts = compiled.facts
    if plan.scoring is None or facts is None or facts.sample_sql is None:
        return plan
    if plan.name in _TESTED_PLANS:
        return plan  # tests, does not rank
    row = conn.execute(_AVERAGES_SQL).fetchone()
    rows, tokens = _averages(row[0] if row else None)
    phrases = plan.scoring.phrases
    if samples is None or len(samples) != len(phrases):
        samples = [conn.execute(facts.sample_sql, _phrase_sample(p)).fetchone() for p in phrases]
    idfs = tuple(_idf(rows, sample) for sample in samples)
    return plan.with_scoring(plan.scoring.with_statistics(rows, tokens, idfs))


def run_plan_sync(conn: sqlite3.Connection, plan: Plan) -> list[Any]:
    """The rows of one plan as it stands (no fallback), ranked in Python if it says so."""
    if plan.name_walk is not None:
        return name_rows(conn, plan)
    if plan.union is not None:
        return union_rows(conn, plan)
    if plan.created is not None:
        return created_rows(conn, plan)
    if plan.scoring is not None:
        return score_rows(conn, plan)
    return conn.execute(plan.sql, plan.params).fetchall()


_CREATED = len(SCORED_COLUMNS)  # created_walk's rows: SCORED_COLUMNS, then created_at


def created_rows(conn: sqlite3.Connection, plan: Plan) -> list[Any]:
    """``created_walk``'s and ``created_set``'s page: the sessions last used before they were
    created first, then the field's rows newest used first, the words tested in Python, the
    best ``limit + offset`` by creation (then rowid) kept; reading stops once the last of
    those was created after the last access of the row just read (every later row was used,
    and so created, before it). Past its budget of rows, or on a timestamp that is not text
    (a comparison Python cannot make as SQLite does), the default plan."""
    import heapq  # only this plan needs it (the CLI's start-up)

    walk, scoring = plan.created, plan.scoring
    assert walk is not None and scoring is not None and scoring.page[0] >= 0
    limit, offset = scoring.page
    end = limit + offset
    found: dict[int, str] = {}

    def keep(rows: list[Any]) -> bool:
        for row in compress(rows, _matching(rows, scoring)) if rows else ():
            if type(row[_CREATED]) is not str:
                return False
            found[row[_ROWID]] = row[_CREATED]
        return True

    if plan.fallback is not None:
        exact = plan.fallback

        def fallback_rows() -> list[Any]:
            return run_plan_sync(conn, exact)
    else:

        def fallback_rows() -> list[Any]:
            return conn.execute(walk.fallback_sql, walk.fallback_params).fetchall()

    if not keep(conn.execute(walk.early_sql, walk.early_params).fetchall()):
        return fallback_rows()
    cursor = conn.execute(plan.sql, plan.params)
    read, size = 0, 64
    while True:
        chunk = cursor.fetchmany(size)
        if not chunk:
            break
        read += len(chunk)
        bound = chunk[-1][_LAST_ACCESS]
        if not keep(chunk) or type(bound) is not str:
            cursor.close()
            return fallback_rows()
        if end and len(found) >= end:
            last = heapq.nlargest(end, map(_swap, found.items()))[-1]
            if last[0] > bound:
                break
        if read >= walk.budget:
            cursor.close()
            return fallback_rows()
        size = min(2 * size, 1024)
    best = heapq.nlargest(end, map(_swap, found.items()))[offset:] if end else []
    page = [rowid for _, rowid in best]
    if not page:
        return []
    rows = _page_rows(conn, page)
    # A session deleted between the two reads (each its own snapshot) is left out.
    return [rows[rowid] for rowid in page if rowid in rows]


def _swap(item: tuple[int, str]) -> tuple[str, int]:
    return item[1], item[0]


def union_rows(conn: sqlite3.Connection, plan: Plan) -> list[Any]:
    """``or_union``'s page: each branch run as a query of its own (planned, with its fallback),
    then their sessions, once each, sorted and cut to the page by the plan's SQL; ranked, the
    newest window of them ranked in Python (as newest_scored)."""
    import json

    union = plan.union
    assert union is not None
    ids: dict[str, None] = {}
    rowids: set[int] = set()
    for branch in union.branches:
        chosen = plan_sync(conn, branch) if plan.scoring is not None else None
        if chosen is not None and (chosen.scoring is None or chosen.name in _TESTED_PLANS):
            # Ranked by FTS5 (bm25's statistics read the words' whole lists): the stream of
            # its newest matches that newest_scored reads is its window too.
            chosen = next((p for p in branch.plans if p.name == "newest_scored"), None)
        if chosen is not None and chosen.scoring is not None and chosen.name not in _TESTED_PLANS:
            # Ranked in Python: its candidates are its window (what the union needs), so
            # neither their ranking nor the reading of a page of them in full is done.
            cursor = conn.execute(chosen.sql, chosen.params)
            window, _ = _candidates(cursor, chosen.scoring, features=False)
            rowids.update(map(itemgetter(_ROWID), window))
        else:
            ids.update(dict.fromkeys(row[0] for row in rows_sync(conn, branch)))
    if plan.scoring is None:
        return conn.execute(plan.sql, (json.dumps(list(ids)), *plan.params[1:])).fetchall()
    for newest in union.filters:
        sql = newest.scan_sql
        if newest.count_sql is not None and newest.indexed_sql is not None:
            # Few sessions in the filter's index: read there and sorted (~0.6 µs each); many:
            # a scan of the table newest first meets the newest of them soon (a project in
            # 30 % of 1 M sessions, 500 of them: ~1,700 rows scanned, where sorting the
            # project's 300,000 rowids took 93 ms).
            (count,) = conn.execute(
                newest.count_sql, (*newest.count_params, WIDE_FILTER_CAP)
            ).fetchone()
            if count < WIDE_FILTER_CAP:
                sql = newest.indexed_sql
        rowids.update(row[0] for row in conn.execute(sql, (*newest.params, union.window)))
    params = (json.dumps(sorted(rowids)), json.dumps(list(ids)), union.window)
    return score_rows(conn, plan.replace(params=params))


_WORDLESS_RETRY = 5_000
# The most sessions written since the name snapshot's build (inserted, or renamed: its delta)
# for which filters alone take it by name: each query reads the delta's matches of the phrases.
_WORDLESS_DELTA = 20_000
"""Most rows a second walk of the sort order reads for filters alone (a few ms at 1 M sessions,
against ~1 s for sorting a project in 30 % of them): beyond, the default plan sorts."""


def _in_order(compiled: CompiledQuery) -> bool:
    """Whether ``filter_first`` reads a filter-only query's page in order and stops there:
    sorted by recent, the filter the whole query (every filter's index has last_access
    second). No count is needed then."""
    facts = compiled.facts
    return facts is not None and facts.sort == "recent" and facts.whole_filter


# Filters alone by created: a row read in a scan of the created order (sessions are recorded as
# they are created, so those reads are near each other) against one read of a filter's row
# picked out by its index (anywhere in the table). `status:active` at 1 M (2,041 rows): the
# scan 3.7 ms, filter_first 6.2; at 100 k (197 rows) 6.4 against 0.4.
_COST_WALK_NEAR = 0.4
_COST_PICKED = 3.0


def _counts_on(facts: PlanFacts) -> bool:
    """Whether a filter-only query's filter, 2,048 rows or more, is counted on to
    WIDE_FILTER_CAP (plan_sync) and then read whole when fewer (choose_wordless): other
    filters are tested on its rows, by recent or created (by name a walk of the filter's own
    name order passes it for certain)."""
    return not facts.whole_filter and facts.sort != "name"


def choose_wordless(
    compiled: CompiledQuery, candidates: int | None, top: int | None = None
) -> Plan:
    """Filters alone (pure), from the count of the indexed filter's rows (up to FILTER_CAP;
    None when not counted: :func:`_in_order`).

    Sorted by recent, the filter the whole query: ``filter_first`` (its index gives the order:
    it reads the page's rows and stops). Otherwise few rows: ``filter_first`` reads them from
    the filter's index and sorts them (a few thousand at most), unless the filter is the whole
    query, its own name order gives the page and the page needs fewer rows than it holds
    (``filter_walk``), or the sort is created, the filter the whole query and a scan of the
    created order until the page is full (the filter's share of ``top``, the highest rowid,
    says how long) costs less than reading them: SQLite's own plan. Many, with other filters
    beside it by recent or created: counted on, and up to WIDE_FILTER_CAP read whole
    (:func:`_counts_on`). Many otherwise: by name a window's walk of the name index
    (``window_walk``) or the snapshot walked with the fields' values as its MATCH
    (``name_snapshot``); else a walk of the filter's rows in name order, of the created order
    down from a window's end (``window_created``) or of the sort order (``order_walk``), which
    tests them (sized as if most rows passed; a short walk retries longer, then falls back).
    """
    facts = compiled.facts
    if facts is None or facts.needed is None:
        return compiled.plans[0]
    plans = {plan.name: plan for plan in compiled.plans}
    first = plans.get("filter_first")
    if first is not None and _in_order(compiled):
        return first
    if candidates is None:
        return compiled.plans[0]
    few = candidates < FILTER_CAP
    prefixed = plans.get("prefix_first")
    if prefixed is not None and candidates < WIDE_FILTER_CAP:
        # A field's prefix alone, by recent, up to a few thousand rows: the page's rowids from
        # its covering index range (a few thousand entries, ~2 ms at 8,192).
        return prefixed
    counted_on = _counts_on(facts) and FILTER_CAP <= candidates < WIDE_FILTER_CAP
    if counted_on:
        # Counted on (plan_sync) and still a few thousand, with other filters tested on each
        # row: a walk of the sort order passes the filter's share of its rows at most, and a
        # walk that falls short ends in SQLite's plan (`project:x branch:main --sort created`,
        # x in 0.5 % of 1 M sessions: 5,445 rows read and sorted in 10-20 ms; the walk, then
        # SQLite's scan of the created order, 1-2 s).
        if first is not None:
            return first
        # A field's prefix has no filter_first, and SQLite's plan reads and sorts every row of
        # its range (`project:isx* --sort created`, 7,415 rows: 14-17 ms): a walk of the sort
        # order as long as the prefix's share of the sessions says fills the page (rows near
        # each other in that order, ~1 µs each: 4 ms); other filters beside it make it fall
        # short, and the second walk is sized by what the first found.
        walk = plans.get("order_walk")
        if walk is None or top is None:
            return compiled.plans[0]
        budget = int(facts.needed * top / candidates * 1.5) + 32
        return walk.with_budget(budget, max(_WORDLESS_RETRY, 4 * budget))
    budget = int(1.5 * facts.needed) + 32
    # window_walk (by name, a since:/until: window alone): the name index read in order, the
    # window tested in it, stopping at the page; for a window too large to count (2,048 of 1 M
    # sessions or more: at most ~10,000 entries a page of 20, ~2.5 ms; `since:2025-06-01
    # until:2025-06-07`, 9,708: 16 -> 0.6 ms), else its rows sorted (a small window would be
    # looked for through the whole index).
    ordered = plans.get("window_walk")
    if ordered is not None and candidates is not None and candidates >= FILTER_CAP:
        return ordered
    snapshot = plans.get("name_snapshot")
    if snapshot is not None and not few:
        # Filters beside the one counted, by name: their values as the snapshot's column
        # phrases (the planner checks the snapshot's delta: plan_sync).
        return snapshot
    walk = plans.get("filter_walk") or plans.get("window_created") or plans.get("order_walk")
    own_order = walk is not None and walk.name == "filter_walk" and facts.whole_filter
    if walk is not None and (not few or (own_order and candidates > budget)):
        return walk.with_budget(budget, _WORDLESS_RETRY)
    # SQLite's own plan scans the created order's index, reading each row until the page is
    # full (no materialized walk: order_walk's costs 3 times that); or, if it judges the filter
    # selective, it reads the filter's index: filter_first.
    # (Not with a window's end: its sessions are not spread through the created order but
    # bunched before the end, which a scan from the newest reaches last: `status:active
    # until:2026-11-01`, 1,950 sessions at 1 M, scanned in 25-45 ms, read in 1-2.)
    scan = facts.needed * (top or 0) / max(candidates, 1) * _COST_WALK_NEAR
    ended = "window_created" in plans
    if (
        facts.sort == "created"
        and facts.whole_filter
        and not ended
        and scan < candidates * _COST_PICKED
    ):
        return compiled.plans[0]
    if first is not None and few:
        return first
    return compiled.plans[0]


_INDEX_SQL = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?"
# The indexes of migration 005 (a database may predate them); name: uses 002's.
_NAME_ORDER_INDEXES = frozenset(NAME_ORDER_INDEX.values()) - {NAME_ORDER_INDEX["name"]}


def _indexes_of(plan: Plan) -> list[str]:
    """The indexes of migration 005 a plan reads (its SQL names them: INDEXED BY)."""
    named = {part.split(" ", 1)[0] for part in plan.sql.split(" INDEXED BY ")[1:]}
    return sorted(named & _NAME_ORDER_INDEXES)


def _usable(conn: sqlite3.Connection, compiled: CompiledQuery, plan: Plan) -> Plan:
    """``plan``, or the default when it reads an index the database lacks (a database not
    yet migrated to 005: the CLI reads databases as they are)."""
    for index in _indexes_of(plan):
        if not conn.execute(_INDEX_SQL, (index,)).fetchone()[0]:
            return compiled.plans[0]
    return plan


def _alive_usable(conn: sqlite3.Connection, compiled: CompiledQuery) -> CompiledQuery:
    """``compiled`` without the plans of the alive sessions' index when the database lacks
    it (not yet migrated to 011: the CLI reads databases as they are), so that the planner
    chooses among the others."""
    if not any(plan.name in ALIVE_PLANS for plan in compiled.plans):
        return compiled
    if conn.execute(_INDEX_SQL, (ALIVE_INDEX,)).fetchone()[0]:
        return compiled
    plans = tuple(plan for plan in compiled.plans if plan.name not in ALIVE_PLANS)
    return CompiledQuery(compiled.sql, compiled.params, compiled.ranked, plans, compiled.facts)


def _window_usable(conn: sqlite3.Connection, compiled: CompiledQuery) -> CompiledQuery:
    """``compiled`` without the window plans whose index of migration 013 the database lacks
    (not yet migrated: the CLI reads databases as they are), as :func:`_alive_usable`."""
    needed = {PLAN_INDEX[plan.name] for plan in compiled.plans if plan.name in PLAN_INDEX}
    missing = {i for i in needed if not conn.execute(_INDEX_SQL, (i,)).fetchone()[0]}
    if not missing:
        return compiled
    plans = tuple(plan for plan in compiled.plans if PLAN_INDEX.get(plan.name) not in missing)
    return CompiledQuery(compiled.sql, compiled.params, compiled.ranked, plans, compiled.facts)


def prepare_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> CompiledQuery:
    """``compiled`` with its ANDed words in the order FTS5 intersects fastest, the rarest
    first (:func:`store.query.compiler.rarest_first`), from each word's density sample (~0.05
    ms a word); ranked, in the planner's reads only. Prepared once: the result has no
    ``source`` left to compile again."""
    facts = compiled.facts
    if compiled.source is None or facts is None or facts.sample_sql is None or not facts.parts:
        return compiled
    sql = facts.sample_sql
    samples = [conn.execute(sql, (part, SAMPLE_SIZE)).fetchone() for part in facts.parts]
    top = max(1, max(sample[2] or 1 for sample in samples))
    shares = {part: _matches(s, top) / top for part, s in zip(facts.parts, samples, strict=True)}
    read = tuple(zip(facts.parts, samples, strict=True))
    prepared = rarest_first(compiled, shares)
    ranked = prepared.facts
    if ranked is None:
        return prepared.replace(source=None)
    if not compiled.ranked or prepared is compiled:
        return prepared.replace(facts=ranked.replace(part_samples=read), source=None)
    # Ranked: bm25 sums over the phrases in the MATCH's order (FTS5's and Python's alike), so
    # the plans keep the words as typed and every plan's scores stay the default's to the last
    # bit; only the planner's reads of the matches (the density sample, known_scored's
    # rowids, how many pass the filters) take the rarest first.
    match = ranked.sample_params[0]
    passing = facts.passing_params
    typed = facts.sample_params[0]
    # known_scored reads its MATCH's rowids only (the set, whatever the order): the rarest
    # first too, where it is the words' alone; so does newest_scored's stream of the newest
    # matches, which it scores in Python in the typed order (its Scoring's phrases), not
    # FTS5's (tenth round: `auth login api c`'s newest 500 in 2.7 ms, not 4.7, at 1 M).
    reordered = (*_KNOWN_PLANS, "newest_scored")
    plans = tuple(
        plan.replace(params=(match, *plan.params[1:]))
        if plan.name in reordered and plan.params[0] == typed
        else plan
        for plan in compiled.plans
    )
    return compiled.replace(
        plans=plans,
        facts=facts.replace(
            sample_params=ranked.sample_params,
            passing_params=(match, *passing[1:]) if passing else passing,
            part_samples=read,
        ),
        source=None,
    )


# known_first's reads: the newest matches' rowids (the density sample's own rows) and the
# highest rowid (the sample's third column).
_NEWEST_SQL = (
    "SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
)
_TOP_SQL = "SELECT max(rowid) FROM sessions"
_KNOWN_PLANS = ("known_first", "known_scored")
# A stream of the newest matches resumes below the sample's rowids (resumed_stream) when they
# span more rowids than this: reading them by rowid costs ~0.35 ms more than streaming them,
# and FTS5's intersection over their span costs ~13 ns a doclist entry (at 1 M sessions:
# `a b c d`'s 256 newest matches span 129,000 rowids, 2.7 ms saved; `auth login api c`'s
# 39,000, 0.6 ms; `au lo ap`'s 24,000, none; `a b`'s 6,500, 0.35 ms lost).
_RESUME_SPAN = 32_768
# Fewer than 1 in this many of the words' newest matches passing the filters: the planner
# reads the matches that hold the exact fields' values too (PlanFacts.narrow), which may be
# few; then they are every match (~1-3 ms at 1 M sessions, where proving that a dense word
# and a dense field never meet took a walk of one of them: 85-120 ms).
_NARROW = 64
# The rowids (a JSON array, in its order) that match an FTS5 expression: one lookup each.
_PROBED_SQL = (
    "SELECT j.value FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM sessions_fts "
    "WHERE sessions_fts MATCH ? AND sessions_fts.rowid = j.value)"
)
# A word in more than this share of the sessions is looked up by rowid in the rarer words'
# few matches rather than intersected (_rare_rowids).
_DENSE_PART = 0.2


def _rare_rowids(conn: sqlite3.Connection, facts: PlanFacts, match: str) -> list[int] | None:
    """Every match of ``match``, an AND of words (``facts.parts``, rarest first), newest first,
    when the rarer words together match few: their intersection read (fewer than
    SAMPLE_SIZE), then each of its rowids looked up in the dense words (one lookup each). FTS5
    intersects an AND by advancing every word's list, and a dense one's is long: `auth api
    cache d` at 1 M sessions read 22 matches in 16 ms, the three rarer words' 50 in 4.8 and
    `auth`'s lookups 1.2 (tenth round). None when that is not so (then the caller reads the
    MATCH as it is): negated words, no dense or no rare word, or the rarer words' matches
    estimated (as independent) or found to be too many."""
    if len(facts.part_samples) < 2:
        return None
    top = max(1, max(sample[2] or 1 for _, sample in facts.part_samples))
    share = {part: _matches(sample, top) / top for part, sample in facts.part_samples}
    ordered = sorted(share, key=share.__getitem__)
    if match != " AND ".join(f"({part})" for part in ordered):
        return None
    rare = [part for part in ordered if share[part] <= _DENSE_PART]
    dense = [part for part in ordered if share[part] > _DENSE_PART]
    if not rare or not dense or top * math.prod(share[part] for part in rare) > SAMPLE_SIZE / 4:
        return None
    rare_match = " AND ".join(f"({part})" for part in rare)
    rowids = [rowid for (rowid,) in conn.execute(_NEWEST_SQL, (rare_match, SAMPLE_SIZE))]
    if len(rowids) >= SAMPLE_SIZE:
        return None
    dense_match = " AND ".join(f"({part})" for part in dense)
    return [rowid for (rowid,) in conn.execute(_PROBED_SQL, (_json_ints(rowids), dense_match))]


def _json_ints(values: list[int]) -> str:
    return f"[{','.join(map(str, values))}]"


def _with_rowids(plan: Plan, rowids: list[int]) -> Plan:
    """known_first reading ``rowids`` (a JSON array) where it read its MATCH's rows."""
    return plan.replace(
        sql=plan.sql.replace(KNOWN_MATCH, KNOWN_ROWIDS, 1),
        params=(_json_ints(rowids), *plan.params[1:]),
    )


# The longest walk of the sort order tried before an OR's branches are run one by one (and
# its retry): order_range's (~0.3 µs an entry, and the matches within its range), an
# eighth of it for order_walk's (one lookup a word and row, ~12 µs).
_UNION_WALK = 2_048


def _union_or_walk(conn: sqlite3.Connection, compiled: CompiledQuery, union: Plan) -> Plan:
    """``union`` (or_union), or, where the planner samples words (ANDed beside the OR: `auth
    -tinyproj (branch:main OR -until:2025-06-01)`, or one in every branch), a short walk of
    the sort order it prices as filling the page, with ``union`` as its exact fallback. The
    union runs each branch to the page's end, however rare its sessions near the top: a
    branch that matches nothing (`auth -worktree:main branch:main`: every main worktree is
    on main) proves it by reading a dense list through (eleventh round: 0.3-0.7 s at 1 M
    sessions, where the walk of the whole query fills the page in ~100 rows)."""
    facts = compiled.facts
    if facts is None or facts.sample_sql is None or sorts_by_name(union.sql):
        # (By name a walk's estimate assumes the matches spread through A-Z, which names
        # defeat: `c (main OR worktree:main) since:1w project:infra`, 2 -> 9 ms.)
        return union
    if any(len(words) > 1 for words, _ in fts_phrases(str(facts.sample_params[0]))):
        # A phrase of several words: the whole query's reads intersect their positions
        # (`d "auth login" api (-code OR lomi)`: ~30 ms at 1 M, where the union took 28).
        return union
    others = tuple(plan for plan in compiled.plans if plan.union is None)
    if not any(plan.name in ("order_walk", "order_range") for plan in others):
        return union
    rest = compiled.replace(plans=others)
    walk = plan_sync(conn, rest)
    longest = _UNION_WALK if walk.name == "order_range" else _UNION_WALK // 8
    if walk.walk_budget is None or walk.params[walk.walk_budget] > longest:
        return union
    return walk.replace(fallback=union, retry=min(walk.retry, longest))


def plan_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> Plan:
    """The plan to run for ``compiled``, from the planner's cheap reads on ``conn``."""
    compiled = _window_usable(conn, _alive_usable(conn, prepare_sync(conn, compiled)))
    facts = compiled.facts
    for plan in compiled.plans:
        if plan.union is not None and plan.scoring is None:
            # An OR with a filter: each branch costs what it would alone, where every other
            # plan reads every match of each word or tests the sort order against all of
            # them (docs/search.md, "seventh round").
            return _union_or_walk(conn, compiled, plan)
        if plan.union is not None and facts is not None and facts.sample_sql is not None:
            # Ranked, the same, but for a small table: there the default ranks every match
            # in about a millisecond, where the union plans each branch and ranks in Python.
            (_, _, top) = conn.execute(facts.sample_sql, facts.sample_params).fetchone()
            if top is None or top <= FILTER_CAP:
                return compiled.plans[0]
            return with_statistics_sync(conn, compiled, plan)
    facts = compiled.facts
    if facts is not None and facts.sample_sql is None and len(compiled.plans) > 1:
        if facts.candidates_sql is None:
            return compiled.plans[0]
        count = top = None
        if not _in_order(compiled):
            count, top = conn.execute(facts.candidates_sql, facts.candidates_params).fetchone()
            if count >= FILTER_CAP and _counts_on(facts):
                # Many, and other filters besides: counted on (~0.8 ms at most), since a walk
                # of the sort order may pass few of its rows (choose_wordless).
                wide = (*facts.candidates_params[:-1], WIDE_FILTER_CAP)
                count, top = conn.execute(facts.candidates_sql, wide).fetchone()
        chosen = choose_wordless(compiled, count, top)
        if chosen.name == "name_snapshot":
            # Only a built snapshot with a small delta (a long delta is read on every query).
            snapshot = snapshot_facts(conn)
            if snapshot is None or sum(snapshot) > _WORDLESS_DELTA:
                others = tuple(p for p in compiled.plans if p.name != "name_snapshot")
                compiled = CompiledQuery(
                    compiled.sql, compiled.params, compiled.ranked, others, compiled.facts
                )
                chosen = choose_wordless(compiled, count, top)
        return _usable(conn, compiled, chosen)
    if facts is None or facts.sample_sql is None or len(compiled.plans) == 1:
        return compiled.plans[0]
    (prefixed,) = conn.execute(_PREFIXES_SQL).fetchone()
    if not prefixed:
        return compiled.plans[0]
    known = known_plan = next((p for p in compiled.plans if p.name in _KNOWN_PLANS), None)
    head: tuple[str, list[int]] | None = None  # a MATCH and its newest SAMPLE_SIZE rowids
    if known is not None:
        # The sample's rowids themselves: fewer than SAMPLE_SIZE are every match, and
        # known_first/known_scored read them (FTS5 intersects the words once, not here and
        # again). Its MATCH is the words', or the fields' column phrases and the words (a
        # narrower read: then the words' own sample is read as well, for the other plans).
        match = known.params[0]
        rowids = _rare_rowids(conn, facts, match) if match == facts.sample_params[0] else None
        if rowids is None:
            rowids = [rowid for (rowid,) in conn.execute(_NEWEST_SQL, (match, SAMPLE_SIZE))]
        few = len(rowids) < SAMPLE_SIZE
        if few and known.scoring is None:
            return _with_rowids(known, rowids)
        if match == facts.sample_params[0]:
            (top,) = conn.execute(_TOP_SQL).fetchone()
            sample = (len(rowids), rowids[-1] if rowids else None, top)
        else:
            sample = conn.execute(facts.sample_sql, facts.sample_params).fetchone()
        # Ranked: taken only where the planner takes newest_scored, whose ranking it is (the
        # same rows, IDFs, scores), not where bm25 over every match is cheap enough
        # (newest_ranked: exact, where this estimates a dense word's IDF as newest_scored
        # does).
        known = _with_rowids(known, rowids) if few else None
        if not few and not facts.sample_negated and rowids[0] - rowids[-1] > _RESUME_SPAN:
            head = (match, rowids)
    else:
        sample = conn.execute(facts.sample_sql, facts.sample_params).fetchone()
    candidates = None
    if facts.candidates_sql is not None:
        (candidates,) = conn.execute(facts.candidates_sql, facts.candidates_params).fetchone()
    cap, passing = FILTER_CAP, None
    beside = None
    if facts.beside is not None and candidates is not None:
        # A window beside another filter (ninth round): the window's estimate and that
        # filter's share (~0.3 ms at 1 M sessions). Read however many the count found: a
        # small project's sessions in an old window (`auth until:2025-06-01
        # project:isxecoru-faguka`, ~1,400) are few, but streaming its matches from the
        # newest (phrase_scored) reads the ~4,000 recorded after the window first (16 ms).
        beside = beside_sync(conn, compiled, sample)
    if facts.passing_sql is not None and candidates is not None and candidates >= FILTER_CAP:
        # Too many rows to count cheaply: how many of the newest matches pass the filters
        # (~0.1 ms); if few, a stream of the matches would be long, so count the filter on,
        # up to WIDE_FILTER_CAP (~0.8 ms at most): reading its rows may be cheaper.
        (passed,) = conn.execute(facts.passing_sql, facts.passing_params).fetchone()
        passing = (passed, sample[0])
        if known_plan is not None and facts.narrow is not None and passed * _NARROW < sample[0]:
            # Hardly any pass: the words' matches that hold the exact fields' values too may
            # be few, and then they are every match (known_first reads them, the filters
            # tested on each; ranked, known_scored where newest_scored would rank).
            rowids = [rowid for (rowid,) in conn.execute(_NEWEST_SQL, (facts.narrow, SAMPLE_SIZE))]
            if len(rowids) < SAMPLE_SIZE:
                narrowed = _with_rowids(known_plan, rowids)
                if narrowed.scoring is None:
                    return narrowed
                known = narrowed
        # (Not when the window's estimate at the other filter's share says the count would
        # reach that cap too: ~1 ms for `auth until:2025-06-01 project:myapp`, which holds
        # ~80,000 at 1 M.)
        many = beside is not None and beside.rows * beside.share >= 2 * WIDE_FILTER_CAP
        if passed * _FEW_PASS < sample[0] and facts.candidates_sql is not None and not many:
            wide = (*facts.candidates_params[:-1], WIDE_FILTER_CAP)
            (candidates,) = conn.execute(facts.candidates_sql, wide).fetchone()
            cap = WIDE_FILTER_CAP
    counted = candidates is not None and candidates >= FILTER_CAP
    if facts.window is not None and passing is None and counted and facts.candidates_sql:
        # A window too large for the first count: counted on (~0.5 ms at most), an estimate
        # from its ends beyond (window_rows_sync), which is coarse for a window open towards
        # now (sessions used long after they were created).
        wide = (*facts.candidates_params[:-1], WIDE_FILTER_CAP)
        (candidates,) = conn.execute(facts.candidates_sql, wide).fetchone()
        cap = WIDE_FILTER_CAP
    window = window_rows_sync(conn, compiled, candidates, cap)
    early = early_sync(conn, compiled)
    snapshot = ranged = None
    if any(plan.name in ("name_snapshot", "name_except") for plan in compiled.plans):
        snapshot = snapshot_facts(conn)
        ranged = None if snapshot is None else window_facts(conn, compiled, window)
    span = None
    rows = walk_rows(compiled, sample, candidates, _top_share(compiled, window))
    # The span is for order_range, a walk of the sort order: not read when the snapshot will
    # be taken over the walks anyway (reading it costs what the walk would: ~3 ms for `cache`),
    # nor by name for a window too large to count: window_walk walks the same order testing
    # the window in the index (the span of `auth since:2026-11-25`'s walk: 24 ms at 1 M).
    # (Nor for an order_range that reads its own range by its edge: it is costed without.)
    range_plan = next((p for p in compiled.plans if p.name == "order_range"), None)
    if (
        facts.span_sql is not None
        and range_plan is not None
        and not ranges_by_edge(range_plan.sql)
        and rows > 0
        and not over_walks(compiled, sample, candidates, snapshot)
        and not (window is not None and _by_name(compiled))
        and not (beside is not None and rows <= beside.above)
    ):
        span = conn.execute(facts.span_sql, (rows,)).fetchone()
    samples = phrase_samples_sync(conn, compiled, sample)
    chosen = choose_plan(
        compiled,
        sample,
        candidates,
        span,
        samples,
        cap,
        passing,
        snapshot=snapshot,
        window=window,
        early=early,
        ranged=ranged,
        beside=beside,
    )
    plan = _usable(conn, compiled, chosen)
    if plan.fallback is not None:
        # The exact plan after a walk, made ready as a chosen one would be.
        exact = _usable(conn, compiled, plan.fallback)
        plan = plan.replace(fallback=with_statistics_sync(conn, compiled, exact, samples))
    if known is not None and plan.name in ("newest_scored", "phrase_scored"):
        # (phrase_scored ranks as newest_scored does, its MATCH only narrower.)
        plan = known
    elif head is not None and plan.name in ("newest_scored", "phrase_scored"):
        # Its newest matches are the sample's rowids when the MATCH is the same: read by
        # rowid, and the stream resumed below them.
        match, rowids = head
        if plan.params[0] == match:
            plan = resumed_stream(plan, _json_ints(rowids), rowids[-1]) or plan
    return with_statistics_sync(conn, compiled, plan, samples)


def statement_sync(
    conn: sqlite3.Connection, compiled: CompiledQuery
) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of the plan :func:`plan_sync` chooses (without a walk's
    fallback: run queries with :func:`rows_sync` or :func:`search_sync`); for ``or_union``,
    which runs one query per branch, the default plan's."""
    plan = plan_sync(conn, compiled)
    if plan.union is not None:
        return compiled.sql, compiled.params
    return plan.sql, plan.params


def rows_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> list[Any]:
    """The rows of ``compiled``: the chosen plan, then the exact fallback if a walk fell short."""
    compiled = prepare_sync(conn, compiled)
    plan = plan_sync(conn, compiled)
    rows = run_plan_sync(conn, plan)
    if falls_short(plan, len(rows)):
        plan = retry_walk(plan, compiled, len(rows))
        rows = run_plan_sync(conn, plan)
        if falls_short(plan, len(rows)):
            rows = run_plan_sync(conn, plan.fallback or compiled.plans[0])
    return rows


def search_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> list[SearchHit]:
    """Run a compiled search on a stdlib connection."""
    try:
        rows = rows_sync(conn, compiled)
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    return [hit_from_row(row, ranked=compiled.ranked) for row in rows]
