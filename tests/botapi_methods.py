"""The Bot API methods the emulator answers (tests/botapi.py): getUpdates, sendMessage, sendPhoto,
editMessageText and the rest, with Telegram's refusals and the scripted faults."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from typing import Any

from aiohttp import web

from tests.botapi_state import BOT_USER, BotAPIState, Sent, api_error, too_long


class BotMethods:
    """The `_m_<method>` handlers (BotAPI serves them): they read and record through `state`."""

    state: BotAPIState
    _lock: threading.Lock
    _ids: itertools.count[int]
    _files: dict[str, bytes]  # file_id -> the photo uploaded under it
    _new_update: asyncio.Event | None
    _released: asyncio.Event | None
    _closing: bool

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
            return api_error(400, "Bad Request: message to edit not found")
        if shown[-1].text == str(p.get("text", "")) and shown[-1].reply_markup == p.get("reply_markup"):
            return api_error(400, "Bad Request: message is not modified: specified new message content and reply markup are"
                          " exactly the same as a current content and reply markup of the message")  # fmt: skip
        if too_long(p):
            return api_error(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._record("editMessageText", p, message_id=message_id)

    async def _m_sendMessage(self, request: web.Request, p: dict[str, Any]) -> Any:
        refusal = await self._refusal(request, p)
        if refusal is not None:
            return refusal
        if too_long(p):
            return api_error(400, "Bad Request: message is too long")
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
                return api_error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not isinstance(photo, bytes) or not photo.startswith(b"\x89PNG\r\n\x1a\n"):
            return api_error(400, "Bad Request: IMAGE_PROCESS_FAILED")
        if too_long({"text": p.get("caption", ""), "parse_mode": p.get("parse_mode")}, 1024):
            return api_error(400, "Bad Request: message caption is too long")
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
            return api_error(500, "Internal Server Error")
        if fault is not None:
            if fault.kind == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            if fault.kind == "429":
                with self._lock:
                    self.state.floods.append((time.monotonic(), fault.retry_after))
                return api_error(429, f"Too Many Requests: retry after {fault.retry_after}", {"retry_after": fault.retry_after})
            if fault.kind == "403":
                return api_error(403, "Forbidden: bot was blocked by the user")
            if fault.kind == "migrate":
                return api_error(
                    400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": fault.new_chat_id}
                )
            if fault.kind == "badhtml":
                return api_error(400, "Bad Request: can't parse entities: unsupported start tag")
            return api_error(500, "Internal Server Error")
        if blocked:
            return api_error(403, "Forbidden: bot was blocked by the user")
        if moved is not None:
            return api_error(400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": moved})
        if reject:
            return api_error(400, "Bad Request: can't parse entities: unexpected end tag")
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
