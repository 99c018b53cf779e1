"""RecBole's transformer layers, same functions, faster CPU kernels.

RecBole's ``FeedForward`` computes GELU as ``x * 0.5 * (1 + erf(x / sqrt(2)))``: five
elementwise passes over ``[B L 4H]`` forward and more backward, where ``F.gelu`` is the same
function (the exact erf form) in one kernel each way. Its dropouts are ``nn.Dropout``, whose
CPU mask ``bernoulli_`` is slow (``dropout.py``). On SASRecText's CPU training step
(ml-100k, batch 2048, one thread; ``benchmark.training_speed --profile``) the two were most of
the step's elementwise time. Swapping them changes no parameter, no state-dict key and no
output beyond float rounding (dropout masks come from another random stream of the same
distribution).
"""

import torch.nn.functional as F
from recbole.model.layers import FeedForward
from torch import nn

from recbole_hier.model.dropout import Dropout


def use_fast_cpu_ops(module):
    """Swap, in place, every ``nn.Dropout`` under ``module`` for ``Dropout`` and RecBole's
    hand-written GELU for ``F.gelu``; returns ``module``."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:  # subclasses (ours included) are left as they are
                setattr(parent, name, Dropout(child.p, child.inplace))
        act = getattr(parent, "intermediate_act_fn", None)
        if isinstance(parent, FeedForward) and getattr(act, "__func__", None) is FeedForward.gelu:
            parent.intermediate_act_fn = F.gelu
    return module
