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
This module serves and drives it; the methods it answers are in tests/botapi_methods.py, what it keeps
(and the rate helpers the tests use) in tests/botapi_state.py.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import threading
import time
from typing import Any

from aiohttp import web

from tests.botapi_methods import BotMethods
from tests.botapi_state import BotAPIState, Fault, Request, Sent, api_error, max_per_second, most_in_window, request_params

__all__ = ["BotAPI", "BotAPIState", "Fault", "Request", "Sent", "max_per_second", "most_in_window"]


class BotAPI(BotMethods):
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
        params = await request_params(request)
        chat = params.get("chat_id")
        with self._lock:
            self.state.calls[method] += 1
            self.state.requests.append(Request(method, int(chat) if str(chat).lstrip("-").isdigit() else None, time.monotonic()))
        if self.latency:
            await asyncio.sleep(self.latency)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return api_error(404, "Not Found: method not found")
        result = await handler(request, params)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"ok": True, "result": result})


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
