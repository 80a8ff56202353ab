"""Slice-aware training: slicing functions, the slice matrix, SliceAwareClassifier.

A *slice* is a subset of the data that matters more than its size suggests
(a rare but critical kind of input). Slicing functions mark its points;
:class:`SliceAwareClassifier` gives each slice an indicator head and an
expert, and lets the final head attend to the expert of the slice a point
belongs to. See ``notebooks/05_slicing.ipynb``.
"""

from __future__ import annotations

from mtl_teach.slicing.classifier import SliceAwareClassifier
from mtl_teach.slicing.combiner import SliceCombiner
from mtl_teach.slicing.scores import compare_slice_scores, score_on_slices, slice_remap
from mtl_teach.slicing.slicing_functions import BASE_SLICE, SlicingFunction, apply_slicing_functions, slicing_function
from mtl_teach.slicing.tasks import (
    add_slice_labels,
    convert_to_slice_tasks,
    ind_task_name,
    pred_task_name,
    slice_names_of,
)

__all__ = [
    "BASE_SLICE",
    "SliceAwareClassifier",
    "SliceCombiner",
    "SlicingFunction",
    "add_slice_labels",
    "apply_slicing_functions",
    "compare_slice_scores",
    "convert_to_slice_tasks",
    "ind_task_name",
    "pred_task_name",
    "score_on_slices",
    "slice_names_of",
    "slice_remap",
    "slicing_function",
]
