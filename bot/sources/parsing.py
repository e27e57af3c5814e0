"""Choose the parser for a source kind and run it off the event loop.

Parsing and matching are CPU bound (feedparser spends ~6 ms on a 50-item feed), so bodies are parsed,
and their items matched against the compiled topics, in a pool of worker processes (one per core but
one by default: see ParserPool) while the event loop keeps fetching. With one worker this runs in a thread instead: no process
start-up for small setups. The pool is built for one set of topics; a new set needs a new pool.
Personal watches are matched in the same place, from the same word index of the item: each worker
keeps its own `WatchIndex` and, before each body, catches up with the watches changed since the version
it holds (one indexed read, empty when nothing changed), so a new or removed watch applies to the next
poll without a new pool. What runs in a worker lives in bot.sources.parseworker, imported at the
first body: a poll that parses nothing loads no parser, matcher or clustering code.

Workers are spawned: each is a fresh interpreter that imports the worker code, which is what a fork
server's child does too (a `python -m bot` owner preloads nothing there), without the fork server's
own process (14 MB) beside them; never forked, as the owner runs threads. Workers belong to the
process that built the pool (the owner) and never outlive it. Each worker ignores SIGINT (Ctrl-C
reaches the whole process group; the owner stops the pool, a worker that took the signal itself
would only print a traceback), and starts with it blocked (`_Workers`), so that a Ctrl-C while its
interpreter starts, before it can ignore anything, is no traceback either. Each watches the owner
through a pidfd and exits the moment it dies, SIGKILL included; a pidfd names that one process, so
a recycled pid cannot fool it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Mapping, Set
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from bot.models import ParsedFeed, Topic

if TYPE_CHECKING:  # the worker side (parsers, matcher, clustering) is imported at the first body
    from bot.clustering import StoryRules
    from bot.matching.watches import WatchSource
    from bot.sources.parseworker import FormSource

# A `thread_first` pool starts its workers when the bodies waiting in its thread would cost more CPU
# to parse there than a worker costs to start (a new interpreter, imports, compiled topics: about 0.5 s).
# The thread's cost is measured in its own CPU time (not wall time, which a busy machine or the GIL
# would inflate) on the bodies it parsed after its first (which pays for the first use of the parsers
# and maybe a lemma dictionary's load); until then this guess (a changed 33 KB feed of 50 items read
# whole: about 8 ms) stands for it.
WORKER_START_S = 0.5
THREAD_SECONDS_PER_BYTE = 2.5e-7


def parse_body(kind: str, body: bytes, headers: dict[str, str], url: str, seen: Set[str] = frozenset()) -> ParsedFeed:
    """Parse a fetched body with the parser for `kind` ("rss" or "telegram"); an RSS or Atom body's item
    elements whose digest is in `seen` are left unread (bot.sources.fastrss)."""
    if kind == "telegram":
        from bot.sources.tchannel import parse_channel_page

        return parse_channel_page(body, url)
    from bot.sources.rss import parse_feed

    return parse_feed(body, headers, url, seen)


_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Workers(ProcessPoolExecutor):
    """A process pool whose workers start with SIGINT blocked: a worker is started by the `submit`
    that needs it, and a child keeps the signal mask of the thread that started it through exec, so a
    Ctrl-C to the process group while its interpreter starts waits, and is dropped once the worker
    ignores SIGINT (`parseworker._start_worker`)."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return super().submit(fn, *args, **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


class ParserPool:
    """Runs `parse_body` in worker processes, or in a thread when `workers` is 1 (or 0 on one core).

    `workers` 0 means one process per core but one: the owner process fetches and stores (its event
    loop and database thread take most of a core in a large poll), and each worker holds its own copy
    of the lemma dictionaries (about 50 MB for ru, uk, en and fr), so a worker per core would cost
    memory for no speed. The owner never loads the dictionaries: the clustering rules get the lemmas
    of the topics' words from a worker (`story_rules`).

    A pool whose store never met a Cyrillic word when it opened (`cyrillic_at_need`, set by the owner:
    storage.wordforms.holds_cyrillic_words) takes the rules without the topics' Cyrillic words until a
    parse reports that the parsers have met one (ParsedFeed.cyrillic), and completes them before
    storing that parse: until then no term the rules compare is Cyrillic, and polls of feeds in other
    languages never load the Russian and Ukrainian dictionaries (bot.matching.matcher indexes the
    topics the same way)."""

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
        self.worker_start_s = WORKER_START_S
        self.cyrillic_at_need = False  # see the class docstring
        self._cyrillic_met = False  # a parse has reported a Cyrillic word
        self._rules_cyrillic = True  # the rules made hold the Cyrillic words' lemmas
        self._completing: asyncio.Future[None] | None = None
        self._executor: Executor | None = None
        self._thread: Executor | None = None
        self._waiting_bytes = 0  # bodies given to the thread of a `thread_first` pool, not parsed yet
        self._thread_parsed = 0  # bodies it parsed; those after the first, and the seconds they took
        self._thread_bytes = 0
        self._thread_seconds = 0.0
        self._rules: asyncio.Future[StoryRules] | None = None

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _get_executor(self) -> Executor:
        if self._executor is None:
            if self.processes:
                from bot.sources.parseworker import _start_worker

                ctx = multiprocessing.get_context("spawn")
                self._executor = _Workers(
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
            from bot.sources.parseworker import _init_worker

            self._thread = ThreadPoolExecutor(
                1, thread_name_prefix="parser", initializer=_init_worker, initargs=(self.topics, self.watches, self.forms)
            )
        return self._thread

    def _choose(self, size: int = 0) -> Executor:
        """The workers, or the owner's thread while the pool is `thread_first` and the bodies waiting
        there (with this one of `size` bytes) cost less CPU than starting a worker."""
        if self.thread_first and self.processes and self._executor is None and self.thread_backlog_s(size) <= self.worker_start_s:
            return self._thread_executor()
        return self._get_executor()

    def thread_backlog_s(self, more: int = 0) -> float:
        """CPU seconds the owner's thread needs for the bodies waiting there and `more` bytes, at its speed so far."""
        rate = self._thread_seconds / self._thread_bytes if self._thread_bytes else THREAD_SECONDS_PER_BYTE
        return (self._waiting_bytes + more) * rate

    async def parse(
        self,
        kind: str,
        body: bytes,
        headers: dict[str, str],
        url: str,
        feed_name: str = "",
        known: Mapping[str, str] | None = None,
        seen: Set[str] = frozenset(),
    ) -> ParsedFeed:
        """Parse one body and match its items (those not stored unchanged in `known`), without blocking
        the event loop.

        A `thread_first` pool (a `once` poll of feeds read before: a few changed bodies, words met
        before) parses in a thread of its owner, and starts its worker processes only when the bodies
        waiting there would cost more CPU than starting a worker (`WORKER_START_S`): a hundred changed
        feeds whose items were mostly stored before are parsed sooner than a worker starts."""
        from bot.sources.parseworker import parse_and_match

        executor = self._choose(len(body))
        loop = asyncio.get_running_loop()
        args = (kind, body, headers, url, feed_name, known, seen)
        if executor is self._thread and self.processes:  # measured: it decides when the workers start
            self._waiting_bytes += len(body)
            try:
                parsed, seconds = await loop.run_in_executor(executor, _timed, parse_and_match, *args)
            finally:
                self._waiting_bytes -= len(body)
            self._thread_parsed += 1
            if self._thread_parsed > 1:
                self._thread_bytes += len(body)
                self._thread_seconds += seconds
        else:
            parsed = await loop.run_in_executor(executor, parse_and_match, *args)
        self._cyrillic_met = self._cyrillic_met or parsed.cyrillic
        return parsed

    async def story_rules(self) -> StoryRules:
        """The clustering rules for the pool's topics, the lemmas of their words taken in a worker
        (one object for the pool: completed in place when it gains the Cyrillic words)."""
        from bot import clustering

        if self._rules is None:
            loop = asyncio.get_running_loop()
            self._rules = loop.create_future()
            cyrillic = self._rules_cyrillic = self._cyrillic_met or not self.cyrillic_at_need
            try:
                keys = await loop.run_in_executor(self._choose(), clustering.topic_query_keys, self.topics, cyrillic)
            except BaseException as e:
                self._rules.set_exception(e)
                self._rules.exception()  # retrieved: the callers awaiting it see it
                self._rules = None
                raise
            self._rules.set_result(clustering.StoryRules(self.topics, keys))
        rules = await asyncio.shield(self._rules)
        if self._cyrillic_met and not self._rules_cyrillic:
            if self._completing is None:
                self._completing = asyncio.ensure_future(self._add_cyrillic(rules))
            await asyncio.shield(self._completing)
        return rules

    async def _add_cyrillic(self, rules: StoryRules) -> None:
        from bot import clustering

        try:
            loop = asyncio.get_running_loop()
            rules.use_keys(await loop.run_in_executor(self._choose(), clustering.topic_query_keys, self.topics, True))
            self._rules_cyrillic = True
        finally:
            self._completing = None

    def close(self, cancel_pending: bool = True) -> None:
        """Stop the workers (after the queued parses, unless `cancel_pending`)."""
        for executor in (self._executor, self._thread):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=cancel_pending)
        self._executor = self._thread = None


def _timed(parse: Callable[..., ParsedFeed], *args: object) -> tuple[ParsedFeed, float]:
    """A parse and the CPU seconds it took in this thread."""
    start = time.thread_time()
    parsed = parse(*args)
    return parsed, time.thread_time() - start
