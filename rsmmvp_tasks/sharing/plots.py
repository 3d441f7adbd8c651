"""The charts of reports and boards, drawn with matplotlib's object API on the Agg canvas.

No pyplot: nothing global is touched (no backend switch, no open figures), so the functions are
safe in notebooks and threads. Each returns PNG bytes.

- :func:`pattern_bars`: pair accuracy per visual pattern with 95% interval whiskers, an "All"
  bar, and the human and chance reference lines;
- :func:`heat_map`: pair accuracy per model and visual pattern.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

__all__ = ["CHANCE", "HUMAN", "pattern_bars", "heat_map"]

#: pair accuracy of a random guesser on two-option pairs (0.5 x 0.5), in percent
CHANCE = 25.0
#: human pair accuracy on RSMMVP reported by the paper (Adejumo et al., 2025), in percent
HUMAN = 91.7


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
    """Bars of fractions (drawn in percent) with asymmetric interval whiskers; the last bar may be "All"."""
    from matplotlib.figure import Figure

    vals = [_pct(v) for v in values]
    err_lo = [max(0.0, v - _pct(lo)) if not math.isnan(v) and lo is not None else 0.0 for v, lo in zip(vals, lows)]
    err_hi = [max(0.0, _pct(hi) - v) if not math.isnan(v) and hi is not None else 0.0 for v, hi in zip(vals, highs)]
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
    for xi, v in zip(x, vals):
        ax.text(xi, (0 if math.isnan(v) else v) + 1.5, "-" if math.isnan(v) else f"{v:.0f}", ha="center",
                va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 114)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("pair accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    if human is not None or chance is not None:
        ax.legend(loc="upper right", fontsize=8, frameon=False, ncol=2)
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
