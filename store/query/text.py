"""How the FTS index cuts text into tokens, mirrored in Python.

The index uses SQLite's unicode61 tokenizer with ``remove_diacritics 2``: a token is a run of
letters, digits and private-use characters; tokens are lower-cased and lose their diacritics. The
compiler uses this to drop words that hold no token at all (``&``, ``--``), which FTS5 would
otherwise treat as a phrase that matches nothing; the tests' reference evaluator uses it to match.

ASCII text (most queries) is cut without unicodedata: its letters and digits are exactly the
characters ``isalnum()`` accepts, and lower-casing is all the folding they need. Loading
unicodedata's tables would cost every ``ccmgr-watch query`` its start-up for nothing.
"""

from __future__ import annotations


def _is_token_char(char: str) -> bool:
    if char.isascii():
        return char.isalnum()
    import unicodedata

    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def _fold(token: str) -> str:
    if token.isascii():
        return token.lower()
    import unicodedata

    decomposed = unicodedata.normalize("NFD", token.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def fts_tokens(text: str) -> list[str]:
    """The tokens the index would make of ``text``, folded as the index folds them."""
    tokens: list[str] = []
    current: list[str] = []
    for char in text:
        if _is_token_char(char):
            current.append(char)
        elif current:
            tokens.append(_fold("".join(current)))
            current = []
    if current:
        tokens.append(_fold("".join(current)))
    return tokens


def has_tokens(text: str) -> bool:
    """True if ``text`` holds at least one token (a letter or a digit)."""
    return any(_is_token_char(char) for char in text)
