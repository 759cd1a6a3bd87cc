"""Sphinx configuration of the docs site (``make docs``).

Sphinx, not MkDocs: the docstrings are numpydoc with reStructuredText inside (roles such as
:class:, tables, doctest blocks), which autodoc and napoleon render as written. The guides stay
Markdown (MyST). The notebooks are not run here: their figures are PNGs that
``make docs-figures`` stores in docs/figures/ from a run of each notebook.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

DOCS = Path(__file__).resolve().parent
NOTEBOOKS = DOCS.parent / "notebooks"
FIGURES = DOCS / "figures"

project = "streamlabels"
author = "the streamlabels authors"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "description": "online multi-label classification of data streams",
    "page_width": "1160px",
}
html_static_path: list[str] = []
myst_heading_anchors = 3  # links to a guide's sections: [§8](algorithm.md#8-decision-layer-d)

autodoc_member_order = "bysource"
autodoc_typehints = "description"  # long signatures stay readable
autodoc_default_options = {"members": True}
napoleon_google_docstring = False
napoleon_use_ivar = True  # "Attributes" as fields, not entries that clash with properties


def _notebook_figures() -> str:
    """A section per notebook: its title, its opening paragraph and the figures it drew."""
    sections = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        first = "".join(cells[0]["source"]).split("\n\n")
        title, opening = first[0].lstrip("# ").strip(), first[1].strip()
        count = len(list(FIGURES.glob(f"{path.stem}-*.png")))
        shown = "\n\n".join(
            f"![{title}: figure {k}](figures/{path.stem}-{k}.png)" for k in range(1, count + 1)
        )
        sections.append(f"## {title}\n\n`notebooks/{path.name}`: {opening}\n\n{shown}\n")
    return "\n".join(sections)


def _service_settings() -> str:
    """Every setting of ``streamlabels serve``: flag, environment variable, default, meaning."""
    from streamlabels_service.config import ENV_PREFIX, ServiceConfig

    lines = []
    for f in fields(ServiceConfig):
        meta = f.metadata
        names = [f"`--{f.name.replace('_', '-')}`"] if meta["flag"] else []
        names.append(f"`{ENV_PREFIX}{f.name.upper()}`")
        default = "" if f.default is None else f" (default `{f.default}`)"
        lines.append(f"- {', '.join(names)}{default}: {meta['help']}")
    return "\n".join(lines) + "\n"


GENERATED = {"notebooks": _notebook_figures, "api/service": _service_settings}
"""Pages whose ``<!-- generated -->`` mark is replaced at build time."""


def _fill(app, docname: str, source: list[str]) -> None:
    if docname in GENERATED:
        source[0] = source[0].replace("<!-- generated -->", GENERATED[docname]())


def setup(app) -> None:
    app.connect("source-read", _fill)
