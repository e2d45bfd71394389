"""The plans that read a status filter's alive sessions from their own index (migration 011).

Pure. `status:active`, `-status:ended`, `status:attached` and `status:detached` keep the
sessions still alive: about 0.2 % of a long history, each row somewhere in the table.
``ix_sessions_alive`` is a partial index of exactly those sessions (``WHERE status <>
'ended'``) holding every column a search tests or sorts on, so these plans read the filter's
rows from one short contiguous run of it and never the table (but for the page's rows):

- ``alive_scored`` (ranked): the filter's rows newest first, the words tested and scored in
  Python as ``filter_scored`` does (store.search), reading stops once the window is in;
- ``alive_tested`` (unranked, every sort): the rows in the sort's order (by recent the index
  gives it: the read stops at the page), the words tested in Python as ``filter_tested`` does.

Both test the words in SQL first, loosely (:func:`_prefilter`: a superset of the matches), so
that a rare word hands Python a few rows, not every alive one.

SQLite uses a partial index only when the query's WHERE implies the index's, and it proves
that only from the same term: the SQL carries ``sessions.status <> 'ended'`` beside the
status filter (which already implies it, so the rows are the same).
"""

from __future__ import annotations

from store.query.ast import And, Status
from store.query.compiler import (
    _ORDER,
    _SCORED_SELECT,
    Clause,
    Phrase,
    Plan,
    Scoring,
    _clauses,
    _scorable,
    _Simple,
    _sql,
    fts_phrases,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

ALIVE_INDEX: Final = "ix_sessions_alive"
"""The partial index of the alive sessions' texts (migration 011)."""
ALIVE_WHERE: Final = "sessions.status <> 'ended'"
"""The partial index's WHERE, which a query must carry for SQLite to read the index."""
ALIVE_PLANS: Final = ("alive_scored", "alive_tested")
_ALIVE: Final = frozenset({"active", "attached", "detached"})


def keeps_alive(node: _Simple) -> bool:
    """Whether one of ``node``'s top-level conjuncts is a status that only alive sessions
    have (every result then is in the partial index)."""
    children = node.children if isinstance(node, And) else (node,)
    return any(isinstance(c, Status) and c.value in _ALIVE for c in children)


_TEXT_COLUMNS: Final = ("name", "project", "worktree", "branch", "directory")
# A text that is not all ASCII (its count of characters and of bytes differ): the index folds its
# tokens' case and accents beyond what LIKE folds (ASCII letters only): such a row goes to Python.
_NOT_ASCII: Final = " OR ".join(
    f"length(CAST(sessions.{c} AS TEXT)) <> length(CAST(sessions.{c} AS BLOB))"
    for c in _TEXT_COLUMNS
)


def _prefilter(phrases: tuple[Phrase, ...], clauses: tuple[Clause, ...]) -> tuple[str, list[Any]]:
    """A cheap test in SQL that keeps every row that matches (and some that do not): for each
    clause that is not negated, one of its phrases' longest token is in one of the texts
    (``LIKE '%auth%'``: a row whose text holds the token holds it as a substring, whatever
    its case), unless a text is not ASCII. Python then tests the rows that pass exactly; a
    word in 1 % of the alive rows hands Python ~20 rows instead of 2,041 (~1.2 µs each into
    Python, ~0.3 here). LIKE folds ASCII case (the connections never set
    ``case_sensitive_like``); tokens are letters and digits, never LIKE's ``%`` or ``_``."""
    params: list[Any] = []
    tests: list[str] = []
    for negated, indexes in clauses:
        if negated:
            continue  # a negated clause excludes rows: no necessary condition to test
        anyof: list[str] = []
        for index in indexes:
            words = phrases[index][0]
            if not words:
                return "1", []
            token = max(words, key=len)
            for column in _TEXT_COLUMNS:
                anyof.append(f"sessions.{column} LIKE ?")
                params.append(f"%{token}%")
        tests.append("(" + " OR ".join(anyof) + ")")
    if not tests:
        return "1", []
    # The tokens first: a row that holds them skips the ASCII test.
    return f"(({' AND '.join(tests)}) OR {_NOT_ASCII})", params


def _select(node: _Simple, match: str) -> tuple[str, list[Any]]:
    """The statement's start: the alive rows that pass every filter (and the words' test in
    SQL, :func:`_prefilter`), read from the index (SCORED_COLUMNS), and its parameters."""
    params: list[Any] = []
    where = _sql(node, params, ranked_join=True)
    test, test_params = _prefilter(fts_phrases(match), _clauses(node))
    return (
        f"SELECT {_SCORED_SELECT} FROM sessions INDEXED BY {ALIVE_INDEX} "
        f"WHERE {ALIVE_WHERE} AND {where} AND {test}"
    ), [*params, *test_params]


def alive_scored(node: _Simple, match: str, page: tuple[int, int], window: int) -> Plan:
    """alive_scored: the filter's alive rows newest first (SQLite sorts the few entries of
    the index by rowid; Python reads them lazily and stops once the window's newest matches
    are in), ranked in Python (store.search.score_rows, as filter_scored)."""
    select, params = _select(node, match)
    return Plan(
        "alive_scored",
        f"{select} ORDER BY sessions.rowid DESC",
        tuple(params),
        scoring=Scoring(fts_phrases(match), page, clauses=_clauses(node), window=max(1, window)),
    )


def alive_tested(node: _Simple, match: str, sort: str, page: tuple[int, int]) -> Plan:
    """alive_tested: the filter's alive rows in the sort's order (by recent the index's own:
    no sort), the words tested in Python until the page's last match (store.search.tested_rows,
    as filter_tested); then the page's sessions read in full."""
    select, params = _select(node, match)
    scoring = Scoring(fts_phrases(match), page, clauses=_clauses(node))
    return Plan("alive_tested", f"{select} ORDER BY {_ORDER[sort]}", tuple(params), scoring=scoring)


def ranked_plans(
    node: _Simple,
    match: str,
    page: tuple[int, int],
    window: int,
    index: str | None,
) -> list[Plan]:
    """alive_scored, where it applies: the query's counted filter is its status (``index``:
    the filter's index, which the planner counts), one that keeps alive sessions only, and
    its words are scored in Python (the caller checked the page lies within the window)."""
    if index != "ix_sessions_status" or not keeps_alive(node) or not _scorable(node):
        return []
    return [alive_scored(node, match, page, window)]


def unranked_plans(
    node: _Simple, match: str, sort: str, page: tuple[int, int], index: str | None
) -> list[Plan]:
    """alive_tested, where it applies (as :func:`ranked_plans`; ``match``: the words'
    MATCH, not all of them negated)."""
    if index != "ix_sessions_status" or not keeps_alive(node) or not _scorable(node):
        return []
    return [alive_tested(node, match, sort, page)]
