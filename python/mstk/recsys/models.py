"""Base scorers: item-based k-nearest neighbours and popularity (numpy, deterministic)."""

from __future__ import annotations

import numpy as np

from mstk.errors import ParameterError

DENSE_LIMIT = 20_000


class Popularity:
    """Training popularity: also the fallback for users without a history."""

    name = "pop"

    def fit(self, x: np.ndarray) -> "Popularity":
        self.counts = x.sum(axis=0).astype(np.float64)
        return self

    def score(self, profile: np.ndarray) -> np.ndarray:
        return self.counts.copy()


class ItemKNN:
    """sim = XᵀX / (‖x_i‖·‖x_j‖ + shrink) on binary interactions, zero diagonal, the top
    `neighbors` per item kept (ties: lower id); score = Σ over the profile of sim rows.
    No training loop and no randomness; one product scores any profile, so users who
    arrive after the split are served."""

    name = "itemknn"

    def __init__(self, neighbors: int = 100, shrink: float = 10.0) -> None:
        if neighbors < 1 or shrink < 0:
            raise ParameterError("itemknn needs neighbors >= 1 and shrink >= 0")
        self.neighbors, self.shrink = neighbors, shrink

    def fit(self, x: np.ndarray) -> "ItemKNN":
        n_items = x.shape[1]
        if n_items > DENSE_LIMIT:
            raise ParameterError(f"itemknn keeps a dense {n_items}×{n_items} similarity: at most {DENSE_LIMIT} items (use --model pop)")
        xf = x.astype(np.float32)
        co = xf.T @ xf
        norms = np.sqrt(np.diag(co)).astype(np.float64)
        sim = co / (np.outer(norms, norms) + self.shrink)
        np.fill_diagonal(sim, 0.0)
        keep = min(self.neighbors, n_items)
        if keep < n_items:
            # per row, the `keep` largest (ties → lower column id): a stable sort on −sim
            order = np.argsort(-sim, axis=1, kind="stable")[:, keep:]
            np.put_along_axis(sim, order, 0.0, axis=1)
        self.sim = sim.astype(np.float32)
        return self

    def score(self, profile: np.ndarray) -> np.ndarray:
        """profile: indices of the items in the user's history."""
        if len(profile) == 0:
            return np.zeros(self.sim.shape[1], dtype=np.float64)
        return self.sim[profile].sum(axis=0, dtype=np.float64)
