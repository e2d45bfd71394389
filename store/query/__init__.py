"""The search query language: lexer, parser, WHEN expressions and the SQL compiler (all pure)."""

from store.query.compiler import SORTS, CompiledQuery, Plan, PlanFacts, SearchSort, compile_query
from store.query.parser import parse_query
from store.query.when import Interval, parse_when

__all__ = [
    "SORTS",
    "CompiledQuery",
    "Interval",
    "Plan",
    "PlanFacts",
    "SearchSort",
    "compile_query",
    "parse_query",
    "parse_when",
]
