"""SliceCombiner: mix the slice experts' representations by attention.

Each slice ``s`` has an *indicator* head (is this point in ``s``?), an
*expert* transform ``T_s`` of the shared features, and a *predictor* head
that reads ``T_s(h)``. For one point, the combiner weights slice ``s`` by

    a_s = softmax_s( P(point in s) * confidence_s / temperature )

where ``confidence_s`` is the largest class probability of slice ``s``'s
predictor (for two classes, Snorkel's choice as well). A slice counts only
where its indicator says "member" *and* its expert is sure of its answer.
The weighted sum of the expert representations feeds the base task's head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mtl_teach._errors import fail
from mtl_teach._validation import is_number


class SliceCombiner(nn.Module):
    """Attention over slice experts; an op with no inputs (reads the task's namespace).

    Parameters
    ----------
    ind_ops
        Op names of the indicator heads, one per slice; each outputs logits
        of shape ``(batch, 2)``, class 1 = member.
    pred_ops
        Op names of the slice predictor heads, same slice order; logits of
        shape ``(batch, n_classes)``.
    transform_ops
        Op names of the slice expert transforms, same slice order;
        representations of shape ``(batch, head_dim)``.
    temperature
        Divides the attention scores: below 1 sharpens the attention.

    Returns (from ``forward``)
    --------------------------
    dict
        ``"representation"``: ``(batch, head_dim)``; ``"attention"``:
        ``(batch, n_slices)``, rows summing to 1.
    """

    def __init__(
        self, ind_ops: Sequence[str], pred_ops: Sequence[str], transform_ops: Sequence[str], temperature: float = 1.0
    ) -> None:
        super().__init__()
        if not (len(ind_ops) == len(pred_ops) == len(transform_ops) >= 1):
            fail(
                "SliceCombiner(ind_ops, pred_ops, transform_ops)",
                "must name one op per slice in each list, at least one slice",
                (len(ind_ops), len(pred_ops), len(transform_ops)),
                "pass equally long lists.",
            )
        if not is_number(temperature) or not temperature > 0:
            fail("SliceCombiner(temperature)", "must be a number > 0", temperature, "pass e.g. temperature=1.0.")
        self.ind_ops = tuple(ind_ops)
        self.pred_ops = tuple(pred_ops)
        self.transform_ops = tuple(transform_ops)
        self.temperature = float(temperature)

    def forward(self, namespace: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        # P(member) of each slice: (batch, n_slices)
        membership = torch.stack([F.softmax(namespace[op], dim=1)[:, 1] for op in self.ind_ops], dim=1)
        # Confidence of each slice's expert, its top class probability: (batch, n_slices)
        confidence = torch.stack([F.softmax(namespace[op], dim=1).amax(dim=1) for op in self.pred_ops], dim=1)
        # Expert representations: (batch, n_slices, head_dim)
        experts = torch.stack([namespace[op] for op in self.transform_ops], dim=1)
        attention = F.softmax(membership * confidence / self.temperature, dim=1)
        representation = (attention.unsqueeze(-1) * experts).sum(dim=1)  # (batch, head_dim)
        return {"representation": representation, "attention": attention}

    def extra_repr(self) -> str:
        return f"n_slices={len(self.ind_ops)}, temperature={self.temperature}"
