"""Which attributes of a file are labels: from a MULAN XML file (beside the data or given), MEKA's
``-C n`` in the relation name, a count or a list of names (``--labels N|names|file.xml``).

A spec that contradicts the file's own declaration, or picks an attribute that cannot hold 0/1,
is refused: it would silently turn labels into features or features into labels.
"""

from __future__ import annotations

import difflib
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from streamlabels.streams.arff.errors import LabelSpecError
from streamlabels.streams.arff.header import ArffHeader

__all__ = ["LabelSpec", "check_label_kinds", "companion_xml", "label_indices"]

LabelSpec = Sequence[str] | int | str | os.PathLike | None

_HINT = (
    "pass the label names (labels=[...], or --labels on the command line), their count "
    "(labels=n for the first n attributes, labels=-n for the last n), or a MULAN XML file"
)


def companion_xml(path: Path) -> Path:
    """MULAN's label file for ``path``: ``x.arff``, ``x.arff.gz`` -> ``x.xml``."""
    name = path.name
    for suffix in (".gz", ".bz2"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if name.lower().endswith(".arff"):
        name = name[: -len(".arff")]
    return path.with_name(name + ".xml")


def _xml_label_names(xml: Path) -> list[str]:
    """Label names of a MULAN XML file, in document order (nested labels included)."""
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise LabelSpecError(f"cannot read the MULAN label file {xml}: {exc}") from exc
    names = [e.get("name") for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "label"]
    if not names or None in names:
        raise LabelSpecError(f"{xml} holds no <label name=...> elements")
    return names


def label_indices(header: ArffHeader, path: Path, labels: LabelSpec) -> list[int]:
    """Attribute positions of the labels, in label order, from any accepted spec."""
    names = [a.name for a in header.attributes]
    n_attr = len(names)
    if labels is None:
        xml = companion_xml(path)
        if xml.exists():
            return _named(_xml_label_names(xml), names, f"the label file {xml}", path)
        if header.meka_labels is None:
            raise LabelSpecError(
                f"{path}: cannot tell which attributes are labels: no MEKA '-C n' in the "
                f"relation name and no MULAN label file {xml.name} beside it; {_HINT}"
            )
        labels = header.meka_labels
    if isinstance(labels, bool):
        raise LabelSpecError(f"labels={labels!r} is not a label specification; {_HINT}")
    if isinstance(labels, int):
        _check_declared_count(header, path, labels)
        if labels == 0 or abs(labels) >= n_attr:
            raise LabelSpecError(
                f"{path}: {labels} labels leaves no features among {n_attr} attributes; {_HINT}"
            )
        return list(range(labels)) if labels > 0 else list(range(n_attr + labels, n_attr))
    if isinstance(labels, (str, os.PathLike)):
        xml = Path(labels)
        if not xml.is_file():
            raise LabelSpecError(
                f"labels={str(labels)!r} is not an existing MULAN XML file; to name a single "
                f"label pass a list, labels=[{str(labels)!r}]"
            )
        return _named(_xml_label_names(xml), names, f"the label file {xml}", path)
    return _named(list(labels), names, "labels=", path)


def check_label_kinds(header: ArffHeader, path: Path, label_idx: list[int]) -> None:
    """Refuse a label attribute whose declared type cannot hold 0/1 (a string, a date, a nominal
    list other than ``{0,1}``): the spec must be picking a feature."""
    for i in label_idx:
        a = header.attributes[i]
        if a.kind not in ("numeric", "nominal") or (
            a.kind == "nominal" and not set(a.values) <= {"0", "1"}
        ):
            declared = "{" + ",".join(a.values) + "}" if a.values is not None else a.kind
            raise LabelSpecError(
                f"{path}: attribute {a.name!r} ({declared}) cannot be a label; labels "
                "must be nominal {0,1} or numeric 0/1 — check the label specification"
            )


def _check_declared_count(header: ArffHeader, path: Path, labels: int) -> None:
    """A label count that contradicts the file's own declaration (a MULAN XML beside it, or
    MEKA's ``-C n``) would silently turn labels into features or features into labels."""
    xml = companion_xml(path)
    if xml.exists():
        declared, source = len(_xml_label_names(xml)), f"its label file {xml.name}"
    elif header.meka_labels is not None:
        declared, source = abs(header.meka_labels), "the MEKA '-C' option of its relation name"
    else:
        return
    if abs(labels) != declared:
        raise LabelSpecError(
            f"{path}: {source} declares {declared} labels, but labels={labels} asks for "
            f"{abs(labels)}"
        )


def _named(wanted: list[str], names: list[str], source: str, path: Path) -> list[int]:
    position = {name: i for i, name in enumerate(names)}
    missing = [w for w in wanted if w not in position]
    if missing:
        close = difflib.get_close_matches(str(missing[0]), names, n=1, cutoff=0.5)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        raise LabelSpecError(
            f"{path}: {len(missing)} label name(s) from {source} are not attributes of the "
            f"file: {missing[:5]}{suggestion}"
        )
    if len(set(wanted)) != len(wanted):
        raise LabelSpecError(f"{path}: label names from {source} repeat a name")
    if not wanted or len(wanted) == len(names):
        raise LabelSpecError(
            f"{path}: {source} must name at least one label and leave at least one feature"
        )
    return [position[w] for w in wanted]
