"""The aggregate's statistics (slac.tools.stats): rliable's interquartile mean and percentile
bootstrap intervals, checked against scipy and against hand-computed percentiles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slac.tools.stats import _percentiles, bootstrap_ci, iqm, stratified_bootstrap_ci


def test_iqm_and_stratified_bootstrap_follow_rliable():
    scores = np.arange(8.0)  # middle 50%: 2, 3, 4, 5
    assert iqm(scores) == 3.5
    low, high = stratified_bootstrap_ci([np.array([1.0, 1.0, 1.0]), np.array([5.0, 5.0])])
    assert low == high == iqm(np.array([1, 1, 1, 5, 5.0]))  # no spread within tasks: no spread in the interval
    low, high = stratified_bootstrap_ci([np.random.default_rng(0).normal(size=50)])
    assert low < 0 < high and high - low < 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=64))
def test_iqm_is_scipys_25_percent_trimmed_mean(values):
    from scipy.stats import trim_mean

    assert iqm(np.array(values)) == pytest.approx(trim_mean(np.array(values), 0.25), rel=1e-9, abs=1e-6)


def test_the_interval_is_the_percentiles_at_the_two_tails_of_the_level():
    stats = np.arange(101.0)  # its q-th percentile is q
    assert _percentiles(stats, 0.95) == pytest.approx((2.5, 97.5), abs=1e-12)
    assert _percentiles(stats, 0.9) == pytest.approx((5.0, 95.0), abs=1e-12)


def test_the_bootstrap_defaults_are_2000_seeded_replicates_at_95_percent():
    values = np.random.default_rng(3).normal(size=(6,))
    scores = [np.random.default_rng(4).normal(size=5), np.random.default_rng(5).normal(size=3)]
    assert bootstrap_ci(values) == bootstrap_ci(values, np.mean, reps=2000, level=0.95, seed=0)
    assert bootstrap_ci(values) != bootstrap_ci(values, seed=1) != bootstrap_ci(values, reps=2001)
    assert stratified_bootstrap_ci(scores) == stratified_bootstrap_ci(scores, iqm, reps=2000, level=0.95, seed=0)
    assert stratified_bootstrap_ci(scores) != stratified_bootstrap_ci(scores, seed=1)
    assert stratified_bootstrap_ci(scores) != stratified_bootstrap_ci(scores, reps=2001)


def test_the_bootstrap_resamples_the_rows_with_replacement():
    values = np.array([0.0, 10.0])  # a replicate's mean is 0, 5 or 10 (probabilities 1/4, 1/2, 1/4)
    assert bootstrap_ci(values, level=0.5) == (5.0, 5.0)  # the middle half is the mixed replicates
    assert bootstrap_ci(values, level=0.99) == (0.0, 10.0)
