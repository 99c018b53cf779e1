"""Trainable projections of frozen text vectors to the model size (``text_adaptor``).

* ``linear``: one linear map;
* ``moe``: UniSRec's mixture of parametric-whitening experts (Hou et al., KDD 2022):
  each expert maps ``(dropout(x) - b_k) W_k``, a softmax gate over ``x`` (with learned
  Gaussian noise while training) mixes them.
"""

import torch
import torch.nn.functional as F
from torch import nn

from recbole_hier.model.dropout import Dropout

ADAPTORS = ("linear", "moe")


class WhiteningExpert(nn.Module):
    """``(dropout(x) - b) W``: a learned centring, then a projection (UniSRec's PWLayer)."""

    def __init__(self, in_size, out_size, dropout):
        super().__init__()
        self.dropout = Dropout(dropout)  # the CPU mask by torch.rand (dropout.py)
        self.bias = nn.Parameter(torch.zeros(in_size))
        self.lin = nn.Linear(in_size, out_size, bias=False)

    def forward(self, x):  # [N D] -> [N H]
        return self.lin(self.dropout(x) - self.bias)


class MoEAdaptor(nn.Module):
    """UniSRec's mixture-of-experts adaptor: ``sum_k g_k(x) * expert_k(x)``."""

    def __init__(self, in_size, out_size, n_experts, dropout, noise_epsilon=1e-2):
        super().__init__()
        self.experts = nn.ModuleList(WhiteningExpert(in_size, out_size, dropout) for _ in range(n_experts))
        self.w_gate = nn.Parameter(torch.zeros(in_size, n_experts))
        self.w_noise = nn.Parameter(torch.zeros(in_size, n_experts))
        self.noise_epsilon = noise_epsilon

    def forward(self, x):  # [N D] -> [N H]
        logits = x @ self.w_gate  # [N K]
        if self.training:
            noise_std = F.softplus(x @ self.w_noise) + self.noise_epsilon
            logits = logits + torch.randn_like(logits) * noise_std
        gates = logits.softmax(dim=-1).unsqueeze(-1)  # [N K 1]
        experts = torch.stack([expert(x) for expert in self.experts], dim=-2)  # [N K H]
        return (gates * experts).sum(dim=-2)


def text_adaptor(kind, in_size, hidden_size, dropout, n_experts=8):
    """A trainable projection of frozen text vectors: ``linear`` or ``moe``."""
    if kind == "linear":
        return nn.Linear(in_size, hidden_size)
    if kind == "moe":
        return MoEAdaptor(in_size, hidden_size, n_experts, dropout)
    raise ValueError(f"unknown text_adaptor {kind!r}; expected one of {ADAPTORS}")
