"""What runs where bodies are parsed: in a parse worker process, or in the owner's parser thread.

A worker compiles the topics once (`_init_worker`), then parses each body it is given and matches its
items (`parse_and_match`). Its watches and stored word forms are read through picklable read-only
connections (storage.readonly). The owner imports this module only when it parses a body: a poll whose
feeds all answer 304 never loads the parsers, the matcher or the clustering rules.

Workers belong to the process that built the pool (the owner) and never outlive it: see
bot.sources.parsing.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sqlite3
import threading
import time
from collections.abc import Mapping, Set
from typing import Protocol

from bot import clustering, crosslang
from bot.matching import lemmas
from bot.matching.matcher import Matcher, index_words
from bot.matching.normalize import words
from bot.matching.watches import WatchIndex, WatchSource
from bot.models import ParsedFeed, Topic
from bot.sources.parsing import parse_body
from bot.stories import text_digest
from bot.terms import encode_terms, item_term_keys, item_terms

log = logging.getLogger(__name__)


class FormSource(Protocol):
    """Where analysed word forms are kept between processes (storage.wordforms.WordForms)."""

    def analysis(self, word: str, generation: str) -> str | None:
        """The stored analysis of a word made by this generation of the rules, or None."""
        ...


class _State(threading.local):
    """What a worker compiled for its pool, per thread: a pool that parses in a thread of the owner
    process (bot.sources.parsing.ParserPool) may run beside the pool that replaces it after a hot
    reload, each thread matching with its own pool's topics (a process worker has the one thread)."""

    def __init__(self) -> None:  # run in each thread on its first use
        self.matcher: Matcher | None = None
        self.aliases: crosslang.Aliases = {}
        self.watches: WatchIndex | None = None
        self.watch_source: WatchSource | None = None
        self.forms: FormSource | None = None


_state = _State()


def _init_worker(topics: tuple[Topic, ...], watches: WatchSource | None = None, forms: FormSource | None = None) -> None:
    """Compile the topics once per worker (and import the parsers); watches compile on first use."""
    import bot.sources.rss  # noqa: F401

    _state.forms = forms
    lemmas.use_store(_stored_analysis if forms is not None else None)
    _state.matcher = Matcher(topics)
    _state.aliases = crosslang.alias_groups(t.query for t in topics)
    _state.watches, _state.watch_source = (WatchIndex(), watches) if watches is not None else (None, None)


def _start_worker(
    owner_pid: int, topics: tuple[Topic, ...], watches: WatchSource | None = None, forms: FormSource | None = None
) -> None:
    """Worker start: ignore Ctrl-C, exit when the owner exits, compile the topics."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_owner, args=(owner_pid,), name="owner-watch", daemon=True).start()
    _init_worker(topics, watches, forms)


def _stored_analysis(word: str) -> str | None:
    """A word's analysis kept by an earlier process, or None (also when it cannot be read: analysed again)."""
    forms = _state.forms
    if forms is None:
        return None
    try:
        return forms.analysis(word, lemmas.generation())
    except sqlite3.Error as e:
        log.warning("stored word forms not read (analysed again): %s", e)
        return None


def _fresh_forms() -> tuple[str, dict[str, str]] | None:
    fresh = lemmas.take_fresh()
    return (lemmas.generation(), fresh) if fresh and _state.forms is not None else None


def _sync_watches() -> WatchIndex | None:
    """The worker's watches, caught up with the source; on a read error the ones held are used."""
    watches, source = _state.watches, _state.watch_source
    if watches is None or source is None:
        return None
    try:
        for watch_id, error in watches.sync(source):
            log.warning("watch %d not compiled: %s", watch_id, error)
    except sqlite3.Error as e:
        log.warning("watches not refreshed (the ones held are used): %s", e)
    return watches


def _exit_with_owner(owner_pid: int) -> None:
    """Block until the owner process ends, then end this worker at once (its work has no one to go to)."""
    try:
        fd = os.pidfd_open(owner_pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or the owner is already gone
        parent = os.getppid()
        while _is_running(owner_pid) and os.getppid() == parent:
            time.sleep(0.2)
    else:
        select.select([fd], [], [])  # a pidfd turns readable when its process exits
    os._exit(0)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_and_match(
    kind: str,
    body: bytes,
    headers: dict[str, str],
    url: str,
    feed_name: str,
    known: Mapping[str, str] | None = None,
    seen: Set[str] = frozenset(),
) -> ParsedFeed:
    """Parse a body, match every item against the worker's topics and take its clustering terms
    (lemmatising is CPU bound too). Items of `known` (key -> bot.stories.text_digest of the stored
    title and text) that are stored unchanged are left out before matching: most of a changed
    feed's items were stored by an earlier poll; the item elements whose digest is in `seen` (those of
    the body stored before) are not even read."""
    parsed = parse_body(kind, body, headers, url, seen)
    if known:
        parsed.items = [it for it in parsed.items if known.get(it.key) != text_digest(it.title, it.text)]
    watches = _sync_watches()
    matcher, aliases = _state.matcher, _state.aliases
    feed_words = words(feed_name)
    # Most items match nothing: when no word of an item can start a topic's match (and there are no
    # watches to ask), it gets no word index at all.
    screen = matcher is not None and not watches and not matcher.may_match(feed_words)
    for item in parsed.items:
        title, text = words(item.title), words(item.text)
        if matcher is not None and item.key not in parsed.matches:
            if screen and not matcher.may_match(title, text):
                parsed.matches[item.key] = []
            else:
                idx = index_words(title, text, feed_words, (item.title, item.text, feed_name))
                found = matcher.match_index(idx)
                if watches is not None:
                    found += watches.match_index(idx)
                parsed.matches[item.key] = found
        if item.key not in parsed.terms:
            # An item that matched nothing opens no story: its terms only count towards their rarity,
            # so it is stored with their keys alone (each counting once) rather than their weights,
            # and its language (which chooses a story's candidates) is not worked out.
            matched = bool(parsed.matches.get(item.key))
            terms = encode_terms(item_terms(item.title, item.text)) if matched else item_term_keys(item.title, item.text)
            lang = clustering.words_language(title + text) if matched else ""
            anchors = ""  # numbers and names, for an item of a topic to join its story in another language
            if matched and lang:
                anchors = crosslang.encode_anchors(crosslang.anchors(item.title, item.text, lang, aliases))
            parsed.terms[item.key] = (terms, lang, anchors)
    parsed.word_forms = _fresh_forms()
    parsed.cyrillic = lemmas.met_cyrillic()
    return parsed
