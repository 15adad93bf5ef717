"""Fit the confidence calibration of the matcher on the development sets.

Logistic regression of "the top-ranked candidate is the right element" on the top candidate's score,
its margin over the runner-up, whether it failed a consistency check (unconfirmed, or the selector
check) and whether there was no stored fingerprint (matched from the failed selector alone), over
every run of the matcher on the development sets (with a stored fingerprint, and from the selector
alone where the benchmark runs that), by Newton's method with a small ridge penalty. The fitted
constants are printed for ``healing_mcp.components.browser.matching`` (CALIBRATION_A to E), where
they are frozen.
"""

from __future__ import annotations

import math

from benchmarks.browser_healing.evaluate import CaseRun


def _solve(m: list[list[float]], v: list[float]) -> list[float]:
    """Solve a small linear system by Gaussian elimination with partial pivoting."""
    n = len(v)
    a = [[*row, v[i]] for i, row in enumerate(m)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            f = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= f * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def fit(runs: list[CaseRun], ridge: float = 0.01) -> tuple[float, float, float, float, float]:
    """(A, B, C, D, E): P(top right) = sigmoid(A*score + B*margin + C + D*[unconfirmed] + E*[selector only])."""
    data = [
        ((s.score, s.margin, 1.0, 0.0 if s.confirmed else 1.0, 1.0 if s.from_selector else 0.0),
         1.0 if s.top_correct else 0.0)
        for r in runs
        for s in r.samples.values()
    ]  # fmt: skip
    k = 5
    w = [5.0, 5.0, -3.0, -2.0, 0.0]
    for _ in range(100):
        grad = [-ridge * w[i] if i != 2 else 0.0 for i in range(k)]
        hess = [[-ridge if i == j and i != 2 else 0.0 for j in range(k)] for i in range(k)]
        for x, y in data:
            z = sum(wi * xi for wi, xi in zip(w, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))
            for i in range(k):
                grad[i] += (y - p) * x[i]
                for j in range(k):
                    hess[i][j] -= p * (1 - p) * x[i] * x[j]
        step = _solve(hess, grad)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return w[0], w[1], w[2], w[3], w[4]
