"""Poll N local feeds three times: cold, all-304, 10% changed. Wall, CPU and peak RSS of the whole process tree.

    python bench/poll_bench.py --feeds 1000 [--repeat 3] [--mode poll once]
    python bench/poll_bench.py --feeds 10000 --repeat 1
    python bench/poll_bench.py --modes once --repeat 4 --against ../previous-checkout

Each scenario runs in a process of its own, measured from outside over its whole process tree (the parse
workers and multiprocessing's resource tracker are processes of their own, whose CPU the poller's
`getrusage(RUSAGE_CHILDREN)` does not see, or sees only for those it reaped itself):
- CPU: this process is made a child subreaper (PR_SET_CHILD_SUBREAPER), so every descendant of the
  scenario, orphaned or not, is reaped here and its CPU lands in this process's RUSAGE_CHILDREN;
- peak RSS: the sum of the resident sets of every live descendant, sampled every 10 ms (psutil); pages
  a forked worker shares with its parent count once per process there, so the peak of the summed
  proportional set sizes (PSS, /proc/PID/smaps_rollup: shared pages split between their users) is shown too;
- wall: from the start of the command until the last process of its tree has ended.
Modes: `poll` is one in-process round of `bot.pipeline.poll_feed` over every feed (its wall also shown
without interpreter start-up), `once` is the command a user runs, `python -m bot once --json`.
Each scenario is repeated on a fresh database and feed server; the median of the repeats is printed.
`--against DIR` runs `python -m bot once` of another checkout (DIR, e.g. a `git worktree` of an earlier
commit) in turn with this one, repeat by repeat, and prints every run of each: on a machine whose speed
drifts from one minute to the next, only runs taken side by side compare.
newsboat (`newsboat -x reload`), when installed, polls the same feeds three times per repeat: it sends
conditional headers only from its third poll, so that one is its all-304 figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("cold", "all 304", "10% changed")
PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    pss_mb: float
    new_items: int
    inner_wall: float | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def wait_for(port: int) -> None:
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench: feed server did not start")


class TreeWatch:
    """Samples the summed RSS of every descendant of this process except `exclude` (the feed server)."""

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def descendants(self) -> list[psutil.Process]:
        me = psutil.Process()
        out = []
        for p in me.children(recursive=True):
            if p.pid in self.exclude:
                continue
            try:
                if p.ppid() in self.exclude:
                    continue
            except psutil.Error:
                continue
            out.append(p)
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            total = pss = 0
            for p in self.descendants():
                try:
                    if p.status() != psutil.STATUS_ZOMBIE:
                        total += p.memory_info().rss
                        pss += proportional_set_size(p.pid)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(0.01)

    def __enter__(self) -> TreeWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def proportional_set_size(pid: int) -> int:
    """PSS of a process in bytes (0 when it has gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_tree(
    cmd: list[str], env: dict[str, str], exclude: set[int], check: bool = True, cwd: Path = ROOT
) -> tuple[float, float, float, float, str]:
    """Run a command in `cwd`; (wall s, CPU s, peak RSS MB, peak PSS MB) of its whole process tree, and its stdout."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    with TreeWatch(exclude) as watch:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        out, err = proc.communicate()
        deadline = time.monotonic() + 30
        while (left := watch.descendants()) and time.monotonic() < deadline:  # orphans reparented here
            for p in left:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(p.pid, os.WNOHANG)
            time.sleep(0.005)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode and check:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {proc.returncode}: {err[-2000:]}")
    if err.strip():
        print(f"  stderr: {err.strip().splitlines()[0][:200]} ({len(err.splitlines())} lines)")
    return wall, cpu, watch.peak / 2**20, watch.peak_pss / 2**20, out


def count_items(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def write_config(path: Path, port: int, feeds: int) -> None:
    """The shipped topics and settings with N local feeds."""
    base = (ROOT / "feeds.yaml").read_text(encoding="utf-8").split("\nfeeds:", 1)[0]
    lines = [base, "\nfeeds:\n"]
    lines += [f"  - name: feed {n}\n    url: http://127.0.0.1:{port}/feed/{n}.xml\n" for n in range(feeds)]
    path.write_text("".join(lines), encoding="utf-8")


def scenario_command(mode: str, config: Path, db: Path) -> list[str]:
    if mode == "once":
        return [sys.executable, "-m", "bot", "once", "--json", "--config", str(config), "--db", str(db)]
    return [sys.executable, str(Path(__file__).resolve()), "--child-poll", str(config), str(db)]


@contextlib.contextmanager
def feed_server(feeds: int) -> Iterator[tuple[int, int]]:
    """A fresh bench/feed_server.py of `feeds` feeds: (its port, its pid), stopped on leaving."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "feed_server.py"), "--port", str(port), "--feeds", str(feeds)]
    )
    try:
        wait_for(port)
        yield port, server.pid
    finally:
        server.terminate()
        server.wait(5)


def bump(port: int) -> None:
    """Add one item to a tenth of the feed server's feeds (the 10%-changed scenario)."""
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/bump?fraction=0.1", method="POST")).read()


def run_repeat(args: argparse.Namespace, mode: str, tmp: Path, root: Path = ROOT) -> tuple[list[Sample], list[float]]:
    """One cold, all-304 and 10%-changed poll of the checkout at `root` on a fresh feed server and
    database; newsboat's three polls."""
    with feed_server(args.feeds) as (port, server_pid):
        config, db = tmp / "feeds.yaml", tmp / "bench.db"
        for stale in tmp.glob("bench.db*"):
            stale.unlink()
        write_config(config, port, args.feeds)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules are cached, as in an installed copy
        env.update(
            NEWSWATCH_ALLOW_PRIVATE_URLS="1",
            NEWSWATCH_CONCURRENCY=str(args.concurrency),
            NEWSWATCH_PER_HOST=str(args.concurrency),  # every feed is on one host here
        )
        if args.workers:
            env["NEWSWATCH_PARSE_WORKERS"] = str(args.workers)
        samples = []
        for label in SCENARIOS:
            if label == "10% changed":
                bump(port)
            before = count_items(db)
            wall, cpu, rss, pss, out = run_tree(scenario_command(mode, config, db), env, {server_pid}, cwd=root)
            inner = json.loads(out.strip().splitlines()[-1])["wall"] if mode == "poll" else None
            samples.append(Sample(wall, cpu, rss, pss, count_items(db) - before, inner))
        first = mode == args.modes[0] and root == ROOT
        nb = newsboat(port, args.feeds, tmp, {server_pid}) if first and not args.no_newsboat else []
        return samples, nb


def newsboat(port: int, feeds: int, tmp: Path, exclude: set[int]) -> list[float]:
    """Wall of newsboat's first, second and third poll of the same feeds (the third is its all-304)."""
    exe = shutil.which("newsboat")
    if not exe:
        return []
    urls, conf, cache = tmp / "urls", tmp / "nbconfig", tmp / "nb.db"
    urls.write_text("".join(f"http://127.0.0.1:{port}/feed/{n}.xml\n" for n in range(feeds)))
    conf.write_text("reload-threads 50\n")
    cache.unlink(missing_ok=True)
    cmd = [exe, "-u", str(urls), "-c", str(cache), "-C", str(conf), "-x", "reload"]
    return [run_tree(cmd, dict(os.environ), exclude, check=False)[0] for _ in range(3)]


def child_poll(config_path: str, db_path: str) -> None:
    """One in-process round of poll_feed over every feed; prints {"wall": s} (start-up excluded)."""
    sys.path.insert(0, str(ROOT))
    from bot.config import Settings, load_config
    from bot.pipeline import poll_feed
    from bot.runtime import open_runtime

    settings = Settings.from_env(config_path=Path(config_path), db_path=Path(db_path))
    config = load_config(settings.config_path)

    async def round_() -> None:
        async with open_runtime(settings, config) as rt:
            outcomes = await asyncio.gather(*(poll_feed(rt.ctx, f, rt.feed_ids[f.source]) for f in config.feeds))
        errors = [o.error for o in outcomes if o.error]
        if errors:
            print(f"{len(errors)} errors, first: {errors[0]}", file=sys.stderr)

    t0 = time.perf_counter()
    asyncio.run(round_())
    print(json.dumps({"wall": time.perf_counter() - t0}))


def report(mode: str, feeds: int, runs: list[list[Sample]], each: bool = False) -> None:
    print(f"mode {mode}: {'in-process poll_feed round' if mode == 'poll' else 'python -m bot once --json'}")
    for i, label in enumerate(SCENARIOS):
        if each:
            print(
                f"  {label:<12} runs: wall {' / '.join(f'{r[i].wall:.2f}' for r in runs)} s, tree CPU "
                f"{' / '.join(f'{r[i].cpu:.2f}' for r in runs)} s, peak RSS {' / '.join(f'{r[i].rss_mb:.0f}' for r in runs)} MB"
            )
        got = [r[i] for r in runs]
        wall = statistics.median(s.wall for s in got)
        cpu = statistics.median(s.cpu for s in got)
        rss = statistics.median(s.rss_mb for s in got)
        pss = statistics.median(s.pss_mb for s in got)
        new = statistics.median(s.new_items for s in got)
        inner = [s.inner_wall for s in got if s.inner_wall is not None]
        poll_wall = statistics.median(inner) if inner else wall
        extra = f" (poll {poll_wall:6.2f} s)" if inner else ""
        print(
            f"  {label:<12} wall {wall:6.2f} s{extra}  tree CPU {cpu:6.2f} s  tree peak RSS {rss:4.0f} MB (PSS {pss:4.0f} MB)  "
            f"new items {new:6.0f}  items/s {new / poll_wall if poll_wall else 0:6.0f}  "
            f"per feed {1000 * wall / feeds:5.2f} ms wall {1000 * cpu / feeds:5.2f} ms CPU"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each scenario; the median is shown")
    ap.add_argument("--modes", nargs="+", choices=("poll", "once"), default=["poll", "once"])
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--workers", type=int, default=0, help="parser processes (0 = the default of Settings)")
    ap.add_argument("--no-newsboat", action="store_true", help="skip the newsboat comparison")
    ap.add_argument("--against", type=Path, help="another checkout whose `once` runs in turn with this one's")
    ap.add_argument("--child-poll", nargs=2, metavar=("CONFIG", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.against and args.modes != ["once"]:
        ap.error("--against compares `python -m bot once` runs: give --modes once")
    if args.against and not (args.against / "bot" / "__main__.py").exists():
        ap.error(f"--against {args.against}: no checkout of Newswatch there (bot/__main__.py)")
    if args.child_poll:
        child_poll(*args.child_poll)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("bench: prctl(PR_SET_CHILD_SUBREAPER) failed: whole-tree CPU cannot be measured")
    print(
        f"{args.feeds} feeds x 50 items on 127.0.0.1, concurrency {args.concurrency}, shipped topics, "
        f"{os.cpu_count()} cores, median of {args.repeat}"
    )
    roots = [ROOT, args.against.resolve()] if args.against else [ROOT]
    runs: dict[tuple[Path, str], list[list[Sample]]] = {(r, m): [] for r in roots for m in args.modes}
    nb_runs: list[list[float]] = []
    for _ in range(args.repeat):
        for root in roots:  # in turn, so the machine's drift hits both checkouts alike
            for mode in args.modes:  # interleaved, so a busy moment of a shared machine hits every mode alike
                with tempfile.TemporaryDirectory() as tmpdir:
                    samples, nb = run_repeat(args, mode, Path(tmpdir), root)
                    runs[root, mode].append(samples)
                    if nb:
                        nb_runs.append(nb)
    for root in roots:
        if args.against:
            print(f"{'this checkout' if root == ROOT else 'against'}: {root}")
        for mode in args.modes:
            report(mode, args.feeds, runs[root, mode], each=bool(args.against))
    if not shutil.which("newsboat"):
        print("newsboat: not installed (apt-get install newsboat), comparison skipped")
    elif nb_runs:
        polls = [statistics.median(r[i] for r in nb_runs) for i in range(3)]
        print(
            f"newsboat -x reload: cold {polls[0]:6.2f} s, second poll {polls[1]:6.2f} s, third poll (all 304) {polls[2]:6.2f} s"
        )


if __name__ == "__main__":
    main()
