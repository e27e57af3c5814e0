"""Word forms analysed from the lemma dictionaries, kept so that later processes need not load them.

A parse worker looks up each word it has not met yet (`WordForms.analysis`, one read by primary
key) and analyses only those the table does not hold; the analyses it made come back with
the parsed feed and are stored here (`save_word_forms`). A `once` poll that meets only words seen
before loads no dictionary. An analysis is the text of bot.matching.lemmas.encode_analysis, stored
with the generation of the rules and dictionaries that made it (bot.matching.lemmas.generation): a
row of another generation is not read, and is replaced when its word is analysed again.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlite_utils

from storage.readonly import ReadConnection


class WordForms(ReadConnection):
    """The stored analyses, read by parse workers (`ReadConnection`: picklable)."""

    def analysis(self, word: str, generation: str) -> str | None:
        """The stored analysis of a word made by this generation, or None."""
        rows = self.read("SELECT analysis FROM word_forms WHERE word = ? AND generation = ?", [word, generation])
        return str(rows[0][0]) if rows else None


def holds_cyrillic_words(db: sqlite_utils.Database) -> bool:
    """Whether a Cyrillic word has ever been analysed for this store (of any generation). Every term of
    a stored item was analysed by a parse worker that keeps its analyses here before the item is
    stored, so a store without one holds no Cyrillic term (a seek on the primary key)."""
    row = db.execute("SELECT EXISTS(SELECT 1 FROM word_forms WHERE word >= ? AND word < ?)", ["\u0400", "\u0500"])
    return bool(row.fetchone()[0])


def save_word_forms(db: sqlite_utils.Database, generation: str, forms: Mapping[str, str]) -> None:
    """Keep analyses (word -> encoded analysis) of one generation, replacing a word's older one."""
    db.conn.executemany(
        "INSERT OR REPLACE INTO word_forms (word, analysis, generation) VALUES (?, ?, ?)",
        [(word, text, generation) for word, text in forms.items()],
    )
