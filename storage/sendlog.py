"""The send gate's state that must outlive the process: Telegram's flood hold and the group windows.

One row per fact, with the wall-clock time (Unix seconds) until which it holds: chat NULL is a flood
hold (no call before `until`); a chat is one message that counts against that group's per-minute
window until `until`. Rows past their time are pruned on each write.
"""

from __future__ import annotations

import sqlite_utils


def record_send_window(db: sqlite_utils.Database, chat: str | None, until: float, now: float) -> None:
    """Remember a flood hold (chat None) or a group message, until `until`; forget what ended by `now`."""
    with db.conn:
        db.conn.execute("DELETE FROM send_windows WHERE until <= ?", [now])
        db.conn.execute("INSERT INTO send_windows (chat, until) VALUES (?, ?)", [chat, until])


def load_send_windows(db: sqlite_utils.Database, now: float) -> tuple[float, dict[str, list[float]]]:
    """(when the flood hold ends, or 0; each group's messages still counting: when each stops), after `now`."""
    hold = 0.0
    groups: dict[str, list[float]] = {}
    rows = db.conn.execute("SELECT chat, until FROM send_windows WHERE until > ? ORDER BY until", [now])
    for chat, until in rows.fetchall():
        if chat is None:
            hold = max(hold, float(until))
        else:
            groups.setdefault(str(chat), []).append(float(until))
    return hold, groups
