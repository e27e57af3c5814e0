"""feeds.yaml from bytes to a YAML tree, bounded, every error naming file:line.

Every reader of feeds.yaml (check, run, once, feeds, the running bot's reload, admin edits) goes
through `read_config_text` and `check_yaml`, so a file is either valid for all of them or for none:
- the file is UTF-8; any other byte is an error at its line and column (it is never replaced);
- collections nest at most MAX_DEPTH levels (feeds.yaml needs 3);
- anchors and aliases are allowed (`<<: *defaults` for shared feed settings), but all the aliases of
  a file together may repeat at most MAX_ALIAS_VALUES values, and an alias may not sit inside the
  collection it names. A file built to expand exponentially is refused at the first alias past the
  budget, before anything is built from it.
The checks read the parser's flat event stream: no recursion, and no work beyond the first problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent
from ruamel.yaml.reader import ReaderError

from bot.config_text import decode_config as decode_config
from bot.config_text import read_config_text as read_config_text
from bot.errors import ConfigError

MAX_DEPTH = 20
MAX_ALIAS_VALUES = 50_000


def check_yaml(text: str, path: Path) -> None:
    """Refuse YAML that is malformed, nested too deep, or whose aliases repeat too much (ConfigError)."""
    sizes: dict[str, int] = {}  # anchor -> number of values it stands for
    stack: list[list[Any]] = []  # open collections: [anchor, values so far]
    repeated = 0
    try:
        for event in YAML(typ="safe").parse(text):
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            if isinstance(event, CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise ConfigError(f"{path.name}:{line}: nested more than {MAX_DEPTH} levels deep")
                stack.append([event.anchor, 1])
                continue
            if isinstance(event, CollectionEndEvent):
                anchor, size = stack.pop()
            elif isinstance(event, AliasEvent):
                anchor = None
                if any(open_anchor == event.anchor for open_anchor, _ in stack):
                    raise ConfigError(f"{path.name}:{line}: the alias *{event.anchor} is inside the collection it names")
                size = sizes.get(event.anchor, 1)  # an undefined alias is reported by the loader
                repeated += size
                if repeated > MAX_ALIAS_VALUES:
                    raise ConfigError(
                        f"{path.name}:{line}: the aliases repeat more than {MAX_ALIAS_VALUES} values "
                        f"(at *{event.anchor}); write the values out instead"
                    )
            elif isinstance(event, NodeEvent):  # a scalar
                anchor, size = event.anchor, 1
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1][1] += size
    except YAMLError as e:
        raise yaml_error(e, path, text) from None


_BRACED_QUERY = re.compile(r"\s*(?:-\s*)?query:\s*\{")


def yaml_error(e: YAMLError, path: Path, text: str) -> ConfigError:
    """A YAML syntax error as one line: file:line: problem."""
    if isinstance(e, MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = ", ".join(str(part) for part in (e.context, e.problem) if part) or "not valid YAML"
        lines = text.splitlines()
        if any(_BRACED_QUERY.match(lines[n]) for n in range(max(line - 2, 0), min(line, len(lines)))):
            what += ' (a query that starts with "{" must be quoted, or written as a block: query: >-)'
        return ConfigError(f"{path.name}:{line}: {_one_line(what)}")
    if isinstance(e, ReaderError):
        line = text.count("\n", 0, max(e.position, 0)) + 1
        char = f"U+{e.character:04X}" if isinstance(e.character, int) else repr(e.character)
        return ConfigError(f"{path.name}:{line}: character {char} is not allowed in YAML ({_one_line(str(e.reason))})")
    return ConfigError(f"{path.name}: not valid YAML: {_one_line(str(e))}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_located(text: str, path: Path) -> Any:
    """The round-trip tree (it knows each node's line) of text that passed `check_yaml`."""
    try:
        return YAML(typ="rt").load(text)
    except YAMLError as e:
        raise yaml_error(e, path, text) from None


def error_at(path: Path, data: Any, loc: tuple[Any, ...], msg: str) -> ConfigError:
    """ConfigError 'file:line: where: msg' for the node at `loc` of the round-trip tree `data`."""
    where = loc_text(loc)
    line = line_of(data, loc)
    return ConfigError(f"{path.name}:{line}: {where}: {msg}" if where else f"{path.name}:{line}: {msg}")


def plain(node: Any) -> Any:
    """ruamel's commented containers -> plain dicts and lists (pydantic wants those)."""
    if isinstance(node, Mapping):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def line_of(data: Any, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node of `loc` that exists in the round-trip tree."""
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


def loc_text(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the file spells it: feeds[3].interval."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-after", "function-before")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out
