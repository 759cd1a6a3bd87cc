"""The vocabulary: feature names <-> columns and label names <-> ids, the one place where dicts,
tables and targets become the arrays the kernels take (:mod:`.features`, :mod:`.labels`)."""

from streamlabels.vocabulary.features import FeatureSpace, Row, dicts_to_csr, feature_dicts
from streamlabels.vocabulary.labels import LabelVocabulary, label_dicts, truth_value

__all__ = [
    "FeatureSpace", "LabelVocabulary", "Row", "dicts_to_csr", "feature_dicts", "label_dicts",
    "truth_value",
]
