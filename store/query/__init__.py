"""The search query language: lexer, parser, WHEN expressions and the SQL compiler (all pure)."""

from store.query.compiler import SORTS, CompiledQuery, Plan, PlanFacts, compile_query
from store.query.parser import parse_query
from store.query.when import Interval, parse_when

TYPE_CHECKING = False  # SearchSort is a typing.Literal: for type checkers only (start-up time)
if TYPE_CHECKING:
    from store.query.compiler import SearchSort as SearchSort

__all__ = [
    "SORTS",
    "CompiledQuery",
    "Interval",
    "Plan",
    "PlanFacts",
    "compile_query",
    "parse_query",
    "parse_when",
]
