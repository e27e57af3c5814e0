"""A progress line on a terminal that never runs into other output.

The line is redrawn in place (carriage return) and kept one column short of the terminal's width,
so it never wraps; anything else written to the terminal (a hit on stdout, a feed error or a log
record on stderr) first clears it. `clearing_logs` makes log records clear it too.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from wcwidth import width

from bot.delivery.table import fit, one_line


def terminal_columns(stream: TextIO) -> int | None:
    """The width of the terminal `stream` writes to (COLUMNS wins, as in shutil), or None when it is
    not a terminal."""
    try:
        if not stream.isatty():
            return None
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return None
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    try:
        return os.get_terminal_size(fd).columns or shutil.get_terminal_size().columns
    except OSError:
        return shutil.get_terminal_size().columns


class ProgressLine:
    """One status line redrawn in place on `stream`."""

    def __init__(self, stream: TextIO, columns: int | None) -> None:
        self.stream, self.columns = stream, columns
        self.shown = 0  # terminal columns the line now takes

    def show(self, text: str) -> None:
        """Replace the line with `text` (cut to fit the terminal)."""
        line = fit(one_line(text), None if self.columns is None else self.columns - 1)
        pad = " " * max(0, self.shown - width(line))
        self.stream.write(f"\r{line}{pad}\r{line}" if pad else f"\r{line}")
        self.stream.flush()
        self.shown = width(line)

    def clear(self) -> None:
        """Erase the line, leaving the cursor at the start of it."""
        if self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()
            self.shown = 0

    def done(self, text: str) -> None:
        """Leave `text` as the last line and move past it."""
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()


@contextmanager
def clearing_logs(progress: ProgressLine) -> Iterator[None]:
    """While inside, every log record the root logger's handlers write clears the progress line first."""

    def clear_first(record: logging.LogRecord) -> bool:
        progress.clear()
        return True

    handlers = list(logging.getLogger().handlers)
    for h in handlers:
        h.addFilter(clear_first)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(clear_first)
