"""Plots for the notebooks: decision boundaries, data, curves, the task graph.

Every helper imports matplotlib only when it draws, so ``import mtl_teach``
stays light. Each returns what it drew (a Display, Axes or Figure) so that
tests and notebooks can check the numbers behind the picture.
"""

from __future__ import annotations

from mtl_teach.plotting.architectures import CrossStitchDisplay, GateWeightsDisplay
from mtl_teach.plotting.balancing import GradCosineDisplay, TaskWeightsDisplay, ToyTrajectoriesDisplay
from mtl_teach.plotting.boundary import (
    DecisionBoundaryDisplay,
    class_legend,
    compare_boundaries,
    grid_response,
    make_grid,
    plot_decision_boundaries,
)
from mtl_teach.plotting.curves import plot_training_curves
from mtl_teach.plotting.digits import DigitsDisplay
from mtl_teach.plotting.evolution import plot_boundary_evolution
from mtl_teach.plotting.features import plot_trunk_features, trunk_features
from mtl_teach.plotting.slices import (
    SliceAttentionDisplay,
    outline_slice,
    plot_slice_boundaries,
    plot_sliced_dataset,
    slice_box,
)
from mtl_teach.plotting.taskgraph import TaskGraph, plot_task_graph, task_graph
from mtl_teach.plotting.toy_data import draw_true_boundary, plot_dataset, plot_tutorial_datasets

__all__ = [
    "CrossStitchDisplay",
    "DecisionBoundaryDisplay",
    "DigitsDisplay",
    "GateWeightsDisplay",
    "GradCosineDisplay",
    "SliceAttentionDisplay",
    "TaskGraph",
    "TaskWeightsDisplay",
    "ToyTrajectoriesDisplay",
    "class_legend",
    "compare_boundaries",
    "draw_true_boundary",
    "grid_response",
    "make_grid",
    "outline_slice",
    "plot_boundary_evolution",
    "plot_dataset",
    "plot_decision_boundaries",
    "plot_slice_boundaries",
    "plot_sliced_dataset",
    "plot_task_graph",
    "plot_training_curves",
    "plot_trunk_features",
    "plot_tutorial_datasets",
    "slice_box",
    "task_graph",
    "trunk_features",
]
