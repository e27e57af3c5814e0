"""Draw a Chart as a PNG with matplotlib's Agg renderer (no display, no pyplot state).

matplotlib is imported on the first drawing only, so commands that draw nothing (once, check, run
until a chart is asked for) do not pay its import time. Text is set in DejaVu Sans (shipped with
matplotlib: Latin, Cyrillic including Ukrainian letters) with NanumGothic (shipped by the
koreanize-matplotlib package) as the fallback for Hangul; a glyph neither has is drawn as a box.
The size is fixed for a phone screen: WIDTH x HEIGHT pixels, large type, one colour per series.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import threading
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from bot.trends.series import Chart, Series

WIDTH, HEIGHT = 1200, 675  # pixels of every chart (16:9, readable on a phone held sideways)
DPI = 150
COLOURS = ("#3b6ea8", "#6a9f58", "#c44e52")
PEAK_COLOUR = "#d1495b"
FONTS = ["DejaVu Sans", "NanumGothic"]
_lock = threading.Lock()  # one drawing at a time: matplotlib's font cache and rcParams are shared


@cache
def _setup() -> None:
    """Import matplotlib (Agg) and register the Hangul font, once."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    # Found without importing the package: its __init__ imports pyplot and rewrites the global rcParams.
    spec = importlib.util.find_spec("koreanize_matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for name in ("NanumGothic.ttf", "NanumGothicBold.ttf"):
            path = Path(folder) / "fonts" / name
            if path.exists():  # not installed: Hangul is drawn as boxes
                font_manager.fontManager.addfont(str(path))
    # NanumGothicBold declares weight 600; say 700 so bold titles find it without a warning
    manager = font_manager.fontManager
    manager.ttflist = [
        dataclasses.replace(f, weight=700) if f.fname.endswith("NanumGothicBold.ttf") else f for f in manager.ttflist
    ]


def render_png(chart: Chart) -> bytes:
    """The chart as PNG bytes, WIDTH x HEIGHT pixels."""
    with _lock:
        _setup()
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        style: Any = {
            "font.family": FONTS,
            "font.size": 13,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 17,
            "axes.titleweight": "bold",
        }
        with matplotlib.rc_context(style):
            fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
            FigureCanvasAgg(fig)
            axes = fig.subplots(len(chart.series), 1, sharex=True, squeeze=False)[:, 0]
            for i, (ax, series) in enumerate(zip(axes, chart.series, strict=True)):
                _draw_series(ax, series, chart, COLOURS[i % len(COLOURS)], mark_peak=i == 0)
            axes[0].set_title(chart.title, loc="left")
            _label_x(axes[-1], chart)
            fig.subplots_adjust(left=0.08, right=0.985, top=0.9, bottom=0.145 if len(axes) == 1 else 0.1, hspace=0.25)
            out = io.BytesIO()
            fig.savefig(out, format="png", dpi=DPI)
        return out.getvalue()


def _draw_series(ax: Any, series: Series, chart: Chart, colour: str, *, mark_peak: bool) -> None:
    colours = [colour] * len(series.counts)
    peak = series.peak
    if mark_peak and peak >= 0:
        colours[peak] = PEAK_COLOUR
    _bars(ax, series.counts, 1.0 if chart.hourly else 0.9, colours)
    if chart.highlight_from is not None:
        first = next((i for i, s in enumerate(series.starts) if s >= chart.highlight_from), None)
        if first is not None:
            ax.axvspan(first - 0.5, len(series.counts) - 0.5, color=PEAK_COLOUR, alpha=0.12, linewidth=0)
    ax.set_ylabel(series.label)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(0, max(max(series.counts, default=0), 1) * 1.22)
    ax.grid(axis="y", alpha=0.3)
    ax.set_xlim(-0.7, len(series.counts) - 0.3)
    if mark_peak and peak >= 0:
        when = _peak_label(series.starts[peak], chart.hourly)
        ax.annotate(
            f"{series.counts[peak]} · {when}",
            (peak, series.counts[peak]),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center" if 4 < peak < len(series.counts) - 5 else ("left" if peak <= 4 else "right"),
            fontsize=13,
            fontweight="bold",
            color=PEAK_COLOUR,
        )


def _bars(ax: Any, counts: list[int], width: float, colours: list[str]) -> None:
    """Bars as one PolyCollection: Axes.bar makes an artist per bar (0.5 s for 168 bars)."""
    from matplotlib.collections import PolyCollection

    half = width / 2
    verts = [[(i - half, 0), (i - half, c), (i + half, c), (i + half, 0)] for i, c in enumerate(counts) if c]
    kept = [colours[i] for i, c in enumerate(counts) if c]
    ax.add_collection(PolyCollection(verts, facecolors=kept, linewidths=0), autolim=False)


def _peak_label(start: datetime, hourly: bool) -> str:
    return start.strftime("%a %d %b %H:00") if hourly else start.strftime("%a %d %b")


def _label_x(ax: Any, chart: Chart) -> None:
    starts = chart.series[0].starts
    if chart.hourly:
        ticks = [i for i, s in enumerate(starts) if s.hour == 0]
        labels = [starts[i].strftime("%a %d") for i in ticks]
    else:
        step = max(1, round(len(starts) / 7))
        ticks = list(range(len(starts) - 1, -1, -step))[::-1]
        labels = [starts[i].strftime("%d %b") for i in ticks]
    ax.set_xticks(ticks, labels)
    ax.set_xlabel(f"time zone: {chart.zone}", fontsize=11, color="#555555")
