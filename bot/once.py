"""`python -m bot once`: poll every enabled feed once and print each new hit exactly once.

Hits are printed through storage.reporting's claim: the statement that marks a hit reported also
picks it, in the write transaction that prints it, so two `once` started together (or a `once`
beside a running bot) never print the same hit twice, and a crash before the commit prints it again
next time rather than never.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import TYPE_CHECKING, TextIO

from bot.config import Config, Settings
from bot.models import Hit
from bot.pipeline import poll_feed
from bot.runtime import Runtime, open_runtime
from bot.wording import count
from storage.db import utcnow
from storage.feeds import list_feed_states
from storage.reporting import claim_hits
from storage.schedule_owner import schedule_held_elsewhere

if TYPE_CHECKING:  # imported where used: --json without a terminal never loads wcwidth
    from bot.delivery.table import HitTable
    from bot.terminal import ProgressLine


UNREAD_IN_THREAD = 4  # feeds never read that a `once` poll still parses in its own thread at first


class HitPrinter:
    """Prints hits (JSON lines, or a table for people), each claimed in the transaction that prints it."""

    def __init__(self, rt: Runtime, out: TextIO, table: HitTable | None, progress: ProgressLine | None = None) -> None:
        self.rt, self.out, self.table, self.progress = rt, out, table, progress  # no table: JSON lines
        self.count = 0

    def show(self, hits: list[Hit]) -> None:
        """Write and flush claimed hits (called inside the claiming transaction)."""
        if self.table is None:
            lines = [json.dumps(h.to_json_dict(), ensure_ascii=False) for h in hits]
        else:
            lines = ([self.table.header()] if self.count == 0 else []) + self.table.rows(hits, utcnow())
        if self.progress is not None:
            self.progress.clear()
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self.count += len(hits)

    async def report(self, hits: list[Hit]) -> None:
        """Print the hits of a poll that no other process has printed yet."""
        if hits:
            await self.rt.ctx.db.run(claim_hits, utcnow(), self.show, [h.hit_id for h in hits])

    async def report_pending(self) -> None:
        """Print hits stored by an earlier run that stopped before reporting them."""
        await self.rt.ctx.db.run(claim_hits, utcnow(), self.show)


async def run_once(
    settings: Settings,
    config: Config,
    *,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    progress: bool = False,
) -> int:
    """Poll every enabled feed once, print the new hits; return the number of feeds that failed."""
    async with open_runtime(settings, config) as rt:
        rt.ctx.owns_schedule = not schedule_held_elsewhere(settings.db_path)  # beside a running bot: not ours
        printer = HitPrinter(rt, out, None if as_json else _table(config, out), _progress_line(err) if progress else None)
        with _clearing_logs(printer.progress):
            await printer.report_pending()
            return await _poll_all(rt, printer, err, printer.progress)


def _table(config: Config, out: TextIO) -> HitTable:
    from bot.delivery.table import HitTable
    from bot.terminal import terminal_columns

    return HitTable.for_config(
        (t.id for t in config.topics), (f.name for f in config.feeds), config.timezone, terminal_columns(out)
    )


def _progress_line(err: TextIO) -> ProgressLine:
    from bot.terminal import ProgressLine, terminal_columns

    return ProgressLine(err, terminal_columns(err))


def _clearing_logs(line: ProgressLine | None) -> contextlib.AbstractContextManager[None]:
    if line is None:
        return contextlib.nullcontext()
    from bot.terminal import clearing_logs

    return clearing_logs(line)


async def _poll_all(rt: Runtime, printer: HitPrinter, err: TextIO, line: ProgressLine | None) -> int:
    feeds = [f for f in rt.config.feeds if f.enabled]
    failed = 0
    states = await rt.ctx.db.run(list_feed_states)  # one read for every feed, not one each
    # Feeds read before mostly answer 304 or bring a few items of known words: parse in this process
    # until a backlog says otherwise. A first read of many feeds starts the workers at once.
    unread = sum(1 for f in feeds if (s := states.get(rt.feed_ids[f.source])) is None or s.last_ok_at is None)
    rt.ctx.parser.thread_first = unread <= UNREAD_IN_THREAD
    tasks = [asyncio.ensure_future(poll_feed(rt.ctx, f, rt.feed_ids[f.source], states.get(rt.feed_ids[f.source]))) for f in feeds]
    for done, fut in enumerate(asyncio.as_completed(tasks), 1):
        outcome = await fut
        if outcome.error:
            failed += 1
            if line is not None:
                line.clear()
            err.write(f"{outcome.feed.name}: {outcome.error}\n")
            err.flush()
        await printer.report(outcome.hits)
        if line is not None:
            line.show(f"polled {done}/{count(len(feeds), 'feed')}, {count(printer.count, 'new hit')}, {failed} failed")
    if line is not None:
        line.done(f"polled {count(len(feeds), 'feed')}: {count(printer.count, 'new hit')}, {failed} failed")
    return failed
