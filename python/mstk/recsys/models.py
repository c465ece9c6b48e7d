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


class ALS:
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky, ICDM'08): confidence
    c = 1 + α·x, preference p = 1[x > 0], minimise Σ c·(p − uᵀv)² + reg·(‖U‖² + ‖V‖²) by
    alternating exact least squares (users, then items, each iteration).

    Each side is one batched solve of the normal equations
    (YᵀY + α·Y_sᵀY_s + reg·I) u = (1 + α)·Σ_{i∈s} y_i, where s is the row's interactions
    (x is binary here). Factors start at N(0, 0.01²) from ``seed``, so a fit is
    reproducible. A history profile is folded in with the same solve against the item
    factors, so users who arrive after the split are served, as with itemknn."""

    name = "als"

    def __init__(self, factors: int = 64, reg: float = 0.05, alpha: float = 10.0, iterations: int = 15, seed: int = 0) -> None:
        if factors < 1 or iterations < 0 or reg <= 0 or alpha < 0:
            raise ParameterError("als needs factors >= 1, iterations >= 0, reg > 0 and alpha >= 0")
        self.factors, self.reg, self.alpha, self.iterations, self.seed = factors, reg, alpha, iterations, seed

    def initial_factors(self, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        return rng.normal(0.0, 0.01, (n_users, self.factors)), rng.normal(0.0, 0.01, (n_items, self.factors))

    def fit(self, x: np.ndarray) -> "ALS":
        users, items = np.nonzero(x)
        by_user = _group(users, items, x.shape[0])
        order = np.argsort(items, kind="stable")
        by_item = _group(items[order], users[order], x.shape[1])
        self.user_factors, self.item_factors = self.initial_factors(*x.shape)
        for _ in range(self.iterations):
            self.user_factors = self.solve(by_user, self.item_factors)
            self.item_factors = self.solve(by_item, self.user_factors)
        return self

    def solve(self, rows: list[np.ndarray], fixed: np.ndarray) -> np.ndarray:
        """Exact least-squares factors of every row given the other side's factors."""
        f = fixed.shape[1]
        gram = fixed.T @ fixed + self.reg * np.eye(f)
        a = np.repeat(gram[None], len(rows), axis=0)
        b = np.zeros((len(rows), f))
        for r, idx in enumerate(rows):
            if len(idx):
                y = fixed[idx]
                a[r] += self.alpha * (y.T @ y)
                b[r] = (1.0 + self.alpha) * y.sum(axis=0)
        return np.linalg.solve(a, b[..., None])[..., 0]

    def loss(self, x: np.ndarray) -> float:
        """The objective ALS minimises (for tests: it never increases over iterations)."""
        pred = self.user_factors @ self.item_factors.T
        confidence = 1.0 + self.alpha * (x > 0)
        return float((confidence * ((x > 0) - pred) ** 2).sum() + self.reg * ((self.user_factors**2).sum() + (self.item_factors**2).sum()))

    def score(self, profile: np.ndarray) -> np.ndarray:
        """profile: indices of the items in the user's history (folded in by one solve)."""
        if len(profile) == 0:
            return np.zeros(self.item_factors.shape[0], dtype=np.float64)
        user = self.solve([np.asarray(profile)], self.item_factors)[0]
        return self.item_factors @ user


def _group(keys: np.ndarray, values: np.ndarray, n: int) -> list[np.ndarray]:
    """values split by key (keys sorted ascending), one array per key 0..n−1."""
    bounds = np.searchsorted(keys, np.arange(n + 1))
    return [values[bounds[i] : bounds[i + 1]] for i in range(n)]
