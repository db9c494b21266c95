"""The segment card: one Markdown page per run that says, segment by segment, who is in it.

For every segment: its size, flags (fairness and privacy), then *sections* in order — by
default its profile, the surrogate-tree rules that describe it, its most distinguishing
features and its group composition per sensitive attribute. The card is a value
(:class:`SegmentCard`) until rendered, so later stages can add to it: a readable name per
segment (:meth:`SegmentCard.set_names`), more per-segment sections such as offers
(:meth:`SegmentCard.add_section`, with a position), more flags or summary lines.

Example
-------
>>> card = SegmentCard("demo", sizes={0: 40, 1: 60})
>>> _ = card.add_section("Offer", {0: "loyalty voucher", 1: "win-back discount"})
>>> _ = card.set_names({0: "champions"})
>>> "### Segment 0 — champions" in card.to_markdown()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segbench.reporting.numbers import readable

SUPPRESSED = "suppressed (fewer customers than privacy.min_cell_size)"


@dataclass
class SegmentCard:
    """A segment card under construction (see the module docstring)."""

    title: str
    sizes: dict[int, int]
    summary: list[str] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    flags: dict[int, list[str]] = field(default_factory=dict)
    sections: list[tuple[str, dict[int, str]]] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)

    def add_section(
        self, title: str, content: Mapping[int, str], position: int | None = None
    ) -> SegmentCard:
        """Add a per-segment section (Markdown per segment) at ``position`` (default: last)."""
        entry = (title, {int(k): str(v) for k, v in content.items()})
        if position is None:
            self.sections.append(entry)
        else:
            self.sections.insert(position, entry)
        return self

    def set_names(self, names: Mapping[int, str]) -> SegmentCard:
        """Readable segment names, shown in each segment's heading."""
        self.names.update({int(k): str(v) for k, v in names.items()})
        return self

    def add_flag(self, segment: int, text: str) -> SegmentCard:
        self.flags.setdefault(int(segment), []).append(text)
        return self

    def to_markdown(self) -> str:
        total = sum(self.sizes.values()) or 1
        lines = [f"# Segment card — {self.title}", ""]
        if self.summary:
            lines += [*self.summary, ""]
        for segment in sorted(self.sizes):
            name = self.names.get(segment)
            label = "noise (no segment)" if segment == -1 else f"Segment {segment}"
            lines.append(f"### {label}" + (f" — {name}" if name else ""))
            lines.append("")
            size = self.sizes[segment]
            lines.append(f"**Size:** {size} customers ({size / total:.1%})")
            lines.append("")
            flags = self.flags.get(segment, [])
            lines.append("**Flags:** " + ("; ".join(flags) if flags else "none"))
            lines.append("")
            for title, content in self.sections:
                text = content.get(segment)
                if text is None:
                    continue
                lines += [f"**{title}**", "", text.rstrip(), ""]
        if self.footer:
            lines += ["---", "", *self.footer, ""]
        return "\n".join(lines)


def _value(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float | np.floating):
        return readable(float(value))
    return str(value)


def profile_section(profiles: pd.DataFrame) -> dict[int, str]:
    """Each segment's row of the (k-anonymised) profile table as a compact list."""
    out: dict[int, str] = {}
    skip = {"name", "size", "share", "small_segment"}
    for segment, row in profiles.iterrows():
        if bool(row.get("small_segment", False)):
            out[int(segment)] = f"_{SUPPRESSED}_"
            continue
        items = [
            f"{column.removeprefix('mean_')} {_value(row[column])}"
            for column in profiles.columns
            if column not in skip and not pd.isna(row[column])
        ]
        out[int(segment)] = " · ".join(items) if items else "_no readable profile columns_"
    return out


def _share(value: object, spec: str) -> str:
    return "–" if pd.isna(value) else format(float(value), spec)


def group_section(tables: Mapping[str, pd.DataFrame], max_groups: int = 12) -> dict[int, str]:
    """Per segment, one small table per attribute: count, share, population share, ratio.

    Cells the k-anonymised table suppressed (fewer than k customers, or complementary to such
    a cell) read "suppressed". An attribute with more than ``max_groups`` groups shows its
    ``max_groups`` largest (by population share) and says how many more the artifact lists.
    """
    out: dict[int, list[str]] = {}
    for attribute, table in tables.items():
        shares = table.drop_duplicates("group").set_index("group")["population_share"]
        totals = shares.astype(float).fillna(0.0)  # a suppressed share: under k customers
        largest = set(totals.sort_values(ascending=False, kind="stable").index[:max_groups])
        rest = len(totals) - len(largest)
        for segment, rows in table.groupby("segment", sort=True):
            lines = out.setdefault(int(segment), [])
            lines += [
                f"_{attribute}_",
                "",
                "| group | customers | share of segment | share of population | representation |",
                "|---|---:|---:|---:|---:|",
            ]
            for _, row in rows[rows["group"].isin(largest)].iterrows():
                hidden = pd.isna(row["count"])
                count = "suppressed" if hidden else str(int(row["count"]))
                lines.append(
                    f"| {row['group']} | {count} | {_share(row['segment_share'], '.1%')} | "
                    f"{_share(row['population_share'], '.1%')} | "
                    f"{_share(row['representation'], '.2f')} |"
                )
            if rest > 0:
                lines.append(
                    f"\n{rest} smaller {attribute} groups: see `fairness/segment_groups.csv`."
                )
            lines.append("")
    return {segment: "\n".join(lines) for segment, lines in out.items()}


def bullet_section(items: Mapping[int, list[str]], empty: str) -> dict[int, str]:
    """Per segment, a bulleted list (or ``empty`` in italics)."""
    return {
        int(segment): "\n".join(f"- {item}" for item in lines) if lines else f"_{empty}_"
        for segment, lines in items.items()
    }
