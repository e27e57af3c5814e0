"""Edit feeds.yaml in place: round trip (comments, order, quoting kept), validated, locked, atomic.

Every change, from a Telegram admin command or the `feeds` CLI, goes through `edit_feeds_file`:
1. take an advisory lock (`.feeds.yaml.lock` beside the file), so two writers never lose a change;
2. read the file from disk (strict UTF-8, bounded, like every reader), so hand edits made meanwhile
   are kept, and refuse to touch a file that is already invalid (the error says file:line, and the
   admin fixes that first); an empty or missing file may be filled;
3. change the ruamel tree, then validate the new text exactly as a reload would;
4. write a temporary file in the same directory, fsync it, rename it over feeds.yaml, fsync the
   directory. A reader (the running bot's watcher) sees the old file or the new one, never half.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from bot.config import Config, parse_channel, parse_config
from bot.config_yaml import read_config_text
from bot.errors import CommandError, ConfigError
from bot.models import FeedConfig


def round_trip_yaml() -> YAML:
    """The YAML (de)serialiser for feeds.yaml: keeps comments, order and quotes; lists indented under keys."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


@dataclass
class FeedsDocument:
    """The feeds.yaml tree being edited (ruamel's commented containers, so comments stay put)."""

    data: CommentedMap

    def _list(self, key: str) -> CommentedSeq:
        node = self.data.get(key)
        if node is None:
            node = CommentedSeq()
            self.data[key] = node
        if not isinstance(node, CommentedSeq):
            raise CommandError(f"'{key}' in feeds.yaml is not a list")
        return node

    def add_feed(self, *, url: str | None = None, telegram: str | None = None, name: str = "", interval: str = "") -> None:
        """Append a feed entry: `url` or `telegram` (a channel username), then optional name and interval."""
        entry = CommentedMap()
        if name:
            entry["name"] = name
        if telegram:
            entry["telegram"] = telegram
        else:
            entry["url"] = url
        if interval:
            entry["interval"] = interval
        self._list("feeds").append(entry)

    def remove_feed(self, index: int) -> None:
        """Remove the feed entry at `index` (the order of Config.feeds)."""
        self._remove("feeds", index)

    def _remove(self, key: str, index: int) -> None:
        seq = self._list(key)
        _remove_entry(seq, index)
        if not seq:
            # ruamel cannot write comments above an empty list ("feeds: []"): the last entry takes them along
            seq.ca.comment = None
            self.data.ca.items.pop(key, None)

    def set_enabled(self, index: int, enabled: bool) -> None:
        """Pause (`enabled: false`) or resume (the key removed: enabled is the default) a feed."""
        entry = self._list("feeds")[index]
        if enabled:
            entry.pop("enabled", None)
        else:
            entry["enabled"] = False

    def add_topic(self, topic_id: str, query: str, name: str = "") -> None:
        """Append a topic."""
        entry = CommentedMap()
        entry["id"] = topic_id
        if name:
            entry["name"] = name
        entry["query"] = query
        self._list("topics").append(entry)

    def remove_topic(self, topic_id: str) -> None:
        """Remove the topic with this id."""
        topics = self._list("topics")
        for i, t in enumerate(topics):
            if isinstance(t, Mapping) and t.get("id") == topic_id:
                self._remove("topics", i)
                return
        raise CommandError(f"there is no topic {topic_id!r}")


def _remove_entry(seq: CommentedSeq, index: int) -> None:
    """Delete seq[index] and its own lines (end-of-line comments included); every full-line comment
    around it stays where it was. ruamel keeps the comment lines that follow an entry on that entry
    (on its last key), so they are handed to the entry before it, or to the list itself."""
    entry = seq[index]
    below = _trailing(entry)
    if below is not None and below.value.startswith("#") and below.column > getattr(entry.lc, "col", 0):
        rest = below.value.split("\n", 1)[1] if "\n" in below.value else ""  # drop the entry's end-of-line comment
        text = rest.lstrip(" ")
        below = CommentToken(text, CommentMark(len(rest) - len(text)), None) if text else None
    if below is not None:
        if index > 0:
            prev = seq[index - 1]
            above = _trailing(prev)
            _set_trailing(prev, _join(above, below))
        else:
            if seq.ca.comment is None:
                seq.ca.comment = [None, []]
            if seq.ca.comment[1] is None:
                seq.ca.comment[1] = []
            seq.ca.comment[1].append(below)
    del seq[index]


def _trailing(entry: Any) -> CommentToken | None:
    if not isinstance(entry, CommentedMap) or not entry:
        return None
    slot = entry.ca.items.get(list(entry.keys())[-1])
    return slot[2] if slot and len(slot) > 2 and isinstance(slot[2], CommentToken) else None


def _set_trailing(entry: Any, token: CommentToken) -> None:
    if isinstance(entry, CommentedMap) and entry:
        slot = entry.ca.items.setdefault(list(entry.keys())[-1], [None, None, None, None])
        slot[2] = token


def _join(above: CommentToken | None, below: CommentToken) -> CommentToken:
    if above is None:
        return below
    tail = below.value
    if tail.startswith("\n") and above.value.endswith("\n"):
        tail = tail[1:]  # the line end both tokens carry
    if tail.startswith("#"):  # its first line carries no indentation of its own (the token's column does)
        tail = " " * below.column + tail
    return CommentToken(above.value + tail, above.start_mark, None)


@dataclass
class Edit:
    """One edit in progress: the tree to change, the config it came from and, once saved, the new one."""

    doc: FeedsDocument
    before: Config
    after: Config | None = None


@contextlib.contextmanager
def edit_feeds_file(path: Path, web_url: str = "https://t.me") -> Iterator[Edit]:
    """Lock, read and validate feeds.yaml, yield it for changes, then validate and write it atomically.

    Raises ConfigError when the file on disk is invalid (nothing is written) and CommandError when the
    change would make it invalid (nothing is written either)."""
    with _locked(path):
        text = read_config_text(path, missing_ok=True)
        before = parse_config(text, path, web_url, allow_empty=True)  # the edit is about to fill it
        yaml = round_trip_yaml()
        data = yaml.load(text) if text.strip() else None
        edit = Edit(FeedsDocument(data if data is not None else CommentedMap()), before)
        yield edit
        out = io.StringIO()
        yaml.dump(edit.doc.data, out)
        try:
            edit.after = parse_config(out.getvalue(), path, web_url)
        except ConfigError as e:
            raise CommandError(f"the change would make {path.name} invalid: {e}") from e
        write_atomic(path, out.getvalue())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock_path = path.parent / f".{path.name}.lock"
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text`: temporary file in the same directory, fsync, rename, fsync the directory."""
    target = path.resolve()  # a symlinked feeds.yaml keeps its link; the file it points at is replaced
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def find_feed(feeds: Sequence[FeedConfig], ids: Mapping[str, int], ref: str, lister: str = "/feeds") -> int:
    """The index in `feeds` of the feed `ref` names: its number (as /feeds shows it), its URL, its
    @channel or its whole name (any case; no partial names, since removal is one of the uses).
    CommandError when none or several; it points to `lister`, the command that lists the feeds where
    the answer is read."""
    ref = ref.strip()
    if not ref:
        raise CommandError(f"name a feed: its number from {lister}, its name, its URL or its @channel")
    number = ref.removeprefix("#")
    if number.isdigit():
        for i, f in enumerate(feeds):
            if ids.get(f.source) == int(number):
                return i
        raise CommandError(f"there is no feed number {number}")
    channel = _channel_source(ref)
    exact = [i for i, f in enumerate(feeds) if ref in (f.source, f.url) or f.source == channel]
    if not exact:
        exact = [i for i, f in enumerate(feeds) if f.name.casefold() == ref.casefold()]
    if len(exact) == 1:
        return exact[0]
    if not exact:
        raise CommandError(f"no feed is called {ref!r}; {lister} lists them with their numbers")
    names = ", ".join(f"{feeds[i].name} (#{ids.get(feeds[i].source, '?')})" for i in exact[:5])
    raise CommandError(f"{ref!r} names several feeds: {names}; use the number")


def _channel_source(ref: str) -> str | None:
    try:
        return f"tg:{parse_channel(ref)}"
    except ValueError:
        return None
