"""First-order Markov attribution by removal effect (Anderl et al. 2014), solved exactly.

The transition counts come from SQL (sql/markov_transitions.sql); here, the small absorbing-chain
solve. With Q the transitions between transient states (start and the channels), R those into
(conversion), N = (I - Q)^-1, x = N R is the probability of converting from each state and
P = x[start]. Removing channel k (every transition into it redirected to (null)) kills exactly the
converting paths that visit k, so P - P_-k = f_k * x_k, with f_k = N[start, k] / N[k, k] the probability
of ever reaching k. Removal effect RE_k = f_k x_k / P; credit_k = RE_k / sum(RE) * conversions.

One inversion of an (n+1)x(n+1) matrix by Gauss-Jordan in plain Python: states beyond MAX_STATES (by
traffic) are pooled into "(other)" so that it stays fast.
"""

from __future__ import annotations

from collections import defaultdict

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
OTHER = "(other)"
MAX_STATES = 80


def invert(matrix: list[list[float]]) -> list[list[float]]:
    """Inverse by Gauss-Jordan elimination with partial pivoting."""
    n = len(matrix)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            raise ZeroDivisionError("singular matrix")
        a[col], a[pivot] = a[pivot], a[col]
        lead = a[col][col]
        a[col] = [v / lead for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0.0:
                factor = a[r][col]
                row_c = a[col]
                a[r] = [v - factor * c for v, c in zip(a[r], row_c, strict=True)]
    return [row[n:] for row in a]


def pool(transitions: dict[tuple[str, str], int], limit: int = MAX_STATES) -> dict[tuple[str, str], int]:
    """Keep the `limit` states with the most traffic; pool the others into (other)."""
    traffic: dict[str, int] = defaultdict(int)
    for (_, dst), count in transitions.items():
        if dst not in (CONVERSION, NULL):
            traffic[dst] += count
    if len(traffic) <= limit:
        return dict(transitions)
    kept = set(sorted(traffic, key=lambda s: (-traffic[s], s))[: limit - 1])
    pooled: dict[tuple[str, str], int] = defaultdict(int)
    for (src, dst), count in transitions.items():
        src = src if src == START or src in kept else OTHER
        dst = dst if dst in (CONVERSION, NULL) or dst in kept else OTHER
        pooled[(src, dst)] += count
    return dict(pooled)


def removal_effects(transitions: dict[tuple[str, str], int]) -> dict[str, float]:
    """Removal effect of every state, from transition counts {(from, to): n}."""
    transitions = pool(transitions)
    states = sorted({s for (s, _) in transitions if s != START} | {d for (_, d) in transitions
                                                                    if d not in (CONVERSION, NULL)})
    index = {START: 0, **{s: i + 1 for i, s in enumerate(states)}}
    size = len(index)
    out: dict[str, int] = defaultdict(int)
    for (src, _), count in transitions.items():
        out[src] += count
    i_minus_q = [[1.0 if i == j else 0.0 for j in range(size)] for i in range(size)]
    to_conversion = [0.0] * size
    for (src, dst), count in transitions.items():
        p = count / out[src]
        if dst == CONVERSION:
            to_conversion[index[src]] += p
        elif dst != NULL:
            i_minus_q[index[src]][index[dst]] -= p
    n = invert(i_minus_q)
    x = [sum(n[i][j] * to_conversion[j] for j in range(size)) for i in range(size)]
    total = x[0]
    if total <= 1e-12:  # no path from start converts
        return {s: 0.0 for s in states}
    return {s: n[0][index[s]] / n[index[s]][index[s]] * x[index[s]] / total for s in states}


def attribute(transitions: dict[tuple[str, str], int], conversions: int) -> dict[str, float]:
    """Credits per state, summing to `conversions` (states with no removal effect are left out)."""
    if conversions <= 0 or not transitions:
        return {}
    effects = removal_effects(transitions)
    total = sum(effects.values())
    if total <= 0:
        return {}
    return {s: e / total * conversions for s, e in effects.items() if e > 1e-12}
