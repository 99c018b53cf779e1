"""Dropout whose CPU mask comes from 16-bit slices of 64-bit random integers.

torch's CPU dropout draws its mask with ``bernoulli_``, which is slow: with it, ``bernoulli_``
alone was 10% of HierRec's CPU training step on ml-latest-small (four dropouts over
``[2048 50 64]`` tensors; ``benchmark.training_speed --profile``). A ``torch.rand`` mask
(one float draw per element) still took 7% of HierRec's and 10% of SASRecText's step
(ml-100k, one thread). One 64-bit draw gives four elements 16 bits each: the draws fell
to 3% of SASRecText's step. Each element is dropped with probability ``p'``, ``p`` rounded
to a multiple of 1/65536, and kept ones are scaled by ``1 / (1 - p')``, so the output is
unbiased as ``nn.Dropout``'s, from another random stream. On other devices (CUDA's dropout
is one fused kernel) and in evaluation it is ``nn.Dropout``.
"""

import torch
from torch import nn

_LEVELS = 1 << 16  # values of a 16-bit slice


class Dropout(nn.Dropout):
    def forward(self, x):
        if not self.training or self.p == 0 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        dropped = round(self.p * _LEVELS)  # slices below this are dropped: P = dropped / 2^16
        if dropped >= _LEVELS:
            return x * 0
        n = x.numel()
        # randint's full int64 range: all 64 bits uniform (random_() leaves the sign bit 0)
        bits = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), device=x.device)
        keep = bits.view(torch.int16)[:n].view(x.shape) >= dropped - (_LEVELS >> 1)
        return x * keep.to(x.dtype).mul_(_LEVELS / (_LEVELS - dropped))
