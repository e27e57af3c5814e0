"""Real `python -m bot` processes for the tests: started with local feeds allowed, with or without a
token (the Bot API emulator), and every process of their session found for cleanup and checks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tests.botapi import BotAPI
from tests.conftest import ROOT

ADMIN = 4242


def bot_env(api: BotAPI | None = None, **extra: str) -> dict[str, str]:
    """The environment of a bot process: local feeds allowed, one parse worker, and with `api` the token,
    the emulator's URL and one admin (without it, no token: alerts go to the console)."""
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1", **extra}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    if api is not None:
        env |= {"TELEGRAM_BOT_TOKEN": "123:TEST", "TELEGRAM_API_URL": api.base_url, "ADMIN_IDS": str(ADMIN)}
    return env


def probe_once(probe: str, argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[dict[str, object], list[str]]:
    """Run `probe` (Python code that runs `bot.__main__.main` on its argv and prints one JSON report
    last) as a process: (that report, the titles of the hits `once --json` printed before it)."""
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr
    return json.loads(lines[-1]), [json.loads(line)["title"] for line in lines[:-1]]


def start_bot(
    cfg: Path,
    db: Path,
    api: BotAPI,
    *,
    stderr: int | IO[str] = subprocess.PIPE,
    new_session: bool = False,
) -> subprocess.Popen[str]:
    """`python -m bot run` with a token, against the emulator."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(cfg), "--db", str(db)],
        cwd=ROOT,
        env=bot_env(api),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=new_session,
    )


def stop_bot(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, wait for a clean exit; return what it wrote on stderr."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err or ""


def start_once(
    cfg: Path, db: Path, err: Path, *, stdout: int | IO[str] = subprocess.PIPE, new_session: bool = False
) -> subprocess.Popen[str]:
    """`python -m bot once --json` without a token (errors to the file `err`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "once", "--config", str(cfg), "--db", str(db), "--json"],
        cwd=ROOT,
        env=bot_env(),
        stdout=stdout,
        stderr=err.open("w"),
        text=True,
        start_new_session=new_session,
    )


def session_processes(sid: int) -> dict[int, str]:
    """Live processes of one session (a process started with start_new_session): pid -> command line."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, session
        if int(fields[3]) == sid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def kill_session(sid: int) -> dict[int, str]:
    """SIGKILL whatever is left of a session; return what was left."""
    left = session_processes(sid)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


class Lines:
    """Collects a stream of a process from a thread."""

    def __init__(self, stream: object) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.text += line

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.text):
            assert time.monotonic() < deadline, f"not seen in time; output so far:\n{self.text}"
            time.sleep(0.05)
