"""The hardness sampler documents its batch law as "successive draws, each renormalised over the
indices not yet drawn, which is what numpy's choice(N, B, replace=False, p=p) does" and its floor
as the authors' `p[p <= eps] = eps; p /= p.sum()`. These checks hold numpy to those statements,
with the same exact formulas the Swift tests use (Tests/SamplingTests/HardnessDistributionTests).

Bound: Bretagnolle-Huber-Carol, ||p_hat - p||_1 < sqrt(2 (k ln 2 + ln(1/delta)) / n) for n i.i.d.
draws over k categories; delta = 1e-9 per check.
"""
import math

import numpy as np

DELTA = 1e-9


def l1_bound(k, n):
    return math.sqrt(2 * (k * math.log(2) + math.log(1 / DELTA)) / n)


def floored_softmax(losses, beta, floor):
    """The authors' draw_samples distribution."""
    z = beta * np.asarray(losses, dtype=np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    eps = floor / len(losses)
    p[p <= eps] = eps
    return p / p.sum()


def test_floor_is_max_then_renormalise():
    losses = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    p = floored_softmax(losses, 100.0, 0.5)
    q = np.exp(100 * (losses - losses.max()))
    q /= q.sum()
    expected = np.maximum(q, 0.5 / 5)
    np.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-15)


def test_numpy_choice_without_replacement_is_successive_draws():
    rng = np.random.default_rng(7)
    p = floored_softmax([0.0, 0.5, 1.0, 2.0], 1.0, 0.8)
    n = 40_000  # python-level calls: keep CI quick; bound ≈ 0.038
    counts = np.zeros((4, 4))
    for _ in range(n):
        i, j = rng.choice(4, 2, replace=False, p=p)
        counts[i, j] += 1
    emp, exact = [], []
    for i in range(4):
        for j in range(4):
            if i != j:
                emp.append(counts[i, j] / n)
                exact.append(p[i] * p[j] / (1 - p[i]))
    assert np.abs(np.array(emp) - np.array(exact)).sum() < l1_bound(12, n)
