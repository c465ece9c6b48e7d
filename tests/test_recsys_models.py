"""Base scorers of `mstk recsys score`: implicit-feedback ALS against the `implicit`
package's exact (Cholesky) solver started from the same factors, and the properties an
alternating exact least-squares fit must have."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk.errors import ParameterError
from mstk.recsys.models import ALS

implicit_als = pytest.importorskip("implicit.cpu.als", reason="the `implicit` peer is in the test extra")
sparse = pytest.importorskip("scipy.sparse")

# implicit warns that OpenBLAS threads slow it down; these matrices are tiny
pytestmark = pytest.mark.filterwarnings("ignore:OpenBLAS is configured:RuntimeWarning")


def random_interactions(seed: int, users: int = 60, items: int = 90, density: float = 0.08) -> np.ndarray:
    x = (np.random.default_rng(seed).random((users, items)) < density).astype(np.uint8)
    x[0] = 0  # a user without interactions (gets the zero vector's solve)
    return x


def implicit_peer(model: ALS, x: np.ndarray):
    """implicit's exact solver from mstk's initial factors. implicit uses the matrix value
    as the confidence c (A += (c − 1)·yyᵀ, b += c·y), so it gets 1 + α on the interactions
    and alpha = 1 (no rescaling)."""
    peer = implicit_als.AlternatingLeastSquares(
        factors=model.factors, regularization=model.reg, alpha=1.0, iterations=model.iterations,
        use_cg=False, dtype=np.float64, calculate_training_loss=False, num_threads=1,
    )
    peer.user_factors, peer.item_factors = (f.copy() for f in model.initial_factors(*x.shape))
    confidence = sparse.csr_matrix(x.astype(np.float64) * (1.0 + model.alpha))
    peer.fit(confidence, show_progress=False)
    return peer, confidence


@pytest.mark.parametrize("reg, alpha, iterations", [(0.05, 10.0, 3), (1.0, 2.5, 5), (0.01, 0.0, 2)])
def test_fit_equals_implicit_exact_solver(reg, alpha, iterations):
    x = random_interactions(3)
    model = ALS(factors=8, reg=reg, alpha=alpha, iterations=iterations, seed=11).fit(x)
    peer, _ = implicit_peer(model, x)
    scale = np.abs(model.user_factors).max()
    np.testing.assert_allclose(model.user_factors, peer.user_factors, atol=1e-9 * max(scale, 1.0))
    np.testing.assert_allclose(model.item_factors, peer.item_factors, atol=1e-9 * max(scale, 1.0))


def test_history_fold_in_equals_implicit_recalculate_user():
    x = random_interactions(5)
    model = ALS(factors=8, reg=0.1, alpha=4.0, iterations=4, seed=2).fit(x)
    peer, _ = implicit_peer(model, x)
    profile = np.array([1, 7, 30, 31, 80])
    row = np.zeros((1, x.shape[1]))
    row[0, profile] = 1.0 + model.alpha
    expected_user = peer.recalculate_user(0, sparse.csr_matrix(row))
    np.testing.assert_allclose(model.score(profile), peer.item_factors @ expected_user, atol=1e-9)
    assert not model.score(np.array([], dtype=np.int64)).any()  # no history: no ALS opinion (popularity serves it)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), reg=st.floats(0.01, 2.0), alpha=st.floats(0.0, 20.0))
def test_every_half_step_lowers_the_objective(seed, reg, alpha):
    # each half-step is the exact minimiser over one side, so the loss never increases
    x = random_interactions(seed, users=25, items=30, density=0.15)
    model = ALS(factors=4, reg=reg, alpha=alpha, iterations=0, seed=seed).fit(x)
    users, items = np.nonzero(x)
    by_user = [items[users == u] for u in range(x.shape[0])]
    by_item = [users[items == i] for i in range(x.shape[1])]
    losses = [model.loss(x)]
    for _ in range(4):
        model.user_factors = model.solve(by_user, model.item_factors)
        losses.append(model.loss(x))
        model.item_factors = model.solve(by_item, model.user_factors)
        losses.append(model.loss(x))
    assert all(b <= a * (1 + 1e-12) + 1e-12 for a, b in zip(losses, losses[1:]))
    assert losses[-1] < losses[0]


def test_seed_decides_the_fit():
    x = random_interactions(9)
    a = ALS(factors=6, iterations=3, seed=1).fit(x)
    b = ALS(factors=6, iterations=3, seed=1).fit(x)
    c = ALS(factors=6, iterations=3, seed=2).fit(x)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    assert not np.allclose(a.item_factors, c.item_factors)


@pytest.mark.parametrize("kwargs", [{"factors": 0}, {"reg": 0.0}, {"alpha": -1.0}, {"iterations": -1}])
def test_bad_parameters(kwargs):
    with pytest.raises(ParameterError):
        ALS(**kwargs)
