"""Training, scoring, deduplication and linking of patient files (in memory, vectorised)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from migrate.mpi import blocking
from migrate.mpi.compare import compare
from migrate.mpi.model import TF_FIELDS, Model, Scores, TermFreq, em, estimate_u, score, ssn_identifies
from migrate.mpi.records import Ints, Records

RANDOM_PAIRS = 300_000
SESSION_SAMPLE = 60_000  # pairs per EM session: m of a few levels per comparison needs no more
EM_SAMPLE = 200_000  # candidate pairs for the match share (prior) and the SSN check
Progress = Callable[[str], None]


def term_freq(recs: Records) -> dict[str, dict[str, float]]:
    n = max(len(recs), 1)
    out: dict[str, dict[str, float]] = {}
    for name, arr in (("given_name", recs.given), ("family_name", recs.family)):
        counts = Counter(v for v in arr if v)
        out[name] = {v: c / n for v, c in counts.items()}
    return out


def _random_pairs(n: int, rng: np.random.Generator, side: npt.NDArray[np.int8] | None) -> tuple[Ints, Ints]:
    if side is not None:
        a_idx, b_idx = np.flatnonzero(side == 0), np.flatnonzero(side == 1)
        count = min(RANDOM_PAIRS, len(a_idx) * len(b_idx))
        return rng.choice(a_idx, count), rng.choice(b_idx, count)
    count = min(RANDOM_PAIRS, n * (n - 1) // 2)
    a = rng.integers(0, n, count)
    b = rng.integers(0, n, count)
    keep = a != b
    return a[keep], b[keep]


def train(
    recs: Records,
    side: npt.NDArray[np.int8] | None = None,
    seed: int = 1,
    progress: Progress | None = None,
    by_key: dict[str, Ints] | None = None,
) -> Model:
    """u from random pairs, m by EM per blocking key, the prior from all candidate pairs
    (``by_key``: the run's blocked pairs, when the caller has them already)."""
    note = progress or (lambda _msg: None)
    model = Model.default(max(len(recs), 2))
    if len(recs) < 50:
        return model
    rng = np.random.default_rng(seed)
    ra, rb = _random_pairs(len(recs), rng, side)
    u = estimate_u(compare(recs, ra, rb))
    note("u estimated from random pairs")
    by_key = by_key if by_key is not None else blocking.pairs_by_key(recs, side)
    n = len(recs)
    m_sum: dict[str, list[npt.NDArray[np.float64]]] = {}
    for key, fields in blocking.KEYS.items():
        coded = by_key[key]
        if len(coded) < 20:
            continue
        sample = coded if len(coded) <= SESSION_SAMPLE else rng.choice(coded, SESSION_SAMPLE, replace=False)
        levels = compare(recs, sample // n, sample % n)
        m_key, _lam = em(levels, model.m, u, fixed=fields)
        for name, vals in m_key.items():
            if name not in fields:
                m_sum.setdefault(name, []).append(np.asarray(vals))
        note(f"EM session on {key}")
    m = {name: (np.mean(m_sum[name], axis=0).tolist() if name in m_sum else model.m[name]) for name in model.m}
    union = np.unique(np.concatenate(list(by_key.values())))
    if len(union) == 0:
        return Model(m, u, model.prior, trained_on=n)
    sample = union if len(union) <= EM_SAMPLE else rng.choice(union, EM_SAMPLE, replace=False)
    levels = compare(recs, sample // n, sample % n)
    _m, lam = em(levels, m, u, fixed=tuple(m))
    total_pairs = float(np.sum(side == 0)) * float(np.sum(side == 1)) if side is not None else n * (n - 1) / 2
    prior = min(max(lam * len(union) / total_pairs, 1e-12), 0.5)
    return Model(m, u, prior, trained_on=n, ssn_identifies=ssn_identifies(levels))


def score_pairs(model: Model, recs: Records, left: Ints, right: Ints, tf: TermFreq | None) -> Scores:
    levels = compare(recs, left, right)
    tf_values = {name: (recs.given if name == "given_name" else recs.family)[left] for name in TF_FIELDS}
    return score(model, levels, tf_values, tf, adults=recs.adult[left] & recs.adult[right])


@dataclass(frozen=True, slots=True)
class Pair:
    left: int
    right: int
    score: float
    decision: str  # match | review


def _find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def resolve(model: Model, recs: Records, left: Ints, right: Ints, tf: TermFreq | None) -> list[Pair]:
    """Scored candidate pairs into decisions; matches grouped into clusters transitively, strongest
    first. Two clusters join only if every pair across them has at least the evidence for review
    and fewer than half of those pairs disagree where one person cannot: a record must agree with
    most of a cluster, so two people are never chained through a middle record (A~B, B~C with A
    and C in conflict: half the pairs conflict, C stays out), while a person's many records, each
    copied with its own errors, still come together."""
    s = score_pairs(model, recs, left, right, tf)
    decisions = s.decisions(model)
    keep = decisions != "none"
    left, right, prob, decisions = left[keep], right[keep], s.probability[keep], decisions[keep]
    order = np.argsort(-prob, kind="stable")
    n = len(recs)
    parent = list(range(n))
    members: dict[int, list[int]] = {}
    out: dict[tuple[int, int], Pair] = {}
    for k in order:
        a, b, d = int(left[k]), int(right[k]), str(decisions[k])
        if d != "match":
            continue
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        ma, mb = members.get(ra, [ra]), members.get(rb, [rb])
        if len(ma) == 1 and len(mb) == 1:
            # Two single records: the edge itself is the only pair, and it is a match.
            cross_pairs = [(a, b, float(prob[k]))]
        else:
            xs = np.asarray([x for x in ma for _ in mb], dtype=np.int64)
            ys = np.asarray([y for _ in ma for y in mb], dtype=np.int64)
            cross = score_pairs(model, recs, xs, ys, tf)
            if cross.veto.mean() >= 0.5 or (cross.probability < model.review_threshold).any():
                continue
            cross_pairs = [(int(x), int(y), float(q)) for x, y, q in zip(xs, ys, cross.probability, strict=True)]
        parent[rb] = ra
        members[ra] = ma + mb
        members.pop(rb, None)
        for x, y, q in cross_pairs:
            lo, hi = (x, y) if x < y else (y, x)
            out[(lo, hi)] = Pair(lo, hi, q, "match")
    for k in order:
        lo, hi = sorted((int(left[k]), int(right[k])))
        if (lo, hi) not in out:
            out[(lo, hi)] = Pair(lo, hi, float(prob[k]), "review")
    return sorted(out.values(), key=lambda p: (-p.score, p.left, p.right))


Thresholds = tuple[float | None, float | None]  # link, review: None keeps the model's


def dedupe(
    recs: Records, model: Model | None = None, progress: Progress | None = None, thresholds: Thresholds = (None, None)
) -> list[Pair]:
    note = progress or (lambda _msg: None)
    by_key = blocking.pairs_by_key(recs)
    model = (model or train(recs, progress=progress, by_key=by_key)).with_thresholds(*thresholds)
    note("comparing candidate pairs")
    left, right = blocking.candidate_pairs(by_key, len(recs))
    return resolve(model, recs, left, right, term_freq(recs))


def link(
    left_recs: Records,
    right_recs: Records,
    model: Model | None = None,
    progress: Progress | None = None,
    thresholds: Thresholds = (None, None),
) -> list[Pair]:
    """Pairs across two files; indices of the right file are offset by len(left_recs). Each pair
    is decided on its own evidence: linking does not group records, so a record that matches two
    records of the other file (a duplicate there) gets both."""
    note = progress or (lambda _msg: None)
    recs = Records.concat(left_recs, right_recs)
    side = np.concatenate([np.zeros(len(left_recs), np.int8), np.ones(len(right_recs), np.int8)])
    by_key = blocking.pairs_by_key(recs, side)
    model = (model or train(recs, side=side, progress=progress, by_key=by_key)).with_thresholds(*thresholds)
    note("comparing candidate pairs")
    left, right = blocking.candidate_pairs(by_key, len(recs))
    s = score_pairs(model, recs, left, right, term_freq(recs))
    decisions = s.decisions(model)
    keep = np.flatnonzero(decisions != "none")
    pairs = [Pair(int(left[k]), int(right[k]), float(s.probability[k]), str(decisions[k])) for k in keep]
    return sorted(pairs, key=lambda p: (-p.score, p.left, p.right))
