"""Settings from the environment and the feeds.yaml schema.

feeds.yaml is the one source of truth for feeds and topics. It is read with ruamel.yaml (which keeps
line numbers and, on save, comments and order) and validated with pydantic; every error names the
file, the line and the field: ``feeds.yaml:14: feeds[3].interval: '5 mins' is not a duration``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.errors import ConfigError, QueryError
from bot.matching.query import parse_query
from bot.models import FeedConfig, Topic

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$")
_TME = re.compile(r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?([^/?#]+)/?$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_duration(value: object) -> int:
    """'90s', '5m', '1h', '2d' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 90s, 5m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration like 90s, 5m, 1h")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 1:
        raise ValueError(f"{value!r} is shorter than one second")
    return int(seconds)


def parse_channel(value: str) -> str:
    """'name', '@name', 't.me/name', 'https://t.me/s/name' -> 'name' (Telegram's public username rules)."""
    raw = value.strip()
    m = _TME.match(raw)
    name = m.group(1) if m else raw.removeprefix("@")
    if not _CHANNEL.match(name) or "__" in name:
        raise ValueError(
            f"{value!r} is not a public channel username "
            "(5 to 32 characters: letters, digits and underscores, starting with a letter)"
        )
    return name


class SettingsSection(BaseModel):
    """The `settings:` block of feeds.yaml."""

    model_config = ConfigDict(extra="forbid")
    interval: int = Field(default=600, description="default poll interval")
    timezone: str = "UTC"
    digest_times: list[str] = Field(default_factory=lambda: ["08:00", "18:00"])
    stale_days: int = Field(default=7, ge=1, description="flag a feed with no new item for this many days")
    alert_after: int = Field(default=3, ge=1, description="tell the admins after this many failures in a row")
    pause_after: int = Field(default=7 * 86400, description="pause a feed failing without a break for this long")
    max_age: int | None = Field(
        default=2 * 86400, description="an item published longer ago when first seen is kept but not sent; off = send all"
    )

    @field_validator("max_age", mode="before")
    @classmethod
    def _max_age(cls, v: object) -> int | None:
        return None if v is None or v is False or str(v).strip().lower() in ("off", "0") else parse_duration(v)

    @field_validator("pause_after", mode="before")
    @classmethod
    def _pause_after(cls, v: object) -> int:
        return parse_duration(v)

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: object) -> int:
        return parse_duration(v)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        check_timezone(v)
        return v

    @field_validator("digest_times")
    @classmethod
    def _times(cls, v: list[str]) -> list[str]:
        for t in v:
            if not _TIME.match(str(t)):
                raise ValueError(f"{t!r} is not a time of day like 08:00")
        return v


class TopicSection(BaseModel):
    """One entry of `topics:`."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str = ""
    query: str

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        try:
            parse_query(v)
        except QueryError as e:
            raise ValueError(str(e)) from None
        return v


class FeedSection(BaseModel):
    """One entry of `feeds:`: exactly one of `url` or `telegram`."""

    model_config = ConfigDict(extra="forbid")
    name: str = ""
    url: str | None = None
    telegram: str | None = None
    interval: int | None = None
    enabled: bool = True

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: object) -> int | None:
        return None if v is None else parse_duration(v)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @field_validator("telegram")
    @classmethod
    def _telegram(cls, v: str | None) -> str | None:
        return None if v is None else parse_channel(v)

    @model_validator(mode="after")
    def _one_source(self) -> FeedSection:
        if (self.url is None) == (self.telegram is None):
            raise ValueError("a feed needs exactly one of 'url' or 'telegram'")
        return self


class FeedsFile(BaseModel):
    """The whole feeds.yaml."""

    model_config = ConfigDict(extra="forbid")
    settings: SettingsSection = Field(default_factory=SettingsSection)
    topics: list[TopicSection] = Field(default_factory=list)
    feeds: list[FeedSection] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> FeedsFile:
        seen: set[str] = set()
        for t in self.topics:
            if t.id in seen:
                raise ValueError(f"topic id {t.id!r} appears twice")
            seen.add(t.id)
        return self


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


def check_timezone(name: str) -> ZoneInfo:
    """Return the IANA zone or raise ValueError with a helpful message."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone like Europe/Kyiv or UTC") from None


def load_config(path: Path, web_url: str = "https://t.me") -> Config:
    """Read and validate feeds.yaml; raise ConfigError naming file:line on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"config: cannot read {path}: {e.strerror}") from e
    return parse_config(text, path, web_url)


def parse_config(text: str, path: Path, web_url: str = "https://t.me") -> Config:
    """Validate feeds.yaml text (see load_config).

    A valid file is read with the fast safe loader (libyaml when ruamel.yaml.clib is installed); only a
    file with an error is read again with the round-trip loader, whose node positions name the line."""
    try:
        data = YAML(typ="safe").load(text)
        model = FeedsFile.model_validate(data if data is not None else {})
    except (YAMLError, ValidationError, ValueError, TypeError):
        model = _validate_located(text, path)
    return replace(_to_config(model, path, web_url), digest=text_digest(text))


def text_digest(text: str) -> str:
    """The digest a Config records of its source text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _validate_located(text: str, path: Path) -> FeedsFile:
    """Validate with line numbers: raise ConfigError naming file:line and the field."""
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else 0
        raise ConfigError(f"{path.name}:{line}: {e.problem or e.context}") from e
    except YAMLError as e:
        raise ConfigError(f"{path.name}: {e}") from e
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path.name}:1: the file must be a mapping with settings, topics, feeds")
    try:
        return FeedsFile.model_validate(_plain(data))
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        line = _line_of(data, loc)
        where = _loc_text(loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        raise ConfigError(f"{path.name}:{line}: {where}: {msg}" if where else f"{path.name}:{line}: {msg}") from None


def _to_config(model: FeedsFile, path: Path, web_url: str) -> Config:
    feeds: list[FeedConfig] = []
    sources: set[str] = set()
    for i, f in enumerate(model.feeds):
        if f.telegram:
            source, url, kind = f"tg:{f.telegram}", f"{web_url.rstrip('/')}/s/{f.telegram}", "telegram"
        else:
            assert f.url is not None
            source, url, kind = f.url, f.url, "rss"
        if source in sources:
            raise ConfigError(f"{path.name}: feeds[{i}]: {source} appears twice")
        sources.add(source)
        feeds.append(
            FeedConfig(
                name=f.name or (f"@{f.telegram}" if f.telegram else url),
                kind=kind,
                source=source,
                url=url,
                interval_s=f.interval or model.settings.interval,
                enabled=f.enabled,
            )
        )
    topics = tuple(Topic(id=t.id, name=t.name or t.id, query=t.query) for t in model.topics)
    s = model.settings
    return Config(
        path,
        s.interval,
        s.timezone,
        tuple(s.digest_times),
        s.stale_days,
        topics,
        tuple(feeds),
        s.alert_after,
        s.pause_after,
        s.max_age,
    )


def _plain(node: Any) -> Any:
    """ruamel's commented containers -> plain dicts and lists (pydantic wants those)."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _line_of(data: Any, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node of `loc` that exists in the ruamel tree."""
    line, node = 1, data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
    return line


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-after", "function-before")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


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
        default=0, metadata={"env": "NEWSWATCH_PARSE_WORKERS", "help": "processes parsing feeds; 0 = one per core"}
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
