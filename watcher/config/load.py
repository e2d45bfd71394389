"""The pipeline's second step: checking one parsed file and locating every issue in it.

:func:`check_document` takes a :class:`~watcher.config.yamlio.Document` (read by
``watcher.config.readfile.read_document``) and returns a :class:`CheckedFile`: the values that
passed the type check (``validate``) and the rules (``rules``), and every issue with file, line and
column. It reads no file; ``watcher.config.scopes`` merges the checked files.
"""

from __future__ import annotations

from typing import Any

from watcher.config.rules import apply_rules
from watcher.config.validate import Issue, check_file_tree
from watcher.config.yamlio import Document, to_plain


class CheckedFile:
    """A parsed file with its checked values and its located issues."""

    def __init__(
        self,
        document: Document,
        tree: dict[str, Any],
        issues: list[Issue],
        extras: dict[str, Any] | None = None,
    ) -> None:
        self.document = document
        self.tree = tree  # the values that passed the type check, plain data
        self.issues = issues
        self.extras = extras or {}  # the keys the schema does not know, kept as written

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity error."""
        return [i for i in self.issues if i.severity == "error"]


def check_document(document: Document) -> CheckedFile:
    """Type-check, rule-check and locate everything in one parsed file."""
    tree, issues, extras = check_file_tree(to_plain(document.data))
    # An invalid value is not used: the lower scope's, else the default, applies instead
    # (docs/config.md, "Invalid values"). check_file_tree already left out wrong types.
    tree, _, _, broken = apply_rules(tree)
    located = [issue.located(document) for issue in issues + broken]
    return CheckedFile(document, tree, located, extras)
