"""Settings from the environment and the feeds.yaml schema.

feeds.yaml is the one source of truth for feeds and topics. It is read as strict UTF-8 and checked
for bounds (bot/config_yaml.py), parsed with ruamel.yaml (which keeps line numbers and, on save,
comments and order) and validated with pydantic (value rules in bot/config_values.py); every error
names the file, the line and the field: ``feeds.yaml:14: feeds[3].interval: '5 mins' is not a duration``.
A file must name something to watch; a topic id, a feed URL or a channel may appear only once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.config_text import read_config_text
from bot.config_values import check_timezone as check_timezone
from bot.config_values import parse_channel as parse_channel
from bot.config_values import parse_duration as parse_duration
from bot.errors import ConfigError
from bot.models import FeedConfig, Topic


@dataclass(frozen=True)
class Config:
    """The validated feeds.yaml, in the shapes the stages use."""

    path: Path
    interval_s: int
    timezone: str
    digest_times: tuple[str, ...]
    stale_days: int
    topics: tuple[Topic, ...]
    feeds: tuple[FeedConfig, ...]
    alert_after: int = 3
    pause_after_s: int = 7 * 86400
    max_age_s: int | None = 2 * 86400
    digest: str = ""  # sha256 of the text it was read from: a reload skips a file that did not change


def load_config(path: Path, web_url: str = "https://t.me", cache: Path | None = None, *, apart: bool = False) -> Config:
    """Read and validate feeds.yaml; raise ConfigError naming file:line on any problem. With a `cache`
    file, a text validated before by this version of the rules is not validated again (see config_cache);
    with `apart` too, a text the cache does not hold is validated by a child process that keeps it
    there, so that this process never loads the validator (pydantic and ruamel.yaml: about 11 MB)."""
    text = read_config_text(path)
    if cache is None:
        return parse_config(text, path, web_url)
    from bot.config_cache import cached_config, keep_config, validate_apart

    found = cached_config(cache, text, path, web_url)
    if found is None and apart and validate_apart(path, web_url, cache):
        found = cached_config(cache, text, path, web_url)  # None if the file changed meanwhile
    if found is not None:
        return found
    config = parse_config(text, path, web_url)
    keep_config(cache, text, path, web_url, config)
    return config


def parse_config(text: str, path: Path, web_url: str = "https://t.me", *, allow_empty: bool = False) -> Config:
    """Validate feeds.yaml text (see load_config). An empty file (nothing to watch) is an error unless
    `allow_empty` (a file an edit is about to fill).

    A valid file is read with the fast safe loader (libyaml when ruamel.yaml.clib is installed); only a
    file with an error is read again with the round-trip loader, whose node positions name the line."""
    from bot.config_schema import parse_text  # pydantic and ruamel.yaml load here, when a file is validated

    return parse_text(text, path, web_url, allow_empty=allow_empty)


def text_digest(text: str) -> str:
    """The digest a Config records of its source text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Settings:
    """Process settings, read once from the environment (each field: env name, default, help)."""

    config_path: Path = field(default=Path("feeds.yaml"), metadata={"env": "NEWSWATCH_CONFIG", "help": "feeds.yaml to read"})
    db_path: Path = field(default=Path("newswatch.db"), metadata={"env": "NEWSWATCH_DB", "help": "SQLite database file"})
    bot_token: str | None = field(
        default=None,
        metadata={"env": "TELEGRAM_BOT_TOKEN", "help": "Bot API token from @BotFather; unset = print alerts to the console"},
    )
    api_url: str = field(
        default="https://api.telegram.org/bot",
        metadata={"env": "TELEGRAM_API_URL", "help": "Bot API base URL (python-telegram-bot base_url)"},
    )
    web_url: str = field(
        default="https://t.me",
        metadata={"env": "TELEGRAM_WEB_URL", "help": "where public channel previews (/s/<channel>) are read"},
    )
    admin_ids: tuple[int, ...] = field(
        default=(), metadata={"env": "ADMIN_IDS", "help": "comma-separated Telegram user ids of the admins"}
    )
    allow_private_urls: bool = field(
        default=False,
        metadata={
            "env": "NEWSWATCH_ALLOW_PRIVATE_URLS",
            "help": "allow feeds on loopback/private addresses (tests, local feeds)",
        },
    )
    concurrency: int = field(default=50, metadata={"env": "NEWSWATCH_CONCURRENCY", "help": "feeds fetched at once"})
    per_host: int = field(default=4, metadata={"env": "NEWSWATCH_PER_HOST", "help": "requests at once to one host"})
    timeout_s: float = field(default=20.0, metadata={"env": "NEWSWATCH_TIMEOUT", "help": "connect and read timeout, seconds"})
    max_bytes: int = field(default=10_000_000, metadata={"env": "NEWSWATCH_MAX_BYTES", "help": "largest feed body accepted"})
    parse_workers: int = field(
        default=0, metadata={"env": "NEWSWATCH_PARSE_WORKERS", "help": "processes parsing feeds; 0 = one per core but one"}
    )
    max_backoff_s: int = field(
        default=6 * 3600, metadata={"env": "NEWSWATCH_MAX_BACKOFF", "help": "longest wait after repeated feed errors, seconds"}
    )
    notice_delay_s: float = field(
        default=30.0,
        metadata={
            "env": "NEWSWATCH_NOTICE_DELAY",
            "help": "a feed health notice waits this long for others; they go as one message",
        },
    )
    summary_s: float = field(
        default=60.0,
        metadata={"env": "NEWSWATCH_SUMMARY_INTERVAL", "help": "`run` logs a summary of its polls this often, seconds"},
    )
    max_watches: int = field(
        default=20, metadata={"env": "NEWSWATCH_MAX_WATCHES", "help": "personal watches one chat may keep (/watch)"}
    )
    watch_max_chars: int = field(
        default=500, metadata={"env": "NEWSWATCH_WATCH_MAX_CHARS", "help": "longest query a /watch accepts, characters"}
    )
    watch_max_terms: int = field(
        default=20, metadata={"env": "NEWSWATCH_WATCH_MAX_TERMS", "help": "most words and phrases in one /watch query"}
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every field from its environment variable, then apply explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, f.metadata["env"], raw, f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _convert(name: str, env_name: str, raw: str, default: object) -> object:
    try:
        if name == "admin_ids":
            return tuple(int(x) for x in raw.replace(" ", "").split(",") if x)
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ConfigError(f"settings: {env_name}={raw!r} is not valid") from None
    return raw
