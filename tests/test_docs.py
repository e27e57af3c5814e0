"""The README documents every command, option and setting."""

from __future__ import annotations

from dataclasses import fields

import pytest

from bot.__main__ import build_parser
from bot.admin import ADMIN_COMMANDS
from bot.config import Settings
from bot.subscribers import COMMANDS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("env", [f.metadata["env"] for f in fields(Settings)])
def test_every_setting_is_documented(env: str) -> None:
    assert f"`{env}`" in README


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return list(sub.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_documented(command: str) -> None:
    assert f"python -m bot {command}" in README


def _feeds_actions() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    feeds = sub.choices["feeds"]  # type: ignore[index]
    actions = next(a for a in feeds._actions if a.dest == "action")
    return list(actions.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", _feeds_actions())
def test_every_feeds_action_is_documented(action: str) -> None:
    assert f"python -m bot feeds {action}" in README


def test_readme_starts_with_the_two_commands() -> None:
    head = README.split("## ", 1)[0]
    assert "pip install -e '.[dev]'" in head and "python -m bot run" in head and "python -m pytest" in head
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_procfile() -> None:
    assert (ROOT / "Procfile").read_text().strip() == "worker: python -m bot run"


@pytest.mark.parametrize("command", [name for name, _ in COMMANDS + ADMIN_COMMANDS])
def test_every_bot_command_is_documented(command: str) -> None:
    assert f"`/{command}" in README or f"/{command}`" in README
