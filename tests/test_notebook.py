"""The study notebook (experiments/segbench_study.ipynb) runs top to bottom (nbclient)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "segbench_study.ipynb"


@pytest.mark.slow
def test_study_notebook_executes_and_shows_the_leaderboard_and_two_plots(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGBENCH_NOTEBOOK_STORE", raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "12 runs in" in text
    markdown = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "synthetic · demographics+rfm" in markdown  # block order normalised
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "ari ↑" in html and "silhouette ↑" in html  # leaderboard tables rendered
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2
    assert "leaderboard.html" in text
