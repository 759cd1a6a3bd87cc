"""Every notebook in notebooks/ runs top to bottom without an error and draws at least one figure.

The kernel is this interpreter (a kernel spec written for the test), never whatever a user's
Jupyter set-up calls "python3", so the notebooks run against the checkout under test.

The docs site shows the figures of a run, stored in docs/figures/ (the build does not run the
notebooks): ``--write-figures`` (``make docs-figures``) stores them, and every run checks that
as many are stored as the notebook draws.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
FIGURES = NOTEBOOKS.parent / "docs" / "figures"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
NEEDS_DATA = {"01-quickstart.ipynb"}
KERNEL = "streamlabels-test"


@pytest.fixture(scope="session")
def kernel_manager_factory(tmp_path_factory):
    """Makes kernel managers whose only kernel spec launches ``sys.executable``."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    folder = tmp_path_factory.mktemp("kernels")
    (folder / KERNEL).mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "streamlabels test",
        "language": "python",
    }
    (folder / KERNEL / "kernel.json").write_text(json.dumps(spec))

    def make() -> KernelManager:
        specs = KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
        return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)

    return make


def test_there_are_notebooks():
    assert [p.name for p in PATHS][:3] == [
        "01-quickstart.ipynb", "02-drift.ipynb", "03-benchmarks.ipynb"
    ]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_and_draws(path, kernel_manager_factory, request):
    if path.name in NEEDS_DATA:
        request.getfixturevalue("data_dir")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        km=kernel_manager_factory(),
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert images, f"{path.name} drew no figure"
    if request.config.getoption("--write-figures"):
        for old in FIGURES.glob(f"{path.stem}-*.png"):
            old.unlink()
        for k, image in enumerate(images, 1):
            png = base64.b64decode(image.data["image/png"])
            (FIGURES / f"{path.stem}-{k}.png").write_bytes(png)
    stored = len(list(FIGURES.glob(f"{path.stem}-*.png")))
    assert stored == len(images), (
        f"docs/figures/ holds {stored} figures of {path.name}, which draws {len(images)}: "
        "make docs-figures"
    )
