"""`python -m bot once`: poll every enabled feed once and print each new hit exactly once.

Hits are printed through storage.reporting's claim: the statement that marks a hit reported also
picks it, in the write transaction that prints it, so two `once` started together (or a `once`
beside a running bot) never print the same hit twice, and a crash before the commit prints it again
next time rather than never.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from bot.config import Config, Settings
from bot.delivery.render import render_console_hit, render_table
from bot.models import Hit
from bot.pipeline import poll_feed
from bot.runtime import Runtime, open_runtime
from storage.db import utcnow
from storage.reporting import claim_hits
from storage.schedule_owner import schedule_held_elsewhere


class HitPrinter:
    """Prints hits (JSON lines or readable blocks), each claimed in the transaction that prints it."""

    def __init__(self, rt: Runtime, out: TextIO, as_json: bool, table: bool = False) -> None:
        self.rt, self.out, self.as_json, self.table = rt, out, as_json, table
        self.topic_names = {t.id: t.name for t in rt.config.topics}
        self.count = 0

    def show(self, hits: list[Hit]) -> None:
        """Write and flush claimed hits (called inside the claiming transaction)."""
        if self.as_json:
            text = "\n".join(json.dumps(h.to_json_dict(), ensure_ascii=False) for h in hits)
        elif self.table:
            text = render_table(hits)
        else:
            text = "\n".join(render_console_hit(h, self.topic_names.get(h.topic)) for h in hits)
        self.out.write(text + "\n")
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
        printer = HitPrinter(rt, out, as_json, table=not as_json)
        await printer.report_pending()
        feeds = [f for f in config.feeds if f.enabled]
        failed = 0
        tasks = [asyncio.ensure_future(poll_feed(rt.ctx, f, rt.feed_ids[f.source])) for f in feeds]
        for done, fut in enumerate(asyncio.as_completed(tasks), 1):
            outcome = await fut
            if outcome.error:
                failed += 1
                err.write(f"{outcome.feed.name}: {outcome.error}\n")
            await printer.report(outcome.hits)
            if progress:
                err.write(f"\rpolled {done}/{len(feeds)} feeds, {printer.count} new hits, {failed} failed ")
                err.flush()
        if progress:
            err.write("\n")
        return failed
