"""The training softmax over the catalogue: full, or sampled with the logQ correction.

``softmax: full`` is the fused cross-entropy over every item (:func:`next_item_ce`: one
``[M N]`` buffer holds the scores and then their gradient).
``softmax: sampled`` scores each row's target and ``num_negatives`` items drawn once per
batch (shared by its rows), so a step's cost no longer grows with the catalogue (fused
the same way: :func:`sampled_next_item_ce`, one ``[M S]`` buffer)::

    CE = log( exp(s_t) + sum_{j in S, j != t} exp(s_j - log E[n_j]) ) - s_t

``E[n_j]`` is how often item ``j`` is expected among the draws (``|S| q_j`` for ``|S|``
draws from ``q``). Each negative's ``exp(s_j) / E[n_j]`` estimates its share of the full
softmax's normalizer without bias (importance sampling; the logQ correction of Bengio and
Senecal 2008, Yi et al. RecSys 2019 for in-batch negatives), the target keeps its own
logit, and a draw of a row's own target is masked (an accidental hit), so with every
item drawn once the loss is the full softmax's exactly (a test checks it).

``negative_sampling``: ``popularity`` (q proportional to 1 + the item's training
interactions: the add-one keeps every item of the catalogue in reach, as under the full
softmax), ``uniform``, or ``in_batch`` (the batch's own targets as negatives; they are,
near enough, draws of the training target distribution, so q is each item's training
frequency).
Padding (id 0) and the items left out of training (the cold-item protocol) are never
drawn. The sampling tables stay off the model's state (no checkpoint or DDP traffic).
"""

import torch

from recbole_hier.model.items import train_counts


SAMPLINGS = ("popularity", "uniform", "in_batch")


def _claim_buffer(ctx, loss):
    """The saved tensors of a fused loss whose score buffer becomes its gradient in backward,
    which therefore runs once per forward."""
    if ctx.used:
        raise RuntimeError(f"the fused {loss} can be differentiated once per forward")
    ctx.used = True
    return ctx.saved_tensors


def _product(grad, operand):
    """``grad @ operand`` in the operand's dtype: CPU autocast's bfloat16 has no mixed-dtype
    matmul (CUDA autocast casts the same way)."""
    return grad.to(operand.dtype) @ operand


class _FullSoftmaxCE(torch.autograd.Function):
    """``CE(users @ items^T, target)`` per row, holding one ``[M N]`` buffer from forward
    to backward: the scores, turned into the gradient in place. Autograd's own
    cross-entropy keeps the log-probabilities and allocates two more ``[M N]`` tensors
    in backward; at a large catalogue those copies are most of a step's memory."""

    ROWS = 1024  # logsumexp in row slices, so its temporary is [1024 N], not [M N]

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")  # backward under the same autocast state as forward
    def forward(ctx, users, items, target, excluded):
        scores = (users @ items.t()).float()  # [M N]
        if excluded is not None:
            scores.index_fill_(1, excluded, -torch.inf)
        lse = torch.cat([torch.logsumexp(scores[i:i + _FullSoftmaxCE.ROWS], dim=1)
                         for i in range(0, len(scores), _FullSoftmaxCE.ROWS)])  # [M]
        loss = lse - scores.gather(1, target[:, None]).squeeze(1)  # [M]
        ctx.save_for_backward(users, items, target, scores, lse)
        ctx.used = False
        return loss

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_loss):
        users, items, target, scores, lse = _claim_buffer(ctx, "next-item loss")
        grad = scores.sub_(lse[:, None]).exp_()  # softmax  [M N]
        grad[torch.arange(len(grad), device=grad.device), target] -= 1.0
        grad = grad.mul_(grad_loss[:, None])  # float32
        grad_users = _product(grad, items) if ctx.needs_input_grad[0] else None  # [M H]
        grad_items = _product(grad.t(), users) if ctx.needs_input_grad[1] else None  # [N H]
        return grad_users, grad_items, None, None


def next_item_ce(scorer, users, item_table, target, excluded=None):
    """Full-softmax next-item cross-entropy of each of K heads against one item table:
    ``K x [B H]``, ``[N H]``, target ``[B]`` -> ``[K]`` (mean over the batch per head);
    ``excluded`` items (ids ``[C]``) are left out of every softmax."""
    k = len(users)
    stacked = scorer.user_side(torch.cat(users))  # [K*B H]
    items = scorer.item_side(item_table)  # [N H]
    excluded = None if excluded is None else excluded.to(items.device)
    ce = _FullSoftmaxCE.apply(stacked, items, target.repeat(k), excluded)  # [K*B]
    return ce.view(k, -1).mean(dim=1)  # [K]


class _SampledSoftmaxCE(torch.autograd.Function):
    """``CE`` per row over ``[s_t, s_j - log E[n_j] for the draws j]``, a draw of the row's own
    target masked: the sampled loss with one ``[M S]`` buffer from forward to backward (the
    scores, turned into the gradient in place), as :class:`_FullSoftmaxCE` does for the full one.
    Autograd over the same expression keeps a concatenated ``[M 1+S]`` copy, its
    log-probabilities and the corrected scores; on a CPU those elementwise passes were about
    a sixth of a sampled HierRec step."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, users, positives, negatives, log_expected, hits):
        scores = (users @ negatives.t()).float()  # [M S]
        scores.sub_(log_expected).masked_fill_(hits, -torch.inf)  # the logQ correction; accidental hits
        positive = (users * positives).sum(-1).float()  # [M]
        lse = torch.logaddexp(torch.logsumexp(scores, dim=1), positive)  # [M]
        ctx.save_for_backward(users, positives, negatives, scores, lse, positive)
        ctx.used = False
        return lse - positive

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_loss):
        users, positives, negatives, scores, lse, positive = _claim_buffer(ctx, "sampled loss")
        grad = scores.sub_(lse[:, None]).exp_().mul_(grad_loss[:, None])  # d loss / d s_j  [M S]
        grad_positive = ((positive - lse).exp() - 1.0).mul_(grad_loss).unsqueeze(1)  # d loss / d s_t  [M 1]
        needs = ctx.needs_input_grad
        grad_users = _product(grad, negatives) + grad_positive * positives if needs[0] else None  # [M H]
        grad_positives = grad_positive * users if needs[1] else None  # [M H]
        grad_negatives = _product(grad.t(), users) if needs[2] else None  # [S H]
        return grad_users, grad_positives, grad_negatives, None, None


def sampled_next_item_ce(scorer, users, item_table, target, negatives, log_expected):
    """Sampled-softmax next-item CE of each of K heads: ``K x [B H]``, ``[N H]``, target
    ``[B]``, sampled ids ``[S]`` with ``log E[n_j]`` ``[S]`` -> ``[K]`` (batch means)."""
    k = len(users)
    stacked = scorer.user_side(torch.cat(users))  # [K*B H]
    positives = scorer.item_side(item_table[target]).repeat(k, 1)  # [K*B H]
    hits = (negatives.unsqueeze(0) == target.unsqueeze(1)).repeat(k, 1)  # [K*B S]
    ce = _SampledSoftmaxCE.apply(stacked, positives, scorer.item_side(item_table[negatives]),
                                 log_expected.float(), hits)  # [K*B]
    return ce.view(k, -1).mean(dim=1)  # [K]


class FullSoftmax:
    """Every item in every row's softmax, but the ones left out of training."""

    kind = "full"

    def __init__(self):
        self.excluded = None

    def exclude(self, item_ids):
        self.excluded = item_ids

    def active_items(self, target):
        """The items a step's loss scores: every one (None)."""
        return None

    def __call__(self, scorer, users, item_table, target):
        return next_item_ce(scorer, users, item_table, target, self.excluded)


class SampledSoftmax:
    """The target and ``num_negatives`` sampled items per batch (see the module docstring)."""

    kind = "sampled"

    def __init__(self, sampling, num_negatives, train_counts):
        if sampling not in SAMPLINGS:
            raise ValueError(f"negative_sampling must be one of {SAMPLINGS}, got {sampling!r}")
        self.sampling, self.num_negatives = sampling, int(num_negatives)
        counts = train_counts.double()
        if sampling == "popularity":
            counts = counts + 1
        elif sampling == "uniform":
            counts = torch.ones_like(counts)
        counts[0] = 0.0  # padding is never drawn
        self._weights = counts
        self._q = {}  # device -> q, built on first use
        self._batch = None  # (target, ids, log E[n_j]) drawn ahead by active_items

    def exclude(self, item_ids):
        """Never draw ``item_ids`` (their training interactions are left out)."""
        self._weights[torch.as_tensor(item_ids, dtype=torch.long).cpu()] = 0.0
        self._q = {}

    def probabilities(self, device="cpu"):
        """``q`` ``[N]``: each item's probability per draw (each batch target's, for in_batch)."""
        if device not in self._q:
            q = self._weights / self._weights.sum()
            self._q[device] = q.float().to(device)
        return self._q[device]

    def draw(self, target):
        """``(ids [S], log E[n_j] [S])`` for a batch whose targets are ``target`` ``[B]``."""
        q = self.probabilities(target.device)
        if self.sampling == "in_batch":
            ids = target
        else:
            ids = torch.multinomial(q, self.num_negatives, replacement=True)
        return ids, torch.log(len(ids) * q[ids])

    def active_items(self, target):
        """The items a step's loss scores, ``[B + S]``: the targets and this batch's draw, which
        every call on the same ``target`` then shares (a trained language model encodes just these)."""
        ids, log_expected = self.draw(target)
        self._batch = (target, ids, log_expected)
        return torch.cat([target, ids])

    def __call__(self, scorer, users, item_table, target):
        if self._batch is not None and self._batch[0] is target:
            negatives, log_expected = self._batch[1:]
        else:
            negatives, log_expected = self.draw(target)
        return sampled_next_item_ce(scorer, users, item_table, target, negatives, log_expected)


def build_softmax(config, dataset):
    """The training softmax of ``config`` (keys ``softmax``, ``num_negatives``, ``negative_sampling``)."""
    if config["softmax"] == "full":
        return FullSoftmax()
    return SampledSoftmax(config["negative_sampling"], config["num_negatives"], train_counts(dataset))
