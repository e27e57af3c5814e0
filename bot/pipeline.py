"""Poll one feed end to end: fetch -> parse -> keep the new items -> match -> store with hits.

This module orders the steps and decides nothing: the rules live in the stages (fetcher, parsers,
matcher, stories, schedule_rules, storage).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.errors import FetchError, HTTPStatusError, ParseError
from bot.models import FeedConfig, FetchResult, Hit, Item, ParsedFeed
from bot.schedule_rules import next_poll_at
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from storage.db import AsyncDB, utcnow
from storage.feeds import FeedState, get_feed_state, record_error, record_not_modified

# What reads and stores a changed body (storage.items, which brings the clustering rules; the channel
# pager; the word-form store) is imported at the first changed body: a poll of unchanged feeds never
# loads it.

log = logging.getLogger(__name__)


BODIES_IN_HAND = 64


@dataclass
class PollContext:
    """Everything a poll needs, built once by the app."""

    db: AsyncDB
    fetcher: Fetcher
    parser: ParserPool
    max_backoff_s: int = 6 * 3600
    max_catch_up_pages: int = 5
    page_pause_s: float = 1.0
    clock: Callable[[], datetime] = utcnow
    max_age_s: int | None = None  # on a feed's first successful poll, items older than this are stored, not sent
    # This process schedules the feeds: its failures count towards the back-off and it stores the next
    # poll. False for `once` beside a running bot, whose schedule it must not push (storage.schedule_owner).
    owns_schedule: bool = True
    # Polls between the start of their fetch and the end of their store: a poll of many feeds holds at
    # most this many bodies in memory however far parsing falls behind fetching.
    in_hand: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(BODIES_IN_HAND))


@dataclass
class PollOutcome:
    """What one poll did."""

    feed: FeedConfig
    status: str  # "new" | "not_modified" | "unchanged" | "error"
    next_poll_at: datetime
    new_items: int = 0
    hits: list[Hit] = field(default_factory=list)
    error: str | None = None
    error_count: int = 0
    errors_before: int = 0
    failing_since: datetime | None = None
    parsed: bool = False
    moved_to: str | None = None  # the feed answered with a permanent redirect to this URL


async def poll_feed(ctx: PollContext, feed: FeedConfig, feed_id: int, state: FeedState | None = None) -> PollOutcome:
    """Poll one feed once; every failure is recorded in the feed's health, never raised. A caller
    polling many feeds at once may pass the feed's `state` it read for all of them (list_feed_states).

    What the poll writes goes through the database thread's group commit (AsyncDB.write): polls
    finishing together share one transaction."""
    if state is None:
        state = await ctx.db.run(get_feed_state, feed_id)
    async with ctx.in_hand:
        return await _poll(ctx, feed, feed_id, state)


async def _poll(ctx: PollContext, feed: FeedConfig, feed_id: int, state: FeedState) -> PollOutcome:
    try:
        res = await ctx.fetcher.fetch(state.url, state.etag, state.last_modified)
    except FetchError as e:
        retry_after = e.retry_after if isinstance(e, HTTPStatusError) else None
        status = e.status if isinstance(e, HTTPStatusError) else None
        return await _record_failure(ctx, feed, feed_id, state.error_count, str(e), status, retry_after)
    now = ctx.clock()
    body_hash = hashlib.sha1(res.body).hexdigest() if not res.not_modified else state.body_hash
    if res.not_modified or body_hash == state.body_hash:
        nxt = next_poll_at(now, feed.interval_s, 0)
        stored_nxt = nxt if ctx.owns_schedule else None
        await ctx.db.write(record_not_modified, feed_id, res.status, now, stored_nxt, res.etag, res.last_modified)
        return PollOutcome(feed, "not_modified" if res.not_modified else "unchanged", nxt, errors_before=state.error_count)
    from storage.items import known_items

    # A changed feed mostly repeats items stored before: the workers skip matching those (a channel
    # page is read whole, its posts decide how far back to page).
    known = await ctx.db.run(known_items, feed_id) if feed.kind == "rss" and state.last_ok_at is not None else None
    seen = frozenset(state.item_digests.split()) if known is not None and state.item_digests else frozenset()
    try:
        parsed = await _parse(ctx, feed, res, known, seen)
    except ParseError as e:
        return await _record_failure(ctx, feed, feed_id, state.error_count, str(e), res.status, None)
    if feed.kind == "telegram":
        parsed = await _catch_up(ctx, feed, feed_id, parsed)
    outcome = await _store(ctx, feed, feed_id, res, parsed, body_hash, first_read=state.last_ok_at is None)
    outcome.errors_before = state.error_count
    return outcome


async def _parse(
    ctx: PollContext, feed: FeedConfig, res: FetchResult, known: dict[str, str] | None = None, seen: frozenset[str] = frozenset()
) -> ParsedFeed:
    """Parse and match a body in the pool; keep the word forms the pool analysed from its dictionaries."""
    parsed = await ctx.parser.parse(feed.kind, res.body, res.headers, res.url, feed.name, known, seen)
    if parsed.word_forms:
        from storage.wordforms import save_word_forms

        await ctx.db.write(save_word_forms, *parsed.word_forms)
    return parsed


async def _catch_up(ctx: PollContext, feed: FeedConfig, feed_id: int, page: ParsedFeed) -> ParsedFeed:
    """Page back through a channel (?before=<id>) until the posts reach what is stored, or the bound."""
    from bot.sources.tchannel import older_page_cursor
    from storage.items import newest_post_number

    newest = await ctx.db.run(newest_post_number, feed_id)
    items, pages, matches, terms = list(page.items), 0, dict(page.matches), dict(page.terms)
    cursor = older_page_cursor(page, newest)
    base = feed.url.split("?", 1)[0]
    while cursor and pages < ctx.max_catch_up_pages:
        await asyncio.sleep(ctx.page_pause_s)
        try:
            res = await ctx.fetcher.fetch(f"{base}?before={cursor}")
            older = await _parse(ctx, feed, res)
        except (FetchError, ParseError) as e:
            return ParsedFeed(
                items, page.title, f"tchannel: catch-up stopped at before={cursor}: {e}", matches=matches, terms=terms
            )
        items.extend(older.items)
        matches.update(older.matches)
        terms.update(older.terms)
        pages += 1
        cursor = older_page_cursor(older, newest)
    note = None
    if cursor:
        note = f"tchannel: gap: posts before {cursor} not read (stopped after {pages} older pages)"
        log.warning("channel catch-up bound reached feed=%s url=%s: %s", feed.name, feed.url, note)
    return ParsedFeed(items, page.title, note or page.error, matches=matches, terms=terms)


async def _store(
    ctx: PollContext,
    feed: FeedConfig,
    feed_id: int,
    res: FetchResult,
    parsed: ParsedFeed,
    body_hash: str | None,
    *,
    first_read: bool,
) -> PollOutcome:
    from storage.items import PollUpdate, store_parsed

    now = ctx.clock()
    nxt = next_poll_at(now, feed.interval_s, 0)
    stored_nxt = nxt if ctx.owns_schedule else None
    digests = " ".join(parsed.element_digests) if parsed.element_digests is not None else None
    update = PollUpdate(res.status, res.etag, res.last_modified, body_hash, stored_nxt, res.permanent_url, parsed.error, digests)
    # max_age is for a feed's backlog: what the first successful read of a feed finds was there before
    # anyone watched. An item first seen on a later read is news, whatever date the feed gives it.
    send_since = now - timedelta(seconds=ctx.max_age_s) if ctx.max_age_s and first_read else None
    rules = await ctx.parser.story_rules()
    new_items, hits = await ctx.db.write(
        store_parsed,
        feed_id,
        [_not_after(it, now) for it in parsed.items],
        parsed.matches,
        parsed.terms,
        update,
        now,
        rules,
        send_since,
    )
    if res.permanent_url:
        log.info("feed moved permanently feed=%s from=%s to=%s", feed.name, feed.url, res.permanent_url)
    if parsed.error:
        log.warning("feed read with errors feed=%s url=%s: %s", feed.name, res.url, parsed.error)
    return PollOutcome(feed, "new", nxt, new_items=new_items, hits=hits, parsed=True, moved_to=res.permanent_url)


def _not_after(item: Item, now: datetime) -> Item:
    """An item dated after it was first seen (a date with no time read as the end of the day, a wrong
    time zone) is taken as published when it was seen."""
    return replace(item, published_at=now) if item.published_at is not None and item.published_at > now else item


async def _record_failure(
    ctx: PollContext,
    feed: FeedConfig,
    feed_id: int,
    errors_before: int,
    error: str,
    status: int | None,
    retry_after: float | None,
) -> PollOutcome:
    now = ctx.clock()
    nxt = next_poll_at(now, feed.interval_s, errors_before + 1, retry_after, ctx.max_backoff_s)
    count, since = await ctx.db.write(record_error, feed_id, error, status, now, nxt if ctx.owns_schedule else None)
    log.warning(
        "poll failed feed=%s url=%s errors=%d next=%s: %s", feed.name, feed.url, count, nxt.isoformat(timespec="seconds"), error
    )
    return PollOutcome(feed, "error", nxt, error=error, error_count=count, errors_before=errors_before, failing_since=since)
