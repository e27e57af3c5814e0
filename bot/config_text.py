"""feeds.yaml as text: strict UTF-8, every error naming the file (and the line of a byte that is not
UTF-8). Kept apart from the YAML reader (bot/config_yaml.py) so a run whose config is cached reads
the file without loading ruamel.yaml."""

from __future__ import annotations

from pathlib import Path

from bot.errors import ConfigError


def read_config_text(path: Path, *, missing_ok: bool = False) -> str:
    """The text of feeds.yaml (strict UTF-8); ConfigError when it cannot be read or decoded."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        if missing_ok:
            return ""
        raise ConfigError(f"config: cannot read {path}: {e.strerror}") from e
    except OSError as e:
        raise ConfigError(f"config: cannot read {path}: {e.strerror}") from e
    return decode_config(raw, path)


def decode_config(raw: bytes, path: Path) -> str:
    """UTF-8 bytes -> text; ConfigError naming the line and column of the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(
            f"{path.name}:{line}: not UTF-8 (byte 0x{raw[e.start]:02X} at column {column}); save the file as UTF-8"
        ) from None
