"""Figures of a segmentation, as matplotlib figures (saved by the tracker).

Every figure writes a segment as :func:`segbench.reporting.names.segment_label` does
(``"2 · champions"``), with the run's names (the ``name`` column of its profile table), and
gives each segment the same colour (:func:`segment_colours`) in every figure of the run.

==========================  ===============================================================
artifact                    what it shows
==========================  ===============================================================
``plots/projection.png``    2-D PCA projection coloured by segment (≤ 5,000 sampled points)
``plots/segment_sizes.png`` customers per segment
``plots/silhouette.png``    each customer's silhouette, sorted within its segment, on the
                            run's silhouette sample (the same seeded sample of at most
                            ``evaluation.silhouette_sample_size`` customers as the logged
                            ``silhouette``, whose value is the dashed line)
``plots/profile_heatmap.png`` segments × readable features: the colour is the segment's
                            standardised mean difference from all customers (in standard
                            deviations, :mod:`segbench.reporting.distinguishing`), the text
                            its mean; suppressed cells grey
==========================  ===============================================================

:func:`segmentation_figures` sketches them all (:mod:`segbench.reporting.drawing`);
:func:`segbench.tracking.outputs.sketch_plots` hands them to the run when ``tracking.log_plots``
is on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from segbench.data.sampling import sample_rows
from segbench.reporting.drawing import Sketch, pyplot
from segbench.reporting.names import names_of, segment_label, segment_labels
from segbench.reporting.numbers import readable

MAX_POINTS = 5000
MAX_HEATMAP_FEATURES = 24
NOISE_COLOUR = "#c8c8c8"

Names = Mapping[int, str] | None


def segment_colours(segments: Sequence[int] | np.ndarray) -> dict[int, str]:
    """One colour per segment id (hex), the same in every figure of a run: ``tab10`` (``tab20``
    above ten segments) in id order; noise light grey.

    >>> segment_colours([-1, 0, 1])
    {-1: '#c8c8c8', 0: '#1f77b4', 1: '#ff7f0e'}
    """
    from matplotlib.colors import to_hex

    ids = sorted({int(s) for s in segments if int(s) != -1})
    cmap = pyplot().get_cmap("tab10" if len(ids) <= 10 else "tab20")
    colours = {s: to_hex(cmap(i % cmap.N)) for i, s in enumerate(ids)}
    if any(int(s) == -1 for s in segments):
        colours = {-1: NOISE_COLOUR, **colours}
    return colours


def projection_scatter(
    X: np.ndarray, labels: np.ndarray, title: str, seed: int = 0, names: Names = None
):
    """2-D PCA projection coloured by segment (at most 5,000 sampled points; noise grey)."""
    idx = sample_rows(len(X), MAX_POINTS, seed)
    Xs, ls = (X, np.asarray(labels)) if idx is None else (X[idx], np.asarray(labels)[idx])
    if X.shape[1] >= 2:
        xy = PCA(n_components=2, random_state=seed).fit_transform(Xs)
    else:
        xy = np.column_stack([Xs[:, 0], np.zeros(len(Xs))])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colours = segment_colours(np.unique(np.asarray(labels)))
    for seg in np.unique(ls):
        mask = ls == seg
        ax.scatter(
            xy[mask, 0],
            xy[mask, 1],
            s=6,
            alpha=0.6,
            color=colours[int(seg)],
            label=segment_label(seg, names),
        )
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    shown = "" if idx is None else f" ({len(idx):,} of {len(X):,} customers, sampled)"
    ax.set_title(f"{title}{shown}", fontsize=10)
    ax.legend(markerscale=2, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def segment_sizes(labels: np.ndarray, title: str, names: Names = None):
    """Horizontal bars: customers per segment, named; the share written beside each bar."""
    segs, counts = np.unique(np.asarray(labels), return_counts=True)
    colours = segment_colours(segs)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(segs) + 1.4))
    ax.barh(range(len(segs)), counts, color=[colours[int(s)] for s in segs])
    ax.set_yticks(range(len(segs)), segment_labels(segs, names))
    ax.invert_yaxis()
    total = counts.sum()
    for i, n in enumerate(counts):
        ax.annotate(
            f" {n:,} ({n / total:.0%})", (n, i), va="center", fontsize=8, annotation_clip=False
        )
    ax.set_xlim(0, counts.max() * 1.18)
    ax.set_xlabel("customers")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def silhouette_plot(
    labels: np.ndarray,
    values: np.ndarray,
    title: str,
    names: Names = None,
    population: int | None = None,
    sample_size: int | None = None,
):
    """Rousseeuw's silhouette plot: each customer's silhouette (``values``, of the customers
    whose segments are ``labels``), sorted within its segment; the mean dashed.

    ``population``: customers the sample was drawn from and ``sample_size`` the setting, for
    the caption.
    """
    labels, values = np.asarray(labels), np.asarray(values, dtype=float)
    segs = np.unique(labels)
    colours = segment_colours(segs)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(segs) + 3))
    gap = max(len(values) // 60, 2)
    y, ticks = gap, []
    for seg in segs:
        own = np.sort(values[labels == seg])
        ax.fill_betweenx(
            np.arange(y, y + len(own)), 0, own, color=colours[int(seg)], lw=0, alpha=0.85
        )
        ticks.append(y + len(own) / 2)
        y += len(own) + gap
    mean = float(values.mean())
    ax.axvline(mean, ls="--", color="crimson", lw=1)
    ax.annotate(
        f"mean {mean:.3f}",
        (mean, 1),
        xycoords=("data", "axes fraction"),
        xytext=(4, -12),
        textcoords="offset points",
        color="crimson",
        fontsize=8,
    )
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(ticks, segment_labels(segs, names), fontsize=8)
    ax.invert_yaxis()
    ax.set_ylim(y, 0)
    ax.set_xlim(min(-0.1, float(values.min()) - 0.05), 1)
    ax.set_xlabel("silhouette (−1 … 1: how much closer to its own segment than to the next)")
    drawn = f"{len(values):,} customers"
    if population is not None and population > len(values):
        drawn = (
            f"seeded sample of {len(values):,} of {population:,} customers "
            f"(evaluation.silhouette_sample_size={sample_size})"
        )
    ax.set_title(f"Silhouette per customer · {title}\n{drawn}", fontsize=9)
    fig.tight_layout()
    return fig


def profile_effects(profiles: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """Segments × readable columns: ``(segment mean − overall mean) / overall sd``.

    ``profiles``: the run's profile table (``mean_<column>``; suppressed cells missing stay
    missing); ``profile``: the readable columns per customer (for the overall mean and sd).

    >>> profile = pd.DataFrame({"spend": [1.0, 3.0, 5.0, 7.0]})
    >>> profiles = pd.DataFrame({"mean_spend": [2.0, 6.0]}, index=[0, 1])
    >>> profile_effects(profiles, profile).round(2)["spend"].tolist()
    [-0.89, 0.89]
    """
    columns = [
        c
        for c in profile.columns
        if pd.api.types.is_numeric_dtype(profile[c]) and f"mean_{c}" in profiles.columns
    ]
    values = profile[columns].astype(float)
    spread = values.std(ddof=0).replace(0.0, np.nan)
    means = profiles[[f"mean_{c}" for c in columns]].astype(float)
    means.columns = columns
    return (means - values.mean()) / spread


def profile_heatmap(profiles: pd.DataFrame, profile: pd.DataFrame, title: str, names: Names = None):
    """Segments × readable features, standardised (module docstring); ``None`` without a
    readable numeric column."""
    effects = profile_effects(profiles, profile)
    if effects.shape[1] == 0:
        return None
    if effects.shape[1] > MAX_HEATMAP_FEATURES:
        keep = effects.abs().max().sort_values(ascending=False).index[:MAX_HEATMAP_FEATURES]
        effects = effects[[c for c in effects.columns if c in set(keep)]]
    means = profiles[[f"mean_{c}" for c in effects.columns]]
    rows, cols = effects.shape
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.95 * cols + 3.5), 0.5 * rows + 2.2))
    shown = np.ma.masked_invalid(effects.to_numpy(dtype=float))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#e0e0e0")
    image = ax.imshow(shown, cmap=cmap, vmin=-2, vmax=2, aspect="auto")
    for i in range(rows):
        for j in range(cols):
            d = effects.iat[i, j]
            text = "suppressed" if pd.isna(d) else readable(float(means.iat[i, j]))
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if not pd.isna(d) and abs(d) > 1.3 else "black",
            )
    ax.set_xticks(range(cols), list(effects.columns), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(rows), segment_labels(effects.index, names), fontsize=8)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("difference from all customers (sd)", fontsize=8)
    ax.set_title(
        f"Segment profiles · {title}\ncolour: segment mean vs all customers, in standard "
        "deviations; text: segment mean",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def segmentation_figures(
    X: np.ndarray,
    labels: np.ndarray,
    profiles: pd.DataFrame,
    profile: pd.DataFrame,
    *,
    title: str,
    seed: int = 0,
    silhouette_sample_size: int = 10_000,
) -> Iterator[tuple[str, Sketch]]:
    """``(artifact path, sketch)`` of every figure in the module docstring: a
    :class:`~segbench.reporting.drawing.Sketch` draws it (``None`` when there is nothing to
    draw), in this process or beside it (:class:`~segbench.reporting.drawing.Drawer`).

    ``X``: the run's features; ``profiles``: its profile table (names from its ``name``
    column); ``profile``: the readable columns per customer; the silhouette sample is the
    one the logged ``silhouette`` was computed on (same size and seed).

    >>> X = np.array([[0.0, 0], [0, 1], [5, 5], [5, 6]])
    >>> profiles = pd.DataFrame({"mean_x": [0.0, 5.0]})
    >>> [path for path, _ in segmentation_figures(X, [0, 0, 1, 1], profiles,
    ...     pd.DataFrame({"x": X[:, 0]}), title="t")]  # doctest: +NORMALIZE_WHITESPACE
    ['plots/projection.png', 'plots/segment_sizes.png', 'plots/silhouette.png',
     'plots/profile_heatmap.png']
    """
    from segbench.evaluation.metrics import silhouette_sample

    labels = np.asarray(labels)
    names = names_of(profiles)
    yield "plots/projection.png", Sketch(projection_scatter, (X, labels, title, seed, names))
    yield "plots/segment_sizes.png", Sketch(segment_sizes, (labels, title, names))
    sample = silhouette_sample(X, labels, silhouette_sample_size, seed)  # the scorer's, kept
    if sample is not None:
        rows, values = sample
        population = int((labels != -1).sum())
        yield (
            "plots/silhouette.png",
            Sketch(
                silhouette_plot,
                (labels[rows], values, title, names, population, silhouette_sample_size),
            ),
        )
    yield "plots/profile_heatmap.png", Sketch(profile_heatmap, (profiles, profile, title, names))


__all__ = [
    "profile_effects",
    "profile_heatmap",
    "projection_scatter",
    "segment_colours",
    "segment_sizes",
    "segmentation_figures",
    "silhouette_plot",
]
