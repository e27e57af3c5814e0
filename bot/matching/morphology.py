"""Word keys: how a query word and a text word are found equal (pure).

Version 1 compares normalised words exactly; `token_keys` may give a text word several keys so
that inflected forms can be added here without touching the matcher.
"""

from __future__ import annotations


def term_key(word: str) -> str:
    """The key a query word is looked up by."""
    return word


def token_keys(token: str) -> tuple[str, ...]:
    """The keys a text word is indexed under."""
    return (token,)


def prefix_key(key: str) -> str:
    """The key a prefix* query word is looked up by."""
    return key
