"""Command line: `python -m bot once|run|check|feeds` (thin: parse arguments, call the app)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.config import Settings, load_config
from bot.console import log_in_zone
from bot.errors import CommandError, ConfigError, StorageError
from bot.wording import count


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    # The global options are accepted before the command and after it. After it they default to SUPPRESS,
    # so a subcommand that does not repeat an option keeps the value given before the command.
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, default=argparse.SUPPRESS)

    parser = argparse.ArgumentParser(prog="python -m bot", description="Newswatch: watch feeds and Telegram channels for topics.")
    parser.add_argument("--version", action="version", version=f"newswatch {__version__}")
    _add_global_options(parser, default=None)
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
    _add_feeds_parser(sub, common)
    trend = sub.add_parser(
        "trend",
        parents=[common],
        help="draw a topic's stories per day (per hour for 7 days) as a PNG chart",
        description="Draw the chart /trend sends: stories per day (per hour for --days 7) in the config's time zone, "
        "the peak marked; print the caption.",
    )
    trend.add_argument("topic", help="topic id or name (from feeds.yaml)")
    trend.add_argument("--days", type=int, default=30, choices=(7, 30, 90), help="period (default 30)")
    trend.add_argument("--out", type=Path, default=Path("chart.png"), help="PNG file to write (default chart.png)")
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--config", type=Path, default=default, help="feeds.yaml to use (default: $NEWSWATCH_CONFIG or feeds.yaml)"
    )
    parser.add_argument("--db", type=Path, default=default, help="SQLite database (default: $NEWSWATCH_DB or newswatch.db)")
    parser.add_argument("-v", "--verbose", action="store_true", default=False if default is None else default, help="log more")


def _add_feeds_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    feeds = sub.add_parser(
        "feeds",
        parents=[common],
        help="list, add, remove, export or import feeds (edits feeds.yaml)",
        description="Keep the feed list from a shell. Changes are written to feeds.yaml atomically, keeping its "
        "comments; a running bot applies them within seconds.",
    )
    actions = feeds.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="every feed with its health")
    add = actions.add_parser("add", parents=[common], help="add a feed URL or a public channel (@name)")
    add.add_argument("source", help="feed URL, @channel or https://t.me/channel")
    add.add_argument("--name", default="", help="display name (default: the feed's title)")
    add.add_argument("--interval", default="", help="poll interval, e.g. 15m (default: settings.interval)")
    add.add_argument("--no-check", action="store_true", help="add without fetching it once first")
    rm = actions.add_parser("rm", parents=[common], help="remove a feed (its items and hits are kept)")
    rm.add_argument("feed", help="the feed's number (from `feeds list`), name, URL or @channel")
    export = actions.add_parser("export", parents=[common], help="write the feed list as OPML")
    export.add_argument("--opml", action="store_true", required=True, help="OPML 2.0 (the one export format)")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    imp = actions.add_parser("import", parents=[common], help="add the feeds of an OPML file that are not there yet")
    imp.add_argument("file", type=Path, help="OPML file exported by a feed reader")


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
        # `check` and `feeds` always validate; a poll may take the config validated by the run before.
        cache = None if args.command in ("check", "feeds") else Path(f"{settings.db_path}.config.json")
        config = load_config(settings.config_path, settings.web_url, cache, apart=args.command == "once")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    log_in_zone(config.timezone)
    if args.command == "check":
        print(
            f"{settings.config_path}: ok: {count(len(config.topics), 'topic')}, {count(len(config.feeds), 'feed')} "
            f"({sum(f.enabled for f in config.feeds)} enabled)"
        )
        return 0
    try:
        # Each command imports only what it uses: `once` and `check` start without the Telegram,
        # scheduler and admin code that `run` and `feeds` need.
        if args.command == "feeds":
            from bot.app import feeds_command

            text = asyncio.run(feeds_command(settings, config, args))
            sys.stdout.write(text)
            return 0
        if args.command == "trend":
            from bot.trends.cli import trend_command  # charts import matplotlib: only this command pays for it

            sys.stdout.write(asyncio.run(trend_command(settings, config, args.topic, args.days, args.out)))
            return 0
        if args.command == "once":
            from bot.once import run_once

            asyncio.run(run_once(settings, config, as_json=args.json, progress=sys.stdout.isatty() and sys.stderr.isatty()))
        elif args.command == "run":
            from bot.app import run_forever

            asyncio.run(run_forever(settings, config))
    except (StorageError, CommandError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
