"""fast_ops: RecBole's transformer with faster CPU kernels computes the same function."""

import copy

import torch
import torch.nn.functional as F
from recbole.model.layers import FeedForward, TransformerEncoder
from torch import nn

from recbole_hier.model.dropout import Dropout
from recbole_hier.model.fast_ops import use_fast_cpu_ops


def _encoder_and_inputs():
    torch.manual_seed(0)
    encoder = TransformerEncoder(n_layers=2, n_heads=2, hidden_size=16, inner_size=64, hidden_dropout_prob=0.3,
                                 attn_dropout_prob=0.3, hidden_act="gelu", layer_norm_eps=1e-12)
    x = torch.randn(3, 5, 16) * 3  # GELU's curved part and both tails
    causal = torch.tril(torch.ones(5, 5, dtype=torch.bool))
    mask = torch.where(causal, 0.0, -10000.0).view(1, 1, 5, 5)
    return encoder, x, mask


def _run(encoder, x, mask):
    x = x.clone().requires_grad_(True)
    out = encoder(x, mask, output_all_encoded_layers=False)[-1]
    out.pow(2).sum().backward()
    return out.detach(), x.grad, {n: p.grad.clone() for n, p in encoder.named_parameters()}


def test_the_swapped_encoder_has_the_same_parameters_outputs_and_gradients():
    original, x, mask = _encoder_and_inputs()
    fast = use_fast_cpu_ops(copy.deepcopy(original))
    assert list(fast.state_dict()) == list(original.state_dict())
    assert not any(type(m) is nn.Dropout for m in fast.modules())
    dropouts = [m for m in fast.modules() if isinstance(m, Dropout)]
    assert len(dropouts) == 6 and all(m.p == 0.3 for m in dropouts)  # per layer: attention, its output, FFN
    acts = [m.intermediate_act_fn for m in fast.modules() if isinstance(m, FeedForward)]
    assert acts == [F.gelu, F.gelu]
    original.eval(), fast.eval()
    out_a, dx_a, grads_a = _run(original, x, mask)
    out_b, dx_b, grads_b = _run(fast, x, mask)
    assert torch.allclose(out_a, out_b, atol=1e-5)
    assert torch.allclose(dx_a, dx_b, atol=1e-4)
    assert all(torch.allclose(grads_a[n], grads_b[n], atol=1e-4) for n in grads_a)


def test_the_swapped_dropouts_still_drop_while_training():
    encoder, x, mask = _encoder_and_inputs()
    fast = use_fast_cpu_ops(encoder)
    fast.train()
    with torch.no_grad():
        trained = fast(x, mask, output_all_encoded_layers=False)[-1]
        fast.eval()
        evaluated = fast(x, mask, output_all_encoded_layers=False)[-1]
    assert not torch.allclose(trained, evaluated, atol=1e-3)


def test_other_activations_and_our_own_dropouts_are_left_alone():
    ff = FeedForward(8, 16, 0.1, "relu", 1e-12)
    ours = Dropout(0.2)
    holder = nn.Sequential(ff, ours)
    use_fast_cpu_ops(holder)
    assert ff.intermediate_act_fn is F.relu and holder[1] is ours and isinstance(ff.dropout, Dropout)
