"""`python -m bot trend TOPIC --days N --out FILE`: the chart /trend sends, written to a file."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Config, Settings
from bot.delivery.render import html_to_plain
from bot.errors import CommandError
from bot.subscribers import Catalog
from bot.trends.series import PERIODS
from bot.trends.service import TrendService
from storage.db import AsyncDB, open_database


async def trend_command(settings: Settings, config: Config, topic: str, days: int, out: Path, zone: str | None = None) -> str:
    """Draw the topic's chart over `days` days into `out`; return the caption as plain text."""
    if days not in PERIODS.values():
        raise CommandError(f"trend: --days must be one of {', '.join(str(d) for d in PERIODS.values())}, not {days}")
    catalog = Catalog(config.topics, config.timezone, config.digest_times)
    db = AsyncDB(open_database(settings.db_path))
    try:
        svc = TrendService(db, catalog)
        found = svc.resolve_topic([topic])
        if found is None:
            raise CommandError(f"trend: no topic {topic!r} in {config.path} (topics: {', '.join(catalog.names) or 'none'})")
        topic_id, name = found
        answer = await svc.answer(topic_id, name, days, ZoneInfo(zone or config.timezone))
    finally:
        db.close()
    _write(out, answer.png)
    return f"{html_to_plain(answer.caption)}\nchart written to {out}\n"


def _write(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: a reader never sees half a PNG."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CommandError(f"trend: cannot write {path}: {e.strerror}") from e
