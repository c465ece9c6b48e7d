"""Estate division rules (BankFair Module 1): the spec's hand-computed vectors through the
public wrapper and the textbook properties of each rule (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstk import _core
from mstk.rerank.kernels import allocate

claims_st = st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=8)
estate_st = st.floats(0, 5000, allow_nan=False)
RULES = ["cea", "cel", "talmud", "proportional"]


def test_spec_vectors():
    np.testing.assert_allclose(allocate("talmud", 200, [100, 200, 300]), [50, 75, 75])
    np.testing.assert_allclose(allocate("cel", 100, [100, 200, 300]), [0, 0, 100], atol=1e-9)
    # specs/rerank.md test 2: E = 100 over a 3-interval window, claim_mult 1.1
    np.testing.assert_allclose(allocate("talmud", 100, [11, 33, 66]), [7.6667, 29.6667, 62.6667], atol=1e-4)
    np.testing.assert_allclose(allocate("talmud", 100, [30, 90, 180]), [15, 42.5, 42.5])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(RULES), estate_st, claims_st)
def test_efficiency_bounds_and_order(rule, estate, claims):
    d = np.array(claims)
    a = allocate(rule, estate, d)
    assert a.sum() == pytest.approx(min(estate, d.sum()), rel=1e-9, abs=1e-6)
    assert (a >= -1e-9).all() and (a <= d + 1e-9).all()
    order = np.argsort(d, kind="stable")
    assert (np.diff(a[order]) >= -1e-9).all()  # a larger claim never gets less...
    assert (np.diff((d - a)[order]) >= -1e-9).all()  # ...and never loses less


@settings(max_examples=300, deadline=None)
@given(estate_st, claims_st)
def test_talmud_is_self_dual(estate, claims):
    d = np.array(claims)
    e = min(estate, d.sum())
    np.testing.assert_allclose(allocate("talmud", e, d), d - allocate("talmud", d.sum() - e, d), atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(RULES), estate_st, claims_st, st.floats(0.01, 100))
def test_equal_treatment_and_homogeneity(rule, estate, claims, scale):
    d = np.array(claims + claims[:1])  # the first claim twice
    a = allocate(rule, estate, d)
    assert a[0] == pytest.approx(a[-1], abs=1e-9)
    np.testing.assert_allclose(allocate(rule, estate * scale, d * scale), a * scale, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("estate, claims", [(-1.0, [1.0]), (1.0, [float("nan")]), (float("inf"), [1.0]), (1.0, [-2.0])])
def test_bad_inputs_raise_parameter_errors(estate, claims):
    with pytest.raises(_core.ParameterError):
        allocate("talmud", estate, claims)
    with pytest.raises(_core.ParameterError, match="unknown allocation rule"):
        allocate("equal", 1.0, [1.0])
