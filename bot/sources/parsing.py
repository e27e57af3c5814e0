"""Choose the parser for a source kind and run it off the event loop.

Parsing and matching are CPU bound (feedparser spends ~6 ms on a 50-item feed), so bodies are parsed,
and their items matched against the compiled topics, in a pool of worker processes (one per core but
one by default: see ParserPool) while the event loop keeps fetching. With one worker this runs in a thread instead: no process
start-up for small setups. The pool is built for one set of topics; a new set needs a new pool.
Personal watches are matched in the same place, from the same word index of the item: each worker
keeps its own `WatchIndex` and, before each body, catches up with the watches changed since the version
it holds (one indexed read, empty when nothing changed), so a new or removed watch applies to the next
poll without a new pool.

Workers belong to the process that built the pool (the owner) and never outlive it: each worker
ignores SIGINT (Ctrl-C reaches the whole process group; the owner stops the pool, a worker that took
the signal itself would only print a traceback) and watches the owner through a pidfd, exiting the
moment it dies, SIGKILL included. The owner is watched rather than the parent because forkserver
workers are children of the fork server, not of the owner, so PR_SET_PDEATHSIG would depend on the
fork server noticing first; a pidfd names that one process, so a recycled pid cannot fool it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import signal
import sqlite3
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from types import TracebackType
from typing import Protocol

from bot import clustering, crosslang
from bot.clustering import StoryRules
from bot.matching import lemmas
from bot.matching.matcher import Matcher, index_words
from bot.matching.normalize import words
from bot.matching.watches import WatchIndex, WatchSource
from bot.models import ParsedFeed, Topic
from bot.stories import text_digest

log = logging.getLogger(__name__)
THREAD_BACKLOG = 4  # bodies waiting in a `thread_first` pool's thread before it starts its workers


def parse_body(kind: str, body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """Parse a fetched body with the parser for `kind` ("rss" or "telegram")."""
    if kind == "telegram":
        from bot.sources.tchannel import parse_channel_page

        return parse_channel_page(body, url)
    from bot.sources.rss import parse_feed

    return parse_feed(body, headers, url)


class FormSource(Protocol):
    """Where analysed word forms are kept between processes (storage.wordforms.WordForms)."""

    def analysis(self, word: str, generation: str) -> str | None:
        """The stored analysis of a word made by this generation of the rules, or None."""
        ...


_matcher: Matcher | None = None
_aliases: crosslang.Aliases = {}
_watches: WatchIndex | None = None
_watch_source: WatchSource | None = None
_forms: FormSource | None = None


def _init_worker(topics: tuple[Topic, ...], watches: WatchSource | None = None, forms: FormSource | None = None) -> None:
    """Compile the topics once per worker (and import the parsers); watches compile on first use."""
    global _matcher, _aliases, _watches, _watch_source, _forms
    import bot.sources.rss  # noqa: F401

    _forms = forms
    lemmas.use_store(_stored_analysis if forms is not None else None)
    _matcher = Matcher(topics)
    _aliases = crosslang.alias_groups(t.query for t in topics)
    _watches, _watch_source = (WatchIndex(), watches) if watches is not None else (None, None)


def _start_worker(
    owner_pid: int, topics: tuple[Topic, ...], watches: WatchSource | None = None, forms: FormSource | None = None
) -> None:
    """Worker start: ignore Ctrl-C, exit when the owner exits, compile the topics."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_owner, args=(owner_pid,), name="owner-watch", daemon=True).start()
    _init_worker(topics, watches, forms)


def _stored_analysis(word: str) -> str | None:
    """A word's analysis kept by an earlier process, or None (also when it cannot be read: analysed again)."""
    if _forms is None:
        return None
    try:
        return _forms.analysis(word, lemmas.generation())
    except sqlite3.Error as e:
        log.warning("stored word forms not read (analysed again): %s", e)
        return None


def _fresh_forms() -> tuple[str, dict[str, str]] | None:
    fresh = lemmas.take_fresh()
    return (lemmas.generation(), fresh) if fresh and _forms is not None else None


def _sync_watches() -> WatchIndex | None:
    """The worker's watches, caught up with the source; on a read error the ones held are used."""
    if _watches is None or _watch_source is None:
        return None
    try:
        for watch_id, error in _watches.sync(_watch_source):
            log.warning("watch %d not compiled: %s", watch_id, error)
    except sqlite3.Error as e:
        log.warning("watches not refreshed (the ones held are used): %s", e)
    return _watches


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
    kind: str, body: bytes, headers: dict[str, str], url: str, feed_name: str, known: Mapping[str, str] | None = None
) -> ParsedFeed:
    """Parse a body, match every item against the worker's topics and take its clustering terms
    (lemmatising is CPU bound too). Items of `known` (key -> bot.stories.text_digest of the stored
    title and text) that are stored unchanged are left out before matching: most of a changed
    feed's items were stored by an earlier poll."""
    parsed = parse_body(kind, body, headers, url)
    if known:
        parsed.items = [it for it in parsed.items if known.get(it.key) != text_digest(it.title, it.text)]
    watches = _sync_watches()
    feed_words = words(feed_name)
    # Most items match nothing: when no word of an item can start a topic's match (and there are no
    # watches to ask), it gets no word index at all.
    screen = _matcher is not None and not watches and not _matcher.may_match(feed_words)
    for item in parsed.items:
        title, text = words(item.title), words(item.text)
        if _matcher is not None and item.key not in parsed.matches:
            if screen and not _matcher.may_match(title, text):
                parsed.matches[item.key] = []
            else:
                idx = index_words(title, text, feed_words, (item.title, item.text, feed_name))
                found = _matcher.match_index(idx)
                if watches is not None:
                    found += watches.match_index(idx)
                parsed.matches[item.key] = found
        if item.key not in parsed.terms:
            # An item that matched nothing opens no story: its terms only count towards their rarity,
            # so it is stored with their keys alone (each counting once) rather than their weights.
            counts = clustering.item_terms(item.title, item.text)
            matched = bool(parsed.matches.get(item.key))
            terms = clustering.encode_terms(counts) if matched else " ".join(counts)
            lang = clustering.words_language(title + text)
            anchors = ""  # numbers and names, for an item of a topic to join its story in another language
            if matched and lang:
                anchors = crosslang.encode_anchors(crosslang.anchors(item.title, item.text, lang, _aliases))
            parsed.terms[item.key] = (terms, lang, anchors)
    parsed.word_forms = _fresh_forms()
    return parsed


class ParserPool:
    """Runs `parse_body` in worker processes, or in a thread when `workers` is 1 (or 0 on one core).

    `workers` 0 means one process per core but one: the owner process fetches and stores (its event
    loop and database thread take most of a core in a large poll), and each worker holds its own copy
    of the lemma dictionaries (about 85 MB for ru, uk, en and fr), so a worker per core would cost
    memory for no speed. The owner never loads the dictionaries: the clustering rules get the lemmas
    of the topics' words from a worker (`story_rules`)."""

    def __init__(
        self,
        workers: int = 0,
        topics: tuple[Topic, ...] = (),
        watches: WatchSource | None = None,
        forms: FormSource | None = None,
    ) -> None:
        cores = os.cpu_count() or 1
        self.workers = workers or max(1, cores - 1)
        self.processes = workers > 1 or (workers == 0 and cores > 1)
        self.topics = topics
        self.watches = watches
        self.forms = forms
        self.thread_first = False  # see `parse`
        self._executor: Executor | None = None
        self._thread: Executor | None = None
        self._in_thread = 0
        self._rules: asyncio.Future[StoryRules] | None = None

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _get_executor(self) -> Executor:
        if self._executor is None:
            if self.processes:
                ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
                self._executor = ProcessPoolExecutor(
                    self.workers,
                    mp_context=ctx,
                    initializer=_start_worker,
                    initargs=(os.getpid(), self.topics, self.watches, self.forms),
                )
            else:
                self._executor = self._thread_executor()
        return self._executor

    def _thread_executor(self) -> Executor:
        if self._thread is None:  # compiled in the thread, before its first task: never on the event loop
            self._thread = ThreadPoolExecutor(
                1, thread_name_prefix="parser", initializer=_init_worker, initargs=(self.topics, self.watches, self.forms)
            )
        return self._thread

    def _choose(self) -> Executor:
        """The workers, or the owner's thread while the pool is `thread_first` and its queue short."""
        if self.thread_first and self.processes and self._executor is None and self._in_thread < THREAD_BACKLOG:
            return self._thread_executor()
        return self._get_executor()

    async def parse(
        self,
        kind: str,
        body: bytes,
        headers: dict[str, str],
        url: str,
        feed_name: str = "",
        known: Mapping[str, str] | None = None,
    ) -> ParsedFeed:
        """Parse one body and match its items (those not stored unchanged in `known`), without blocking
        the event loop.

        A `thread_first` pool (a `once` poll of feeds read before: a few changed bodies, words met
        before) parses in a thread of its owner until THREAD_BACKLOG bodies wait there, and only then
        starts its worker processes: starting a worker costs more than a few bodies do."""
        executor = self._choose()
        threaded = executor is self._thread and self.processes
        self._in_thread += threaded
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(executor, parse_and_match, kind, body, headers, url, feed_name, known)
        finally:
            self._in_thread -= threaded

    async def story_rules(self) -> StoryRules:
        """The clustering rules for the pool's topics, the lemmas of their words taken in a worker."""
        if self._rules is None:
            loop = asyncio.get_running_loop()
            self._rules = loop.create_future()
            try:
                keys = await loop.run_in_executor(self._choose(), clustering.topic_query_keys, self.topics)
            except BaseException as e:
                self._rules.set_exception(e)
                self._rules.exception()  # retrieved: the callers awaiting it see it
                self._rules = None
                raise
            self._rules.set_result(StoryRules(self.topics, keys))
        return await asyncio.shield(self._rules)

    def close(self, cancel_pending: bool = True) -> None:
        """Stop the workers (after the queued parses, unless `cancel_pending`)."""
        for executor in (self._executor, self._thread):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=cancel_pending)
        self._executor = self._thread = None
