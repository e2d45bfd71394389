"""Round-trip YAML: text in, a commented document out, and back to the same bytes.

ruamel.yaml's round-trip mode keeps comments, key order, quoting and block scalars. Two changes
make it read ccmgr-ultra's files the way yaml.v3 does and write them the way yaml.v3 would:

* timestamps stay text (``last_modified`` keeps its nanoseconds and offset exactly);
* new strings that YAML 1.1 reads as booleans (``n``, ``yes``, ``off``...) are written
  double-quoted, as yaml.v3 does (``"n": new_worktree``); templates are single-quoted.

No file I/O here: callers hand in text and get text back.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from store.errors import ConfigError
from watcher.config.schema import OLD_BOOLS
from watcher.config.secrets import redact_text

Path = tuple[str | int, ...]
"""A key path into the document: map keys and list indexes."""

MAX_ITEMS: Final = 10_000
"""Most lines plus commas (flow items) a file may have. ruamel's round-trip parser costs ~0.1-0.3
ms a key, so a 1 MiB file of 100,000 short keys would take half a minute to read; ccmgr-ultra's
own full config is under 200 lines."""
MAX_NODES: Final = 100_000
"""Aliases can make a small file an exponentially large tree; stop walking it here."""


class _Resolver(VersionedResolver):
    """The YAML 1.2 resolver without timestamps, so they load and dump as the text they are."""

    @property
    def versioned_resolver(self) -> Any:
        table = super().versioned_resolver
        cache: dict[int, Any] = self.__dict__.setdefault("_without_timestamps", {})
        # Called for every scalar: filter each version's table once.
        if id(table) not in cache:
            cache[id(table)] = {
                ch: [(tag, rx) for tag, rx in rules if not str(tag).endswith(":timestamp")]
                for ch, rules in table.items()
            }
        return cache[id(table)]


class Document:
    """A parsed config file: the round-trip tree plus what is needed to write it back alike."""

    def __init__(
        self, data: CommentedMap, *, filename: str, indent: tuple[int, int, int], text: str
    ) -> None:
        self.data = data
        self.filename = filename
        self.indent = indent  # (mapping, sequence, offset) as ruamel's YAML.indent takes them
        self.text = text

    def locate(self, path: Sequence[str | int]) -> tuple[int, int]:
        """1-based (line, column) of ``path``'s key, or of its nearest existing parent."""
        return locate(self.data, path)


def _yaml(indent: tuple[int, int, int] = (4, 6, 4)) -> YAML:
    yaml = YAML(typ="rt")
    yaml.Resolver = _Resolver
    yaml.preserve_quotes = True
    yaml.width = 1 << 20  # yaml.v3 does not fold long lines; neither do we
    yaml.allow_duplicate_keys = False
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _error(filename: str, line: int, column: int, message: str, hint: str) -> ConfigError:
    return ConfigError(f"{filename}:{line}:{column}: {message}", hint=hint)


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def parse_document(text: str, filename: str = "config.yaml") -> Document:
    """Parse YAML text into a :class:`Document`; any problem is a located ``ConfigError``."""
    if "\x00" in text:
        line, col = _line_col(text, text.index("\x00"))
        raise _error(filename, line, col, "binary data (NUL byte)", "is this a binary file?")
    items = text.count("\n") + text.count(",")
    if items > MAX_ITEMS:
        raise _error(
            filename,
            1,
            1,
            f"file has {items:,} lines and flow items; a config file may have at most "
            f"{MAX_ITEMS:,}",
            "is this the right file? config.yaml files have a few hundred lines",
        )
    deep = _too_deep(text)
    if deep is not None:
        line, col = _line_col(text, deep)
        raise _error(
            filename,
            line,
            col,
            f"brackets nested more than {MAX_FLOW_DEPTH} deep",
            "a config file nests a few levels; is this the right file?",
        )
    try:
        data = _yaml().load(text)
    except MarkedYAMLError as exc:
        raise _marked(exc, filename) from None
    except ReaderError as exc:
        line, col = _line_col(text, max(0, int(exc.position)))
        char = exc.character
        shown = f"U+{ord(char):04X}" if isinstance(char, str) else f"U+{int(char):04X}"
        raise _error(
            filename,
            line,
            col,
            f"character {shown} is not allowed in YAML",
            "remove control characters; is this a binary file?",
        ) from None
    except (YAMLError, RecursionError, ValueError, TypeError, AttributeError) as exc:
        raise _error(
            filename, 1, 1, f"cannot parse YAML: {exc}", "check the file's YAML syntax"
        ) from None
    except Exception as exc:
        raise _error(
            filename, 1, 1, f"cannot parse YAML: {exc}", "check the file's YAML syntax"
        ) from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise _error(
            filename,
            1,
            1,
            f"expected a mapping of settings at the top level, got {_kind(data)}",
            "a config file is `key: value` lines, e.g. `version: 2.1.0`",
        )
    return Document(data, filename=filename, indent=_guess_indent(data), text=text)


MAX_FLOW_DEPTH: Final = 100
_DUPLICATE_VALUES = re.compile(r' with value ".*$')


def _too_deep(text: str) -> int | None:
    """Offset where ``[``/``{`` nesting passes the limit (the parser would recurse for seconds)."""
    depth = 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return index
        elif char in "]}":
            depth = max(0, depth - 1)
    return None


def _marked(exc: MarkedYAMLError, filename: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
    # ruamel quotes values ("found duplicate key ... with value ..."): never a token.
    problem = _DUPLICATE_VALUES.sub("", problem)
    problem = redact_text(problem)
    hint = "check the YAML syntax at that position"
    if "\t" in problem or "'\\t'" in problem:
        problem = "a tab character; YAML indents with spaces"
        hint = "replace the tab with spaces (ccmgr-ultra writes 4 per level)"
    elif "duplicate key" in problem:
        hint = "each key may appear once in a mapping; delete or merge the repeated one"
    elif "mapping values are not allowed" in problem or "expected <block end>" in problem:
        hint = "check the indentation: keys of one mapping start in the same column"
    return _error(filename, line, col, problem, hint)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else type(value).__name__


def _guess_indent(data: CommentedMap) -> tuple[int, int, int]:
    """The (mapping, sequence, offset) indentation the file uses; yaml.v3's (4, 6, 4) if unsure."""
    mapping: int | None = None
    seq: tuple[int, int] | None = None
    for parent, key in _block_children(data):
        child = parent[key]
        key_col = parent.lc.key(key)[1]
        if mapping is None and isinstance(child, CommentedMap) and len(child):
            first = next(iter(child))
            mapping = child.lc.key(first)[1] - key_col
        if seq is None and isinstance(child, CommentedSeq) and len(child):
            dash = child.lc.col
            item_col = child.lc.item(0)[1]
            seq = (item_col - key_col, dash - key_col)
        if mapping is not None and seq is not None:
            break
    mapping = mapping if mapping and mapping > 0 else 4
    sequence, offset = seq if seq and seq[0] > 0 and seq[1] >= 0 else (mapping + 2, mapping)
    return mapping, sequence, offset


def _block_children(data: CommentedMap) -> Iterator[tuple[CommentedMap, Any]]:
    stack = [data]
    seen = 0
    while stack and seen < MAX_NODES:
        node = stack.pop(0)
        for key, value in node.items():
            seen += 1
            if isinstance(value, CommentedMap | CommentedSeq) and not value.fa.flow_style():
                yield node, key
                if isinstance(value, CommentedMap):
                    stack.append(value)


def dump_document(doc: Document) -> str:
    """The document as YAML text, with its own indentation, comments and quoting."""
    out = io.StringIO()
    _yaml(doc.indent).dump(doc.data, out)
    return out.getvalue()


def dump_plain(value: Any, indent: tuple[int, int, int] = (4, 6, 4)) -> str:
    """Plain data as YAML the way yaml.v3 writes it (4-space indent, quoted YAML 1.1 booleans)."""
    out = io.StringIO()
    _yaml(indent).dump(to_node(value), out)
    return out.getvalue()


def to_plain(node: Any) -> Any:
    """A round-trip tree as plain dicts, lists, str, int, float, bool and None."""
    budget = [MAX_NODES]

    def walk(value: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > 200:
            raise ConfigError(
                "the file's structure is too large or too deep (aliases expanding?)",
                hint="a config file has a few hundred settings; remove anchors and aliases",
            )
        if isinstance(value, dict):
            return {_key(k): walk(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, depth + 1) for v in value]
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if value is None:
            return None
        if isinstance(value, AbstractSet):  # `!!set`
            return sorted(str(v) for v in value)
        # Explicitly tagged values (`!!timestamp`, `!!binary`, `!custom`): their text.
        return str(value)

    return walk(node, 0)


def _key(key: Any) -> str:
    # yaml.v3 decodes every key of a map[string]... as its text; booleans as Go spells them.
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key) if key is not None else ""


_TEMPLATE = re.compile(r"\{\{")


def to_node(value: Any) -> Any:
    """Plain data as round-trip nodes, quoted the way yaml.v3 quotes them."""
    if isinstance(value, dict):
        result = CommentedMap()
        for key, item in value.items():
            result[_scalar(str(key))] = to_node(item)
        return result
    if isinstance(value, list):
        return CommentedSeq(to_node(v) for v in value)
    if isinstance(value, str):
        return _scalar(value)
    return value


def node_key(key: str) -> Any:
    """A new map key, quoted the way yaml.v3 quotes it (``"n"``)."""
    return _scalar(key)


def _scalar(text: str) -> Any:
    if text in OLD_BOOLS:
        return DoubleQuotedScalarString(text)
    if "\n" in text and not text.endswith("\n\n") and text.strip():
        return LiteralScalarString(text)
    if _TEMPLATE.search(text):
        return SingleQuotedScalarString(text)
    return text


def locate(data: Any, path: Sequence[str | int]) -> tuple[int, int]:
    """1-based (line, column) of the deepest key of ``path`` present in ``data``."""
    line, col = (1, 1)
    lc = getattr(data, "lc", None)
    if lc is not None and lc.line is not None:
        line, col = lc.line + 1, (lc.col or 0) + 1
    node = data
    for part in path:
        try:
            if isinstance(node, CommentedMap) and part in node:
                kl, kc = node.lc.key(part)
                line, col = kl + 1, kc + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                il, ic = node.lc.item(part)
                line, col = il + 1, ic + 1
                node = node[part]
            else:
                break
        except (KeyError, TypeError, IndexError, AttributeError):
            break
    return line, col
