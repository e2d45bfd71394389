"""Keeping tokens out of what the config commands print: one policy, pure functions.

Three nets, because a token can hide in more places than its own key:

* **keys**: ``github_token``, ``gitlab_token``, ``bitbucket_token`` and any key that looks like a
  secret's name (contains ``token``, ``secret``, ``password`` or ``passphrase``, or is a near miss
  of a secret key such as ``github_tokne``);
* **values**: a value that looks like a GitHub, GitLab or Bitbucket/Atlassian token, wherever it
  is; and every copy of a secret key's value (a YAML alias ``*tok`` points at the same value as its
  anchor ``&tok``, so both are hidden);
* **text**: the finished output, comments included (``# old: ghp_...``), goes through the same
  patterns and known values.

Nothing here reads or writes files; the CLI calls :func:`redact_plain`, :func:`redact_document`
and :func:`redact_text` on what it is about to print.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any, Final

REDACTED: Final = "<redacted>"
SECRET_KEYS: Final = frozenset({"github_token", "gitlab_token", "bitbucket_token"})
"""The schema's secret settings (``git.*``)."""

_SECRET_WORDS: Final = ("token", "secret", "password", "passphrase", "api_key", "apikey")
_NOT_SECRET_SUFFIXES: Final = ("_file", "_path", "_dir", "_folder", "_command", "_env")
# Token formats, by their documented prefixes:
# GitHub: ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server),
# ghr_ (refresh), github_pat_ (fine-grained PAT); GitLab: glpat- and its other token prefixes;
# Bitbucket app passwords ATBB, Atlassian/Bitbucket API and access tokens ATATT/ATCTT.
TOKEN_PATTERN: Final = re.compile(
    r"(?<![A-Za-z0-9_])(?:"
    r"gh[pousr]_[A-Za-z0-9_]{6,}"
    r"|github_pat_[A-Za-z0-9_]{6,}"
    r"|gl(?:pat|oas|dt|rt|ptt|ft|imt|cbt|soat|ffct|agent)-[A-Za-z0-9_\-]{6,}"
    r"|AT(?:BB|ATT|CTT)[A-Za-z0-9_=\-]{6,}"
    r")"
)
_MIN_TEXT_SECRET: Final = 6
"""Known secret values shorter than this are not searched for in free text (too many false hits);
they are still hidden wherever they are a value."""


def is_secret_key(key: Any) -> bool:
    """Whether a map key names a secret (exactly, by its words, or as a near miss)."""
    if not isinstance(key, str) or not key:
        return False
    name = key.lower()
    if name in SECRET_KEYS:
        return True
    if name.endswith(_NOT_SECRET_SUFFIXES):  # `passphrase_file` names where a secret is
        return False
    if any(word in name for word in _SECRET_WORDS):
        return True
    return bool(difflib.get_close_matches(name, SECRET_KEYS, n=1, cutoff=0.8))


def looks_like_token(value: Any) -> bool:
    """Whether a string contains something shaped like a GitHub, GitLab or Bitbucket token."""
    return isinstance(value, str) and TOKEN_PATTERN.search(value) is not None


def secret_values(tree: Any) -> set[str]:
    """Every non-empty string under a secret key in ``tree`` (plain or round-trip data)."""
    found: set[str] = set()
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if id(node) in seen:  # aliases can share (and, in theory, loop) subtrees
            return
        if isinstance(node, dict):
            seen.add(id(node))
            for key, value in node.items():
                if is_secret_key(key):
                    found.update(_strings(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            seen.add(id(node))
            for item in node:
                walk(item)

    walk(tree)
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if value:
            yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _hidden(value: Any, known: set[str]) -> bool:
    return isinstance(value, str) and (str(value) in known or looks_like_token(value))


def redact_plain(value: Any, known: set[str] | None = None) -> Any:
    """A copy of plain data with every secret replaced by ``<redacted>`` (empty ones stay)."""
    known = secret_values(value) if known is None else known

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (REDACTED if is_secret_key(k) and v not in (None, "") else walk(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return REDACTED if _hidden(node, known) else node

    return walk(value)


def redact_document(data: Any) -> set[str]:
    """Hide every secret in a round-trip tree, in place; returns the secret values it found.

    Keeps the layout: only values change. A value reached through an alias is the same object as
    its anchor's, so every copy is found by value.
    """
    known = secret_values(data)
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if id(node) in seen:
            return
        if isinstance(node, dict):
            seen.add(id(node))
            for key in list(node):
                value = node[key]
                if (is_secret_key(key) and value not in (None, "")) or _hidden(value, known):
                    node[key] = REDACTED
                else:
                    walk(value)
        elif isinstance(node, list):
            seen.add(id(node))
            for index, item in enumerate(node):
                if _hidden(item, known):
                    node[index] = REDACTED
                else:
                    walk(item)

    walk(data)
    return known


def redact_text(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with token-shaped strings and the ``known`` secret values replaced (comments
    and all): the last net, applied to everything printed."""
    text = TOKEN_PATTERN.sub(REDACTED, text)
    for value in sorted({v for v in known if len(v) >= _MIN_TEXT_SECRET}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text
