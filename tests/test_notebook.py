"""notebooks/features.ipynb runs end to end on a small slice of each series (so it cannot rot)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "features.ipynb"
# Appended to the parameters cell, so parameters added to the notebook later keep their value.
SMALL = "\n# tests/test_notebook.py: small slices\nSPX_ROWS = 1500\nINTRADAY_ROWS = 5000\n"


def _outputs(nb) -> tuple[str, int]:
    """All text the notebook printed or displayed, and the number of PNG images."""
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            data = out.get("data", {})
            texts.append(data.get("text/plain", ""))
            images += "image/png" in data
    return "\n".join(texts), images


def test_committed_notebook_is_clean_and_parametrised() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged `parameters`"
    for name in ("SPX_ROWS", "INTRADAY_ROWS", "HORIZON"):
        assert f"{name} =" in params[0].source
    for cell in nb.cells:  # committed without outputs
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow  # ~8 s on two busy cores
def test_features_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A kernelspec that runs this interpreter (the one with regime_trader installed), found
    # first because JUPYTER_PATH is searched before the user and system locations.
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (regime-trader tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source += SMALL
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError, with the traceback, if a cell fails

    text, images = _outputs(nb)
    assert "Rank IC table: spx" in text and "Rank IC table: btcusdt_1m" in text
    assert "1,500 bars" in text  # the slice was applied
    for column in ("overall", "uptrend", "downtrend", "plateau", "oscillating"):
        assert column in text
    assert "rsi_14@60min" in text  # hourly features joined to the intraday series
    assert images >= 3  # bar plots, and one heatmap per dataset
