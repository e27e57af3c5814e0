"""The validated feeds.yaml kept beside the database (`<database>.config.json`), so that a `once` poll
whose feeds.yaml has not changed skips YAML parsing and validation (about 1 ms a feed: 0.6 s of an
all-304 poll of 1,000 feeds) and never imports ruamel.yaml or pydantic.

The cache holds one entry, keyed by a digest of the file's text, its path, the channel base URL and
the source of every module the validation depends on: a changed file, a changed URL or a new version
of the rules is validated again. The entry is JSON (the plain fields of bot.config.Config), written
to a temporary file and renamed into place; a cache that cannot be read or written is ignored, never
an error: the file is then validated as it would be without one.

`python -m bot.config_cache FILE WEB_URL CACHE` validates a file and keeps it in the cache: `once`
validates a changed feeds.yaml that way (`validate_apart`), in a process that exits before the poll
starts, so the poll's processes never hold the validator.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.errors import ConfigError
from bot.models import FeedConfig, Topic

INVALID = 3  # the exit status of `python -m bot.config_cache` for a file with an error (printed alone)

_RULES = ("config.py", "config_schema.py", "config_values.py", "config_yaml.py", "config_text.py", "config_cache.py", "models.py")
_QUERY = Path(__file__).parent / "matching" / "query.py"


@cache
def _rules_digest() -> bytes:
    """A digest of the code that validates feeds.yaml and builds a Config."""
    h = hashlib.sha256()
    for path in [*(Path(__file__).parent / name for name in _RULES), _QUERY]:
        h.update(path.read_bytes())
    return h.digest()


def _key(text: str, path: Path, web_url: str) -> str:
    h = hashlib.sha256(_rules_digest())
    for part in (str(path.resolve()), web_url, text):
        h.update(b"\0" + part.encode("utf-8"))
    return h.hexdigest()


def cached_config(cache_path: Path, text: str, path: Path, web_url: str) -> Config | None:
    """The config validated before from exactly this text, or None."""
    try:
        entry = json.loads(cache_path.read_text(encoding="utf-8"))
        if entry.get("key") != _key(text, path, web_url):
            return None
        return _from_json(entry["config"], path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def keep_config(cache_path: Path, text: str, path: Path, web_url: str, config: Config) -> None:
    """Keep a validated config for the next run (best effort: a read-only directory keeps none)."""
    tmp = cache_path.with_name(f"{cache_path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"key": _key(text, path, web_url), "config": _to_json(config)}), encoding="utf-8")
        os.replace(tmp, cache_path)
    except OSError:
        tmp.unlink(missing_ok=True)


def _to_json(c: Config) -> dict[str, Any]:
    return {
        "interval_s": c.interval_s,
        "timezone": c.timezone,
        "digest_times": list(c.digest_times),
        "stale_days": c.stale_days,
        "topics": [[t.id, t.name, t.query] for t in c.topics],
        "feeds": [[f.name, f.kind, f.source, f.url, f.interval_s, f.enabled] for f in c.feeds],
        "alert_after": c.alert_after,
        "pause_after_s": c.pause_after_s,
        "max_age_s": c.max_age_s,
        "digest": c.digest,
    }


def _from_json(d: dict[str, Any], path: Path) -> Config:
    return Config(
        path=path,
        interval_s=int(d["interval_s"]),
        timezone=str(d["timezone"]),
        digest_times=tuple(str(t) for t in d["digest_times"]),
        stale_days=int(d["stale_days"]),
        topics=tuple(Topic(str(i), str(n), str(q)) for i, n, q in d["topics"]),
        feeds=tuple(FeedConfig(str(n), str(k), str(s), str(u), int(i), bool(e)) for n, k, s, u, i, e in d["feeds"]),
        alert_after=int(d["alert_after"]),
        pause_after_s=int(d["pause_after_s"]),
        max_age_s=None if d["max_age_s"] is None else int(d["max_age_s"]),
        digest=str(d["digest"]),
    )


def validate_apart(path: Path, web_url: str, cache_path: Path) -> bool:
    """Validate feeds.yaml in a child process that keeps it in the cache: True once it is there, a
    ConfigError with the child's message when the file is wrong, False when the child could not
    tell (it could not start, or failed some other way): the caller then validates it itself."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.config_cache", str(path), web_url, str(cache_path)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    if done.returncode == INVALID and done.stderr.strip():
        raise ConfigError(done.stderr.strip())
    return done.returncode == 0


def _validate(argv: list[str]) -> int:
    from bot.config import load_config

    try:
        load_config(Path(argv[0]), argv[1], Path(argv[2]))
    except ConfigError as e:
        print(e, file=sys.stderr)
        return INVALID
    return 0


if __name__ == "__main__":
    raise SystemExit(_validate(sys.argv[1:]))
