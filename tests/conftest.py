from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from bot.config import Settings
from storage.db import open_database
from tests.botapi import BotAPI
from tests.feedserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def _server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(_server: FeedServer) -> Iterator[FeedServer]:
    """The test feed server on 127.0.0.1, with no routes."""
    _server.reset()
    yield _server
    _server.reset()


@pytest.fixture(scope="session")
def _botapi() -> Iterator[BotAPI]:
    api = BotAPI().start()
    yield api
    api.stop()


@pytest.fixture
def botapi(_botapi: BotAPI) -> Iterator[BotAPI]:
    """The Bot API emulator on 127.0.0.1, with no messages, updates or faults."""
    _botapi.reset()
    yield _botapi
    _botapi.release()
    _botapi.reset()


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    """A migrated database in a real file."""
    db = open_database(tmp_path / "test.db")
    yield db
    db.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for tests: local addresses allowed, short timeouts, parsing in a thread."""
    return Settings(
        config_path=tmp_path / "feeds.yaml",
        db_path=tmp_path / "newswatch.db",
        allow_private_urls=True,
        timeout_s=2.0,
        parse_workers=1,
        per_host=10,
    )


def corpus_file(relative: str) -> Path:
    """A file of ../shared/corpus, or skip the test when the corpus is not beside this clone."""
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"../shared/corpus/{relative} is not available in this checkout")
    return path
