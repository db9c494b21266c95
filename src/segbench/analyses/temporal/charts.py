"""Charts of segments over time: migration heat maps and segment shares, drift marked in red."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from segbench.analyses.temporal.migration import TemporalSegments

DRIFT_COLOUR = "crimson"


def migration_heatmaps(result: TemporalSegments, names: dict[int, str] | None = None):
    """One heat map per transition: row-normalised migration (share of each source segment
    going to each target), counts written in the cells; drifted windows framed and titled in
    red. ``names`` labels segment ids (e.g. RFM names of the run)."""
    transitions = result.transitions
    n = max(1, len(transitions))
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n + 1, 4.2), squeeze=False)
    for ax, t in zip(axes[0], transitions, strict=False):
        counts = t.matrix.to_numpy(dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)

        def label(value: str) -> str:
            if names and value.lstrip("-").isdigit() and int(value) in names:
                return f"{value} {names[int(value)]}"
            return value

        ax.set_xticks(
            range(counts.shape[1]),
            [label(c) for c in t.matrix.columns],
            rotation=60,
            ha="right",
            fontsize=7,
        )
        ax.set_yticks(range(counts.shape[0]), [label(r) for r in t.matrix.index], fontsize=7)
        for i in range(counts.shape[0]):
            for j in range(counts.shape[1]):
                if counts[i, j]:
                    ax.text(
                        j,
                        i,
                        f"{int(counts[i, j])}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if shares[i, j] > 0.5 else "black",
                    )
        title = f"{t.source} → {t.target}\nmodel ARI {t.model_ari:.2f} · stay {t.stay_rate:.0%}"
        if t.drift:
            title += " · DRIFT"
            for spine in ax.spines.values():
                spine.set_edgecolor(DRIFT_COLOUR)
                spine.set_linewidth(2.5)
        ax.set_title(title, fontsize=8, color=DRIFT_COLOUR if t.drift else "black")
        ax.set_xlabel("to segment", fontsize=7)
        ax.set_ylabel("from segment", fontsize=7)
    if not transitions:
        axes[0][0].text(0.5, 0.5, "one window only: no migration", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle("Segment migration between consecutive windows (rows sum to 100 %)", fontsize=9)
    fig.tight_layout()
    return fig


def share_chart(result: TemporalSegments, names: dict[int, str] | None = None):
    """Stacked segment shares per window; drifted windows marked in red."""
    shares = result.shares
    fig, ax = plt.subplots(figsize=(1.2 * len(shares) + 3, 4))
    bottom = np.zeros(len(shares))
    cmap = plt.get_cmap("tab10" if shares.shape[1] <= 10 else "tab20")
    for i, seg in enumerate(shares.columns):
        name = (
            "noise"
            if seg == -1
            else f"{seg}" + (f" {names[seg]}" if names and seg in names else "")
        )
        ax.bar(range(len(shares)), shares[seg], bottom=bottom, color=cmap(i % cmap.N), label=name)
        bottom += shares[seg].to_numpy()
    drift = set(result.drift_windows)
    ax.set_xticks(range(len(shares)), shares.index)
    for tick, window in zip(ax.get_xticklabels(), shares.index, strict=True):
        if window in drift:
            tick.set_color(DRIFT_COLOUR)
            tick.set_fontweight("bold")
    for i, window in enumerate(shares.index):
        if window in drift:
            ax.annotate("drift", (i, 1.01), ha="center", color=DRIFT_COLOUR, fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("share of active customers")
    ax.set_title("Segment shares per window (matched ids; drift in red)", fontsize=9)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig
