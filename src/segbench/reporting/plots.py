"""Figures of a segmentation, as matplotlib figures (saved by the tracker)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from segbench.data.sampling import sample_rows

MAX_POINTS = 5000


def projection_scatter(X: np.ndarray, labels: np.ndarray, title: str, seed: int = 0):
    """2-D PCA projection coloured by segment (at most 5,000 sampled points; noise grey)."""
    idx = sample_rows(len(X), MAX_POINTS, seed)
    Xs, ls = (X, np.asarray(labels)) if idx is None else (X[idx], np.asarray(labels)[idx])
    if X.shape[1] >= 2:
        xy = PCA(n_components=2, random_state=seed).fit_transform(Xs)
    else:
        xy = np.column_stack([Xs[:, 0], np.zeros(len(Xs))])
    fig, ax = plt.subplots(figsize=(6.5, 5))
    cmap = plt.get_cmap("tab10" if len(np.unique(ls)) <= 10 else "tab20")
    for i, seg in enumerate(np.unique(ls)):
        mask = ls == seg
        color = "lightgrey" if seg == -1 else cmap(i % cmap.N)
        name = "noise" if seg == -1 else f"segment {seg}"
        ax.scatter(xy[mask, 0], xy[mask, 1], s=6, alpha=0.6, color=color, label=name)
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.set_title(title)
    ax.legend(markerscale=2, fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def segment_sizes(labels: np.ndarray, title: str):
    """Bar chart of segment sizes."""
    segs, counts = np.unique(np.asarray(labels), return_counts=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = ["noise" if s == -1 else str(s) for s in segs]
    ax.bar(range(len(segs)), counts, color="steelblue")
    ax.set_xticks(range(len(segs)), names)
    ax.set_xlabel("segment")
    ax.set_ylabel("customers")
    ax.set_title(title)
    fig.tight_layout()
    return fig
