"""A Telegram Bot API emulator on 127.0.0.1 for the tests and the benchmarks.

It speaks the HTTP protocol python-telegram-bot uses (POST /bot<token>/<method>, form fields, JSON
answers; multipart uploads for sendPhoto) and keeps what a test needs to check: every sendMessage and
sendPhoto (with the uploaded bytes), in order, and every request with the time it arrived. A photo sent
again by the file_id Telegram gave it is recorded with the bytes first uploaded. getUpdates holds for its timeout and honours offset.
editMessageText, like Telegram, edits only a message the bot sent to that chat and refuses an edit that
changes nothing. Faults can be scripted: 429 with
retry_after, 403, 400 with migrate_to_chat_id, 400 "can't parse entities", 500, and dropped
connections. Like Telegram, it refuses a message whose text (after HTML parsing) is longer than 4096
UTF-16 units: 400 "message is too long".

Run it alone with `python -m tests.botapi [--port N] [--latency S]`; GET /_stats answers with counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import json
import re
import threading
import time
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


class BotAPI:
    """The emulator: start() serves on a free port from its own thread."""

    def __init__(self, latency: float = 0.0, port: int = 0) -> None:
        self.state = BotAPIState()
        self.latency = latency
        self.port = port
        self._ids = itertools.count(1)
        self._files: dict[str, bytes] = {}  # file_id -> the photo uploaded under it
        self._update_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._new_update: asyncio.Event | None = None
        self._released: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    # -- control (from the test's thread) ------------------------------------------------------
    @property
    def base_url(self) -> str:
        """TELEGRAM_API_URL for the bot (the token is appended by python-telegram-bot)."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> BotAPI:
        """Serve; return self."""
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("bot api emulator did not start")
        return self

    def stop(self) -> None:
        """Answer held requests, close the server, stop the thread."""
        self.release()
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shutdown(self) -> None:
        self._closing = True
        assert self._new_update is not None and self._runner is not None
        self._new_update.set()
        await self._runner.cleanup()

    def reset(self) -> None:
        """Forget messages, updates and faults."""
        with self._lock:
            self.state = BotAPIState()
        if self._released is not None:
            self._loop.call_soon_threadsafe(self._released.clear)

    def fail_next(self, *faults: Fault) -> None:
        """Answer the next sendMessage calls with these faults, in order."""
        with self._lock:
            self.state.faults.extend(faults)

    def user_sends(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        thread_id: int | None = None,
        title: str | None = None,
    ) -> int:
        """Queue a message from a user (a /command gets its bot_command entity); return the update id."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "Tester", "username": f"user{user_id or chat_id}"}
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat |= {"first_name": "Tester"}
        else:
            chat |= {"title": title or f"Group {chat_id}", "is_forum": thread_id is not None}
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if thread_id is not None:
            message |= {"message_thread_id": thread_id, "is_topic_message": True}
        return self._push({"message": message})

    def press_button(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None, chat_type: str = "private"
    ) -> int:
        """Queue a callback query from an inline button under a message the bot sent."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "Tester"}
        message = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": chat_type}, "text": "…"}
        query = {"id": str(next(self._ids)), "from": user, "chat_instance": str(chat_id), "data": data, "message": message}
        return self._push({"callback_query": query})

    def _push(self, body: dict[str, Any]) -> int:
        with self._lock:
            update_id = next(self._update_ids)
            self.state.updates.append({"update_id": update_id, **body})
        if self._new_update is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return update_id

    def current(self, chat_id: int, message_id: int) -> Sent | None:
        """A message as the chat sees it now: as sent, or as last edited."""
        with self._lock:
            shown = [s for s in self.state.sent if s.chat_id == chat_id and s.message_id == message_id]
        return shown[-1] if shown else None

    def messages(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Sent]:
        """Messages sent so far (to one chat, or all)."""
        with self._lock:
            return [s for s in self.state.sent if s.method == method and (chat_id is None or s.chat_id == chat_id)]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> bool:
        """Poll `predicate()` until it is true or the timeout passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return bool(predicate())

    def release(self) -> None:
        """Let held sendMessage calls go on (they are answered 500, unrecorded)."""
        with self._lock:
            self.state.hold_after = None
        if self._released is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    # -- server (in the emulator's thread) -----------------------------------------------------
    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._new_update = asyncio.Event()
        self._released = asyncio.Event()
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/_stats", self._stats)
        runner = self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._started.set()
        self._loop.run_forever()

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            skip = int(request.query.get("skip", "0"))  # measure only messages after the first `skip`
            times = sorted(s.at for s in self.state.sent[skip:] if s.method == "sendMessage")
            chats = len({s.chat_id for s in self.state.sent})
            calls = dict(self.state.calls)
        return web.json_response(
            {"calls": calls, "sent": len(times) + skip, "chats": chats, "max_per_second": max_per_second(times)}
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _params(request)
        chat = params.get("chat_id")
        with self._lock:
            self.state.calls[method] += 1
            self.state.requests.append(Request(method, int(chat) if str(chat).lstrip("-").isdigit() else None, time.monotonic()))
        if self.latency:
            await asyncio.sleep(self.latency)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = await handler(request, params)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, request: web.Request, p: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_deleteWebhook(self, request: web.Request, p: dict[str, Any]) -> Any:
        return True

    async def _m_setMyCommands(self, request: web.Request, p: dict[str, Any]) -> Any:
        scope = p.get("scope") or {}
        with self._lock:
            if scope.get("type") == "chat":
                self.state.chat_commands[int(scope["chat_id"])] = list(p.get("commands") or [])
            else:
                self.state.commands = list(p.get("commands") or [])
        return True

    async def _m_getUpdates(self, request: web.Request, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        assert self._new_update is not None
        while True:
            with self._lock:
                if offset:
                    self.state.updates = [u for u in self.state.updates if u["update_id"] >= offset]
                ready = list(self.state.updates[: int(p.get("limit") or 100)])
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._closing:
                return ready
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)

    async def _m_getChatMember(self, request: web.Request, p: dict[str, Any]) -> Any:
        chat_id, user_id = int(p["chat_id"]), int(p["user_id"])
        with self._lock:
            status = "administrator" if user_id in self.state.admins.get(chat_id, set()) else "member"
        user = {"id": user_id, "is_bot": False, "first_name": "Tester"}
        extra = {"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
                 "can_manage_video_chats": True, "can_restrict_members": True, "can_promote_members": False,
                 "can_change_info": True, "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
                 "can_delete_stories": False}  # fmt: skip
        return {"status": status, "user": user, **(extra if status == "administrator" else {})}

    async def _m_answerCallbackQuery(self, request: web.Request, p: dict[str, Any]) -> Any:
        with self._lock:
            self.state.callback_answers.append(p)
        return True

    async def _m_editMessageText(self, request: web.Request, p: dict[str, Any]) -> Any:
        chat_id, message_id = int(p.get("chat_id") or 0), int(p.get("message_id") or 0)
        with self._lock:
            shown = [s for s in self.state.sent if s.chat_id == chat_id and s.message_id == message_id]
        if not shown:  # like Telegram: only a message the bot sent to that chat can be edited
            return _error(400, "Bad Request: message to edit not found")
        if shown[-1].text == str(p.get("text", "")) and shown[-1].reply_markup == p.get("reply_markup"):
            return _error(400, "Bad Request: message is not modified: specified new message content and reply markup are"
                          " exactly the same as a current content and reply markup of the message")  # fmt: skip
        if _too_long(p):
            return _error(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._record("editMessageText", p, message_id=message_id)

    async def _m_sendMessage(self, request: web.Request, p: dict[str, Any]) -> Any:
        refusal = await self._refusal(request, p)
        if refusal is not None:
            return refusal
        if _too_long(p):
            return _error(400, "Bad Request: message is too long")
        return self._record("sendMessage", p, message_id=next(self._ids))

    async def _m_sendPhoto(self, request: web.Request, p: dict[str, Any]) -> Any:
        refusal = await self._refusal(request, p)
        if refusal is not None:
            return refusal
        photo = p.get("photo")
        if isinstance(photo, str):
            with self._lock:
                photo = self._files.get(photo)
            if photo is None:
                return _error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not isinstance(photo, bytes) or not photo.startswith(b"\x89PNG\r\n\x1a\n"):
            return _error(400, "Bad Request: IMAGE_PROCESS_FAILED")
        if _too_long({"text": p.get("caption", ""), "parse_mode": p.get("parse_mode")}, 1024):
            return _error(400, "Bad Request: message caption is too long")
        message_id = next(self._ids)
        answer = self._record("sendPhoto", {**p, "text": p.get("caption", "")}, message_id=message_id, photo=photo)
        file_id = f"photo-{message_id}"
        with self._lock:
            self._files[file_id] = photo
        size = {"file_id": file_id, "file_unique_id": file_id, "width": 1200, "height": 675, "file_size": len(photo)}
        return {**answer, "photo": [size], "caption": answer.pop("text")}

    async def _refusal(self, request: web.Request, p: dict[str, Any]) -> web.StreamResponse | None:
        """The scripted fault, block, migration or HTML refusal this send gets (None: it goes through)."""
        chat_id = int(p["chat_id"])
        with self._lock:
            fault = self.state.faults.popleft() if self.state.faults else None
            blocked = chat_id in self.state.blocked
            moved = self.state.migrated.get(chat_id)
            reject = self.state.reject_html and p.get("parse_mode") == "HTML"
            held = self.state.hold_after is not None and len(self.state.sent) >= self.state.hold_after
        if held:
            assert self._released is not None
            await self._released.wait()
            return _error(500, "Internal Server Error")
        if fault is not None:
            if fault.kind == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            if fault.kind == "429":
                with self._lock:
                    self.state.floods.append((time.monotonic(), fault.retry_after))
                return _error(429, f"Too Many Requests: retry after {fault.retry_after}", {"retry_after": fault.retry_after})
            if fault.kind == "403":
                return _error(403, "Forbidden: bot was blocked by the user")
            if fault.kind == "migrate":
                return _error(
                    400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": fault.new_chat_id}
                )
            if fault.kind == "badhtml":
                return _error(400, "Bad Request: can't parse entities: unsupported start tag")
            return _error(500, "Internal Server Error")
        if blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if moved is not None:
            return _error(400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": moved})
        if reject:
            return _error(400, "Bad Request: can't parse entities: unexpected end tag")
        return None

    def _record(self, method: str, p: dict[str, Any], message_id: int, photo: bytes | None = None) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        preview = p.get("link_preview_options") or {}
        sent = Sent(
            method=method,
            chat_id=chat_id,
            text=str(p.get("text", "")),
            parse_mode=p.get("parse_mode"),
            thread_id=int(p["message_thread_id"]) if p.get("message_thread_id") else None,
            reply_markup=p.get("reply_markup"),
            preview_disabled=bool(preview.get("is_disabled")) or p.get("disable_web_page_preview") in ("true", True),
            message_id=message_id,
            at=time.monotonic(),
            photo=photo,
        )
        with self._lock:
            self.state.sent.append(sent)
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        if chat_id < 0:
            chat["title"] = "Group"
        return {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": sent.text}


def _too_long(p: dict[str, Any], limit: int = 4096) -> bool:
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


async def _params(request: web.Request) -> dict[str, Any]:
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


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


def main() -> None:
    """Serve until killed; print the base URL first."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    args = parser.parse_args()
    api = BotAPI(latency=args.latency, port=args.port).start()
    print(api.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()
