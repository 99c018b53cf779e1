"""The VAE regulariser on the top level: q(z|u) = N(mu, diag sigma^2).

Training uses the reparameterised sample ``z = mu + sigma * eps``; evaluation uses
``mu``. The loss is ``CE(z . E^T, y) + beta * KL(q || N(0, I))`` with ``beta`` set
by the trainer's annealing hook. (The source article adds the KL with the wrong
sign; the ELBO *subtracts* it, i.e. the loss adds it.)
"""

import torch
from torch import nn


def kl_to_standard_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, summed over dims: ``[B H] -> [B]`` (>= 0)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


class VAEHead(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.mu = nn.Linear(hidden_size, hidden_size)
        self.logvar = nn.Linear(hidden_size, hidden_size)

    def forward(self, user):  # [B H] -> z [B H], mu [B H], logvar [B H]
        mu = self.mu(user)
        logvar = self.logvar(user).clamp(-10.0, 10.0)  # keeps exp() finite early in training
        if not self.training:
            return mu, mu, logvar
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return z, mu, logvar
