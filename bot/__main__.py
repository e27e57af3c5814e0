"""Command line: `python -m bot once|run|check` (thin: parse arguments, call the app)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.app import read_config, run_forever, run_once
from bot.config import Settings
from bot.errors import ConfigError, StorageError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="feeds.yaml to use (default: $NEWSWATCH_CONFIG or feeds.yaml)")
    common.add_argument("--db", type=Path, help="SQLite database (default: $NEWSWATCH_DB or newswatch.db)")
    common.add_argument("-v", "--verbose", action="store_true", help="log more")

    parser = argparse.ArgumentParser(prog="python -m bot", description="Newswatch: watch feeds and Telegram channels for topics.")
    parser.add_argument("--version", action="version", version=f"newswatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    once = sub.add_parser(
        "once",
        parents=[common],
        help="poll every enabled feed once and print the new hits",
        description="Poll every enabled feed once and print each new hit once. "
        "Feed errors go to stderr; the exit code is 0 unless the config is unusable.",
    )
    once.add_argument("--json", action="store_true", help="one JSON object per new hit per line")
    sub.add_parser(
        "run",
        parents=[common],
        help="poll on schedule and deliver until interrupted",
        description="Run the scheduler until SIGINT/SIGTERM. Without TELEGRAM_BOT_TOKEN, hits are printed.",
    )
    sub.add_parser(
        "check",
        parents=[common],
        help="validate feeds.yaml (exit 1 with the error)",
        description="Validate feeds.yaml and print a summary; exit 1 naming file:line on an error.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else (logging.INFO if args.command == "run" else logging.ERROR),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the bot token
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env(config_path=args.config, db_path=args.db)
        config = read_config(settings)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.command == "check":
        print(
            f"{settings.config_path}: ok: {len(config.topics)} topics, {len(config.feeds)} feeds "
            f"({sum(f.enabled for f in config.feeds)} enabled)"
        )
        return 0
    try:
        if args.command == "once":
            asyncio.run(run_once(settings, config, as_json=args.json, progress=sys.stdout.isatty() and sys.stderr.isatty()))
        elif args.command == "run":
            asyncio.run(run_forever(settings, config))
    except StorageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
