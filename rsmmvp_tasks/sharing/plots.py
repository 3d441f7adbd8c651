"""The charts of reports and boards, drawn with matplotlib's object API on the Agg canvas.

No pyplot: nothing global is touched (no backend switch, no open figures), so the functions are
safe in notebooks and threads. Each returns PNG bytes.

- :func:`pattern_bars`: pair accuracy per visual pattern with 95% interval whiskers, an "All"
  bar, and the human and chance reference lines; each value is written at its bar's top beside the
  whisker line (never across it), the legend sits beside the axes, a long title is wrapped, then cut;
- :func:`human_reference`: where the paper's human line applies (the full RSMMVP dataset's tasks,
  :data:`HUMAN_TASKS`) unless the user set one;
- :func:`heat_map`: pair accuracy per model and visual pattern.
"""

from __future__ import annotations

import enum
import io
import math
from collections.abc import Sequence

__all__ = ["CHANCE", "HUMAN", "HUMAN_AUTO", "HUMAN_TASKS", "heat_map", "human_reference", "pattern_bars"]

#: pair accuracy of a random guesser on two-option pairs (0.5 x 0.5), in percent
CHANCE = 25.0
#: human pair accuracy on RSMMVP reported by the paper (Adejumo et al., 2025), in percent
HUMAN = 91.7
#: the tasks that evaluate the paper's dataset (``IVUlab/RSMMVP``), where :data:`HUMAN` means something
HUMAN_TASKS = frozenset({"rsmmvp", "rsmmvp_cot", "rsmmvp_circular"})


class _HumanDefault(enum.Enum):
    AUTO = "auto"  # not a str: argparse would pass a str default through --human's type


#: ``--human``'s default: the paper's line on :data:`HUMAN_TASKS`, none elsewhere
HUMAN_AUTO = _HumanDefault.AUTO
#: a chart title longer than this many characters per line is wrapped (at most two lines, then cut)
TITLE_CHARS = 70


def human_reference(task: str, choice: float | _HumanDefault | None = HUMAN_AUTO) -> float | None:
    """The human reference line (percent) to draw for ``task``: ``choice`` when it is a number (``--human PCT``),
    none for ``None`` (``--no-human``), and for :data:`HUMAN_AUTO` the paper's :data:`HUMAN` on the tasks of
    the full RSMMVP dataset (:data:`HUMAN_TASKS`) only: on a sample or a user's own dataset it means nothing."""
    if choice is HUMAN_AUTO:
        return HUMAN if task in HUMAN_TASKS else None
    return None if choice is None else float(choice)


def _wrapped(title: str, width: int = TITLE_CHARS) -> str:
    import textwrap

    lines = textwrap.wrap(title, width, break_long_words=True, break_on_hyphens=False)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1].rstrip() + "\u2026"]
    return "\n".join(lines)


def _png(fig: object) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # attaches the canvas to the figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return buf.getvalue()


def _pct(x: float | None) -> float:
    return math.nan if x is None else 100.0 * float(x)


def pattern_bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    *,
    title: str,
    human: float | None = HUMAN,
    chance: float | None = CHANCE,
) -> bytes:
    """Bars of fractions (drawn in percent) with asymmetric interval whiskers; the last bar may be "All".

    ``title`` is wrapped at :data:`TITLE_CHARS` characters (two lines at most, then cut with "…");
    ``human`` / ``chance`` (percent, ``None`` for none) are drawn as reference lines."""
    from matplotlib.figure import Figure

    vals = [_pct(v) for v in values]
    err_lo = [max(0.0, v - _pct(lo)) if not math.isnan(v) and lo is not None else 0.0 for v, lo in zip(vals, lows, strict=False)]
    err_hi = [max(0.0, _pct(hi) - v) if not math.isnan(v) and hi is not None else 0.0 for v, hi in zip(vals, highs, strict=False)]
    fig = Figure(figsize=(max(5.0, 0.9 * len(labels) + 2.0), 4.2))
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    colors = ["#4c72b0"] * len(labels)
    if labels and labels[-1].startswith("All"):
        colors[-1] = "#222222"
    ax.bar(x, [0.0 if math.isnan(v) else v for v in vals], color=colors, width=0.65,
           yerr=[err_lo, err_hi], capsize=4, ecolor="#555555", error_kw={"linewidth": 1})
    if human is not None:
        ax.axhline(human, color="#2a9d8f", linestyle="--", linewidth=1.2, label=f"human {human:g}%")
    if chance is not None:
        ax.axhline(chance, color="#e76f51", linestyle=":", linewidth=1.4, label=f"chance {chance:g}%")
    for xi, v in zip(x, vals, strict=False):  # at the bar's top, right of the whisker line (never across it or its caps)
        ax.text(xi + 0.07, (0.0 if math.isnan(v) else v) + 1.0, "-" if math.isnan(v) else f"{v:.0f}", ha="left",
                va="bottom", fontsize=8, bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                                               "edgecolor": "none", "alpha": 0.85})
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("pair accuracy (%)")
    ax.set_title(_wrapped(title), fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    if human is not None or chance is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)  # beside the bars, over none
    return _png(fig)


def heat_map(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]], *,
             title: str) -> bytes:
    """A models x patterns grid of pair accuracy (fractions, drawn in percent; ``None`` = no pair)."""
    import numpy as np
    from matplotlib.figure import Figure

    grid = np.array([[_pct(v) for v in row] for row in values], dtype=float).reshape(len(rows), len(columns))
    fig = Figure(figsize=(max(5.0, 0.75 * len(columns) + 3.5), max(2.2, 0.45 * len(rows) + 1.6)))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(grid)
    from matplotlib import colormaps

    cmap = colormaps["viridis"].with_extremes(bad="#dddddd")
    image = ax.imshow(masked, cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid[i, j]
            ax.text(j, i, "-" if math.isnan(v) else f"{v:.0f}", ha="center", va="center", fontsize=8,
                    color="black" if not math.isnan(v) and v > 60 else "white" if not math.isnan(v) else "#555555")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="pair accuracy (%)", fraction=0.04)
    return _png(fig)
