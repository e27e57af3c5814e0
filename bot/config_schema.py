"""The feeds.yaml schema (pydantic) and its validation, imported by bot.config only when a file
must be validated: a `once` poll whose feeds.yaml is unchanged since the last run reads the validated
config from its cache instead (bot.config.load_config)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.config import Config, text_digest
from bot.config_values import (
    INTERVAL_BOUNDS,
    MAX_AGE_BOUNDS,
    PAUSE_AFTER_BOUNDS,
    check_feed_url,
    check_timezone,
    parse_channel,
    parse_duration,
)
from bot.config_yaml import check_yaml, error_at, line_of, load_located, loc_text, plain
from bot.errors import ConfigError, QueryError
from bot.matching.query import parse_query
from bot.models import FeedConfig, Topic

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SettingsSection(BaseModel):
    """The `settings:` block of feeds.yaml."""

    model_config = ConfigDict(extra="forbid")
    interval: int = Field(default=600, description="default poll interval")
    timezone: str = "UTC"
    digest_times: list[str] = Field(default_factory=lambda: ["08:00", "18:00"])
    stale_days: int = Field(default=7, ge=1, le=365, description="flag a feed with no new item for this many days")
    alert_after: int = Field(default=3, ge=1, le=1000, description="tell the admins after this many failures in a row")
    pause_after: int = Field(default=7 * 86400, description="pause a feed failing without a break for this long")
    max_age: int | None = Field(
        default=2 * 86400, description="an item published longer ago when first seen is kept but not sent; off = send all"
    )

    @field_validator("max_age", mode="before")
    @classmethod
    def _max_age(cls, v: object) -> int | None:
        if v is None or v is False or str(v).strip().lower() in ("off", "0"):
            return None
        return parse_duration(v, MAX_AGE_BOUNDS)

    @field_validator("pause_after", mode="before")
    @classmethod
    def _pause_after(cls, v: object) -> int:
        return parse_duration(v, PAUSE_AFTER_BOUNDS)

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: object) -> int:
        return parse_duration(v, INTERVAL_BOUNDS)

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


BRACED_QUERY = 'a query that starts with "{" must be quoted (query: "{Песков} OR peskov") or written as a block (query: >-)'


class TopicSection(BaseModel):
    """One entry of `topics:`."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str = ""
    query: str

    @field_validator("query", mode="before")
    @classmethod
    def _braced(cls, v: object) -> object:
        if isinstance(v, dict):
            raise ValueError(BRACED_QUERY)
        return v

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

    @model_validator(mode="before")
    @classmethod
    def _one_source(cls, data: object) -> object:
        # before the fields, so a feed with both is refused as such whatever either value is; after
        # the unknown keys, so a misspelt `urll:` is reported as what it is
        if not isinstance(data, Mapping) or any(str(k) not in cls.model_fields for k in data):
            return data
        if (data.get("url") is None) == (data.get("telegram") is None):
            raise ValueError("a feed needs exactly one of 'url' or 'telegram'")
        return data

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: object) -> int | None:
        return None if v is None else parse_duration(v, INTERVAL_BOUNDS)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_feed_url(v)

    @field_validator("telegram")
    @classmethod
    def _telegram(cls, v: str | None) -> str | None:
        return None if v is None else parse_channel(v)

    @property
    def source(self) -> str:
        """The feed's identity: its URL, or tg:<channel>."""
        return f"tg:{self.telegram}" if self.telegram else str(self.url)


class FeedsFile(BaseModel):
    """The whole feeds.yaml."""

    model_config = ConfigDict(extra="forbid")
    settings: SettingsSection = Field(default_factory=SettingsSection)
    topics: list[TopicSection] = Field(default_factory=list)
    feeds: list[FeedSection] = Field(default_factory=list)


def parse_text(text: str, path: Path, web_url: str = "https://t.me", *, allow_empty: bool = False) -> Config:
    """Validate feeds.yaml text (see load_config). An empty file (nothing to watch) is an error unless
    `allow_empty` (a file an edit is about to fill).

    A valid file is read with the fast safe loader (libyaml when ruamel.yaml.clib is installed); only a
    file with an error is read again with the round-trip loader, whose node positions name the line."""
    check_yaml(text, path)
    model = _validate(text, path)
    if model is None:
        if not allow_empty:
            raise ConfigError(
                f"{path.name}:1: nothing to watch: the file is empty or only comments; it needs "
                "a 'topics:' list (what to look for) and a 'feeds:' list (where to look)"
            )
        model = FeedsFile()
    clash = _find_duplicate(model)
    if clash is not None:
        loc, first, what = clash
        data = load_located(text, path)
        raise error_at(path, data, loc, f"{what} appears twice (first in {loc_text(first)}, line {line_of(data, first)})")
    return replace(_to_config(model, path, web_url), digest=text_digest(text))


def _validate(text: str, path: Path) -> FeedsFile | None:
    """The validated file, or None when it holds no YAML document at all."""
    try:
        data = YAML(typ="safe").load(text)
        return None if data is None else FeedsFile.model_validate(data)
    except (YAMLError, ValidationError, ValueError, TypeError):
        return _validate_located(text, path)


def _validate_located(text: str, path: Path) -> FeedsFile | None:
    """Validate with line numbers: raise ConfigError naming file:line and the field."""
    data = load_located(text, path)
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path.name}:1: the file must be a mapping with settings, topics, feeds")
    try:
        return FeedsFile.model_validate(plain(data))
    except ValidationError as e:
        err = e.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise error_at(path, data, tuple(err["loc"]), "unknown field" if err["type"] == "extra_forbidden" else msg) from None


def _find_duplicate(model: FeedsFile) -> tuple[tuple[Any, ...], tuple[Any, ...], str] | None:
    """(location, location of the first, what) of the first topic id or feed source given twice."""
    topics: dict[str, int] = {}
    for i, t in enumerate(model.topics):
        if t.id in topics:
            return ("topics", i, "id"), ("topics", topics[t.id]), f"topic id {t.id!r}"
        topics[t.id] = i
    feeds: dict[str, int] = {}
    for i, f in enumerate(model.feeds):
        key = f.source.casefold() if f.telegram else f.source  # channel usernames ignore case
        if key in feeds:
            field_name, value = ("telegram", f"@{f.telegram}") if f.telegram else ("url", f.source)
            return ("feeds", i, field_name), ("feeds", feeds[key]), value
        feeds[key] = i
    return None


def _to_config(model: FeedsFile, path: Path, web_url: str) -> Config:
    feeds: list[FeedConfig] = []
    for f in model.feeds:
        if f.telegram:
            url, kind = f"{web_url.rstrip('/')}/s/{f.telegram}", "telegram"
        else:
            url, kind = f.source, "rss"
        feeds.append(
            FeedConfig(
                name=f.name or (f"@{f.telegram}" if f.telegram else url),
                kind=kind,
                source=f.source,
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
