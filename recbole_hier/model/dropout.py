"""Dropout whose CPU mask is drawn by ``torch.rand``.

torch's CPU dropout draws its mask with ``bernoulli_``, which is slow: with it, ``bernoulli_``
alone was 10% of HierRec's CPU training step on ml-latest-small (four dropouts over
``[2048 50 64]`` tensors; ``benchmark.training_speed --profile``). The mask
here has the same distribution (each element kept with probability ``1 - p``, kept ones
scaled by ``1 / (1 - p)``) from another random stream. On other devices (CUDA's dropout is
one fused kernel) and in evaluation it is ``nn.Dropout``.
"""

import torch
from torch import nn


class Dropout(nn.Dropout):
    def forward(self, x):
        if not self.training or self.p == 0 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        if self.p == 1:
            return x * 0
        # float32 draws: a bfloat16 rand (under CPU autocast) would quantise p
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))
