"""Draw a model's task graph: inputs -> modules -> tasks, shared modules highlighted.

matplotlib only (no graphviz): nodes are text boxes placed in columns by
depth, edges are arrows coloured by the task that runs through them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mtl_teach.plotting._common import TASK_COLORS, check_model, new_axes, pyplot
from mtl_teach.task import INPUT

if TYPE_CHECKING:
    from mtl_teach.model import MultitaskClassifier

# Shared modules stand out by a dark neutral fill and a bold frame, never by a
# hue: hues are the tasks' (TASK_COLORS), and a shared module belongs to no one task.
SHARED_FILL = "#9E9E9E"
MODULE_FILL = "#EEEEEE"
INPUT_FILL = "white"


@dataclass
class TaskGraph:
    """Nodes (by column) and edges of a model's task graph.

    ``nodes`` maps a node id to ``(kind, label, column)`` with kind one of
    ``"input"``, ``"module"``, ``"shared"``, ``"task"``; ``edges`` holds
    ``(source id, target id, task name)``.
    """

    nodes: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)

    def __repr__(self) -> str:
        kinds = [kind for kind, _, _ in self.nodes.values()]
        return f"TaskGraph(inputs={kinds.count('input')}, modules={kinds.count('module') + kinds.count('shared')}, shared={kinds.count('shared')}, tasks={kinds.count('task')}, edges={len(self.edges)})"


def task_graph(model: MultitaskClassifier) -> TaskGraph:
    """Build the :class:`TaskGraph` of ``model`` (modules are nodes by name).

    Parameters
    ----------
    model
        The model whose tasks, modules and inputs become the graph's nodes.

    Returns
    -------
    TaskGraph
        Nodes (inputs, modules, shared modules, tasks) and edges.
    """
    check_model(model, "task_graph")
    shared = set(model.shared_modules())
    graph = TaskGraph()
    depth: dict[str, int] = {}
    for task_name, task in model.tasks.items():
        op_node: dict[str, str] = {}  # op name -> node id, within this task
        for op in task.op_sequence:
            node = f"module:{op.module_name}"
            sources = []
            for item in op.inputs:
                name, selector = (item, None) if isinstance(item, str) else item
                if name == INPUT:
                    label = "X_dict" if selector is None else str(selector)
                    source = f"input:{label}"
                    graph.nodes.setdefault(source, ("input", label, 0))
                    depth.setdefault(source, 0)
                else:
                    source = op_node[name]
                sources.append(source)
            # A module sits one column right of the deepest thing feeding it.
            depth[node] = max(depth.get(node, 1), *(depth[s] + 1 for s in sources)) if sources else depth.get(node, 1)
            kind = "shared" if op.module_name in shared else "module"
            graph.nodes[node] = (kind, op.module_name + ("\n(shared)" if kind == "shared" else ""), depth[node])
            graph.edges.extend((source, node, task_name) for source in sources)
            op_node[op.name] = node
        last = op_node[task.op_sequence[-1].name]
        graph.nodes[f"task:{task_name}"] = ("task", task_name, -1)  # column set below
        graph.edges.append((last, f"task:{task_name}", task_name))
    final = max((column for _, _, column in graph.nodes.values()), default=0) + 1
    for node, (kind, label, column) in list(graph.nodes.items()):
        graph.nodes[node] = (kind, label, final if kind == "task" else column)
    return graph


def plot_task_graph(model: MultitaskClassifier, *, ax: Any = None) -> Any:
    """Draw which modules each task runs through; shared modules in dark grey with a bold frame.

    Parameters
    ----------
    model
        The model to draw.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    Axes
        The Axes drawn on.
    """
    graph = task_graph(model)
    columns: dict[int, list[str]] = {}
    for node, (_, _, column) in graph.nodes.items():
        columns.setdefault(column, []).append(node)
    n_cols, n_rows = len(columns), max(len(v) for v in columns.values())
    if ax is None:
        _, grid = new_axes(1, axes=None, size=1.0)
        ax = grid[0, 0]
        ax.figure.set_size_inches(2.4 * n_cols, 1.1 * n_rows + 1.0)
    position = {}
    for column, members in columns.items():
        for row, node in enumerate(members):
            # centre each column vertically: rows at equal spacing
            position[node] = (column, (len(members) - 1) / 2 - row)
    task_color = {task: TASK_COLORS[i % len(TASK_COLORS)] for i, task in enumerate(model.tasks)}
    offsets: dict[tuple[str, str], int] = {}
    for source, target, task in graph.edges:
        # Tasks that read the same field share an input -> trunk edge; bend
        # each extra one a little so all colours stay visible.
        k = offsets.get((source, target), 0)
        offsets[(source, target)] = k + 1
        ax.annotate(
            "",
            xy=position[target],
            xytext=position[source],
            arrowprops={
                "arrowstyle": "-|>",
                "color": task_color[task],
                "lw": 2,
                "shrinkA": 28,
                "shrinkB": 28,
                "connectionstyle": f"arc3,rad={0.15 * k}",
            },
        )
    fills = {"input": INPUT_FILL, "module": MODULE_FILL, "shared": SHARED_FILL}
    for node, (kind, label, _) in graph.nodes.items():
        x, y = position[node]
        if kind == "task":
            task = label
            box = {"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": task_color[task], "linewidth": 2}
        else:
            box = {
                "boxstyle": "square,pad=0.4" if kind == "input" else "round,pad=0.4",
                "facecolor": fills[kind],
                "edgecolor": "black",
                "linewidth": 2.5 if kind == "shared" else 1,
            }
        weight = "bold" if kind == "shared" else "normal"
        ax.text(x, y, label, ha="center", va="center", fontsize=9, fontweight=weight, bbox=box, zorder=3)
    plt = pyplot()
    handles = [plt.Line2D([], [], color=task_color[t], lw=2, label=t) for t in model.tasks]
    handles.append(
        plt.Rectangle((0, 0), 1, 1, facecolor=SHARED_FILL, edgecolor="black", linewidth=2.5, label="shared module")
    )
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=min(4, len(handles)),
        fontsize="small",
        frameon=False,
    )
    ax.set_xlim(-0.6, max(columns) + 0.6)
    ax.set_ylim(-(n_rows - 1) / 2 - 0.5, (n_rows - 1) / 2 + 0.5)
    ax.set_axis_off()
    ax.set_title(f"{model.name}: inputs -> modules -> tasks")
    return ax
