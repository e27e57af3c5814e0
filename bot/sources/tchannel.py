"""Public Telegram channel preview pages (t.me/s/<channel>) -> items (pure).

Posts are `div.tgme_widget_message[data-post]`; the text is `.tgme_widget_message_text`, the date
`a.tgme_widget_message_date time[datetime]`, the next older page `a.tme_messages_more[data-before]`.
Service messages (channel created, pinned) are skipped. A channel without a public preview redirects
away from /s/ to its contact page; an unknown channel shows a contact page with no channel info.
Anything else without posts is reported as an unrecognised layout, never as a silent zero.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.errors import ParseError
from bot.models import Item, ParsedFeed

TITLE_MAX = 120
_MEDIA = (
    ("poll", ".tgme_widget_message_poll"),
    ("video", ".tgme_widget_message_video_player, .tgme_widget_message_roundvideo_player"),
    ("photo", ".tgme_widget_message_photo_wrap"),
    ("document", ".tgme_widget_message_document_wrap"),
    ("voice", ".tgme_widget_message_voice_player"),
    ("sticker", ".tgme_widget_message_sticker_wrap"),
    ("location", ".tgme_widget_message_location_wrap"),
    ("link_preview", ".tgme_widget_message_link_preview"),
)
_VIEWS = re.compile(r"^\s*([\d.,]+)\s*([KMB]?)\s*$", re.I)


def parse_views(text: str) -> int | None:
    """'312K' -> 312000, '4.19K' -> 4190, '1.2M' -> 1200000, '950' -> 950."""
    m = _VIEWS.match(text or "")
    if not m:
        return None
    number = float(m.group(1).replace(",", ""))
    return round(number * {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}[m.group(2).upper()])


def channel_of(url: str) -> str:
    """The channel name in a t.me URL (/s/<name> or /<name>)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if parts and parts[0] == "s":
        parts = parts[1:]
    return parts[0] if parts else ""


def _text_of(node: LexborNode | None) -> str:
    if node is None:
        return ""
    html = node.html or ""
    html = re.sub(r"<br\s*/?>", "\n", html, flags=re.I)
    text = LexborHTMLParser(html).text(separator="") or ""
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(lines).strip()


def _title(text: str, media: str | None, channel: str) -> str:
    first = next((ln for ln in text.split("\n") if ln.strip()), "")
    if not first:
        return f"[{media or 'post'}] @{channel}"
    if len(first) <= TITLE_MAX:
        return first
    return first[:TITLE_MAX].rsplit(" ", 1)[0] + "…"


def _post_to_item(msg: LexborNode, channel: str) -> Item | None:
    post = msg.attributes.get("data-post") or ""
    if "service_message" in (msg.attributes.get("class") or "") or "/" not in post:
        return None
    text_node = next((n for n in msg.css(".tgme_widget_message_text") if "reply" not in (n.attributes.get("class") or "")), None)
    text = _text_of(text_node)
    date_link = msg.css_first("a.tgme_widget_message_date")
    time_node = msg.css_first("a.tgme_widget_message_date time[datetime]")
    published = None
    if time_node is not None and time_node.attributes.get("datetime"):
        try:
            published = datetime.fromisoformat(str(time_node.attributes["datetime"]))
        except ValueError:
            published = None
    media = next((kind for kind, sel in _MEDIA if msg.css_first(sel) is not None), None)
    extra: dict[str, object] = {"post": post}
    if media:
        extra["media"] = media
    if text_node is not None:
        links = [str(a.attributes.get("href")) for a in text_node.css("a[href]") if a.attributes.get("href")]
        if links:
            extra["links"] = links
    fwd = msg.css_first(".tgme_widget_message_forwarded_from_name")
    if fwd is not None:
        extra["forwarded_from"] = fwd.text(strip=True)
        if fwd.attributes.get("href"):
            extra["forwarded_from_url"] = fwd.attributes["href"]
    reply = msg.css_first("a.tgme_widget_message_reply")
    if reply is not None and reply.attributes.get("href"):
        extra["reply_to"] = reply.attributes["href"]
    views = msg.css_first(".tgme_widget_message_views")
    if views is not None and (n := parse_views(views.text(strip=True))) is not None:
        extra["views"] = n
    meta = msg.css_first(".tgme_widget_message_meta")
    if meta is not None and "edited" in meta.text():
        extra["edited"] = True
    url = (
        str(date_link.attributes.get("href"))
        if date_link is not None and date_link.attributes.get("href")
        else f"https://t.me/{post}"
    )
    return Item(key=post, url=url, title=_title(text, media, channel), text=text, published_at=published, extra=extra)


def parse_channel_page(body: bytes, url: str) -> ParsedFeed:
    """Parse one preview page; raise ParseError naming why when it holds no channel."""
    tree = LexborHTMLParser(body.decode("utf-8", errors="replace"))
    channel = channel_of(url)
    history = tree.css_first(".tgme_channel_history")
    messages = tree.css("div.tgme_widget_message[data-post]")
    if history is None and not messages:
        raise ParseError(_why_no_posts(tree, url, channel))
    items = [it for msg in messages if (it := _post_to_item(msg, channel)) is not None]
    more = tree.css_first("a.tme_messages_more[data-before]")
    cursor = str(more.attributes.get("data-before")) if more is not None and more.attributes.get("data-before") else None
    header = tree.css_first(".tgme_channel_info_header_title") or tree.css_first(".tgme_header_title")
    return ParsedFeed(items, header.text(strip=True) if header is not None else None, older_cursor=cursor)


def _why_no_posts(tree: LexborHTMLParser, url: str, channel: str) -> str:
    is_contact = tree.css_first(".tgme_page") is not None or tree.css_first(".tgme_action_button_new") is not None
    if is_contact:
        if tree.css_first(".tgme_page_extra") is not None or tree.css_first(".tgme_page_title") is not None:
            return f"tchannel: @{channel} has no public preview (private or restricted channel)"
        return f"tchannel: no such channel @{channel}"
    return f"tchannel: t.me layout not recognised at {url} (no posts and no channel history found)"


def post_number(key: str) -> int | None:
    """'channel/123' -> 123."""
    tail = key.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def older_page_cursor(page: ParsedFeed, newest_stored: int | None) -> str | None:
    """The `before` cursor to fetch next, or None when the page reaches what is stored (or nothing is)."""
    if newest_stored is None or not page.items or page.older_cursor is None:
        return None
    numbers = [n for it in page.items if (n := post_number(it.key)) is not None]
    if not numbers or min(numbers) <= newest_stored + 1:
        return None
    return page.older_cursor
