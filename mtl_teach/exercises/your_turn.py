"""Self-checks for ``notebooks/04_your_turn.ipynb``: add the inverted-circle task.

Usage in the notebook::

    from mtl_teach.exercises import your_turn as q

    q.dataloader.check(inv_dataloader)
    q.task.check(inv_circle_task, base_mlp)
    q.model.check(model)
    q.training.check(model, all_dataloaders)

``GRADED`` tells the batch grader, for each graded cell of the notebook,
which question it grades and which notebook variables are its answers.
"""

from __future__ import annotations

from mtl_teach.exercises._core import Question
from mtl_teach.exercises._your_turn_checks import evaluate_dataloader, evaluate_model, evaluate_task, evaluate_training

dataloader = Question(
    "dataloader",
    evaluate_dataloader,
    hints=[
        "Do what make_tutorial_dataloaders did for the circle: put the points in X_dict and the labels in Y_dict, wrap them in a DictDataset, then a DictDataLoader.",
        "The keys matter: X_dict's key is the field your task will read ('inv_circle_data'), Y_dict's key is the task's name ('inv_circle_task'). Use split 'train' and batch_size=32.",
        "DictDataset('invCircleDataset', 'train', {'inv_circle_data': torch.FloatTensor(X_train)}, {'inv_circle_task': torch.LongTensor(Y_train)}), then DictDataLoader(dataset, batch_size=32).",
    ],
    solution_text="One dataset for the training split, keyed by the field and the task name; then add the loader to the tutorial's loaders.",
    solution_code=(
        "X_dict = {'inv_circle_data': torch.FloatTensor(X_train)}\n"
        "Y_dict = {'inv_circle_task': torch.LongTensor(Y_train)}\n"
        "dataset = DictDataset('invCircleDataset', 'train', X_dict, Y_dict)\n"
        "inv_dataloader = DictDataLoader(dataset, batch_size=32)\n"
        "all_dataloaders = [*dataloaders, inv_dataloader]"
    ),
)

task = Question(
    "task",
    evaluate_task,
    hints=[
        "Copy circle_task from above and change what is specific to the circle: the name, the input field and the head.",
        "The module pool holds the *same* base_mlp object as the other tasks (that is the sharing) and a new nn.Linear(4, 2) named 'inv_circle_head'.",
        "Two Operations: Operation('base_mlp', [('_input_', 'inv_circle_data')]) then Operation('inv_circle_head', [('base_mlp', 0)]).",
    ],
    solution_text="Same trunk object, its own head, and ops reading the new field.",
    solution_code=(
        "inv_circle_task = Task(\n"
        "    name='inv_circle_task',\n"
        "    module_pool=nn.ModuleDict({'base_mlp': base_mlp, 'inv_circle_head': nn.Linear(4, 2)}),\n"
        "    op_sequence=[\n"
        "        Operation('base_mlp', [('_input_', 'inv_circle_data')]),\n"
        "        Operation('inv_circle_head', [('base_mlp', 0)]),\n"
        "    ],\n"
        ")"
    ),
)

model = Question(
    "model",
    evaluate_model,
    hints=[
        "A MultitaskClassifier takes a list of tasks; modules with the same name are shared.",
        "MultitaskClassifier([circle_task, square_task, inv_circle_task]): 3 tasks, and 4 modules (base_mlp and three heads).",
    ],
    solution_text="All three tasks in one model; base_mlp is shared by name.",
    solution_code="model = MultitaskClassifier([circle_task, square_task, inv_circle_task])",
)

training = Question(
    "training",
    evaluate_training,
    hints=[
        "Train as in the tutorial, but on all the loaders, so that every head learns.",
        "trainer = Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=123); trainer.fit(model, all_dataloaders); then model.score(all_dataloaders).",
    ],
    solution_text="Fit on every task's loaders at once; each batch trains the head its labels name.",
    solution_code=(
        "trainer = Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=123)\n"
        "trainer.fit(model, all_dataloaders)\n"
        "model.score(all_dataloaders)"
    ),
)

QUESTIONS = {q.name: q for q in (dataloader, task, model, training)}

# graded cell id -> (question, notebook variables passed to its check, in order)
GRADED: dict[str, tuple[str, tuple[str, ...]]] = {
    "check_dataloader": ("dataloader", ("inv_dataloader",)),
    "check_task": ("task", ("inv_circle_task", "base_mlp")),
    "check_model": ("model", ("model",)),
    "check_training": ("training", ("model", "all_dataloaders")),
}
