"""Reading multi-label ARFF files (MULAN and MEKA conventions), dense or sparse.

The common ARFF readers either cannot read sparse rows (``scipy.io.arff``), leave
labels as the strings ``'0'``/``'1'``, or depend on one of several incompatible
third-party ``arff`` packages. This package is a small self-contained parser that
knows where multi-label files keep their labels:

* MULAN: label names are listed in a companion XML file (``emotions.xml`` beside
  ``emotions.arff``), or given by the caller;
* MEKA: the relation name holds ``-C n`` (the first ``n`` attributes are labels)
  or ``-C -n`` (the last ``n``).

Two ways of reading are offered. :class:`ArffStream` walks the file line by line
and yields river-style ``(x, y)`` pairs, so memory stays bounded whatever the file
size. :func:`load_arff` reads a whole file into numpy / scipy arrays with
vectorised parsing, for offline experiments and fast evaluation.

Its modules, by concern: :mod:`.header` (relation, attributes, MEKA ``-C n``), :mod:`.labels`
(which attributes are labels), :mod:`.dense` and :mod:`.sparse` (data rows), :mod:`.columns`
(what each value means), :mod:`.text` (files, lines, quoting) and :mod:`.reader` (the readers).

Value conventions
-----------------
* Numeric attributes (``numeric``, ``real``, ``integer``) become ``float``.
* Nominal *features* become the ``float`` position of the value in the declared
  list: with ``{red, green, blue}``, ``green`` is ``1.0``. For the ubiquitous
  ``{0,1}`` features this is the value itself, and it agrees with the sparse-row
  rule that an absent value is the first declared one.
* Labels (nominal ``{0,1}`` or numeric 0/1) become ``bool``; a label absent from
  a sparse row is ``False``.
* ``?`` marks a missing value: the feature is left out of ``x`` when streaming and
  is ``NaN`` in arrays. A missing label is an error, since ``y`` must be complete.

Examples
--------
>>> import pathlib, tempfile
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> _ = (tmp / "toy.arff").write_text(
...     "@relation 'toy: -C 2'\\n"
...     "@attribute sport {0,1}\\n@attribute art {0,1}\\n"
...     "@attribute length numeric\\n@attribute colour {red,green}\\n"
...     "@data\\n1,0,2.5,green\\n{1 1, 2 7}\\n")
>>> stream = ArffStream(tmp / "toy.arff")
>>> stream.label_names, stream.feature_names
(['sport', 'art'], ['length', 'colour'])
>>> for x, y in stream:
...     print(x, y)
{'length': 2.5, 'colour': 1.0} {'sport': True, 'art': False}
{'length': 7.0} {'sport': False, 'art': True}
>>> data = load_arff(tmp / "toy.arff")
>>> data.X
array([[2.5, 1. ],
       [7. , 0. ]])
>>> data.Y
array([[ True, False],
       [False,  True]])
"""

from __future__ import annotations

from streamlabels.streams.arff.errors import ArffError, LabelSpecError
# The vectorised reader's "read this line by line" signal; tests raise it to force that path.
from streamlabels.streams.arff.errors import Fallback as _Fallback  # noqa: F401
from streamlabels.streams.arff.header import ArffHeader, Attribute, read_header
from streamlabels.streams.arff.labels import LabelSpec
from streamlabels.streams.arff.reader import ArffData, ArffStream, load_arff

__all__ = [
    "ArffData",
    "ArffError",
    "ArffHeader",
    "ArffStream",
    "Attribute",
    "LabelSpec",
    "LabelSpecError",
    "load_arff",
    "read_header",
]
