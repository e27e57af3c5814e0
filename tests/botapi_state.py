"""What the Bot API emulator (tests/botapi.py) keeps, and the helpers its answers and the tests share:
the messages sent, the requests seen, the scripted faults; Telegram's length limit; sliding-window
rates; request parameters and error answers as python-telegram-bot reads them."""

from __future__ import annotations

import html
import json
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Newswatch", "username": "newswatch_test_bot", "can_join_groups": True}
JSON_FIELDS = {"reply_markup", "link_preview_options", "commands", "allowed_updates", "reply_parameters", "entities", "scope"}


@dataclass
class Sent:
    """One message the bot sent (or edited)."""

    method: str
    chat_id: int
    text: str
    parse_mode: str | None
    thread_id: int | None
    reply_markup: dict[str, Any] | None
    preview_disabled: bool
    message_id: int
    at: float
    photo: bytes | None = None  # sendPhoto: the uploaded picture (the one first uploaded, when sent by file_id)


@dataclass
class Request:
    """One request that reached the emulator, when it arrived (time.monotonic)."""

    method: str
    chat_id: int | None
    at: float


@dataclass
class Fault:
    """A scripted answer for the next sendMessage calls."""

    kind: str  # "429" | "403" | "500" | "drop" | "migrate" | "badhtml"
    retry_after: int = 1
    new_chat_id: int = 0


@dataclass
class BotAPIState:
    """Everything the emulator knows; mutate it through BotAPI's methods."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    faults: deque[Fault] = field(default_factory=deque)
    blocked: set[int] = field(default_factory=set)
    migrated: dict[int, int] = field(default_factory=dict)
    admins: dict[int, set[int]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    chat_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # setMyCommands with a chat scope
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    floods: list[tuple[float, int]] = field(default_factory=list)  # (when a 429 was answered, its retry_after)
    reject_html: bool = False
    hold_after: int | None = None  # once this many messages are recorded, hold every later sendMessage


def too_long(p: dict[str, Any], limit: int = 4096) -> bool:
    """Telegram's limit: 4096 UTF-16 units of text (1024 for a caption), counted after the HTML is parsed."""
    text = str(p.get("text", ""))
    if p.get("parse_mode") == "HTML":
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return len(text.encode("utf-16-le")) // 2 > limit


def most_in_window(times: list[float], window: float) -> int:
    """The most events in any sliding window of `window` seconds (times sorted)."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def max_per_second(times: list[float]) -> int:
    """The most events in any sliding one-second window (times sorted)."""
    return most_in_window(times, 1.0)


async def request_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data: dict[str, Any] = await request.json()
        return data
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):  # an upload (sendPhoto): its bytes
            out[key] = value.file.read()
            continue
        text = value if isinstance(value, str) else ""
        out[key] = json.loads(text) if key in JSON_FIELDS and text else text
    return out


def api_error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
