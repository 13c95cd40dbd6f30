"""The eval walkthrough notebook executes top to bottom (on a small slice of the demo set)."""

from __future__ import annotations

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

from tests.conftest import REPO


def test_eval_walkthrough_notebook_runs_top_to_bottom(monkeypatch):
    monkeypatch.setenv("EVAL_LIMIT", "12")
    monkeypatch.setenv("ASSISTANT_REPO", str(REPO))
    path = REPO / "notebooks" / "eval_walkthrough.ipynb"
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert any("nDCG@10=" in o.get("text", "") for o in outputs)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2, "both plots rendered"
    assert not [o for o in outputs if o.get("output_type") == "error"]
