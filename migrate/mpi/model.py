"""The Fellegi-Sunter match model: m and u per comparison level, estimated from the data.

u (how often two different people agree at a level) comes from random pairs; m (how often
two records of one person do) from expectation-maximisation over blocked pairs, one session
per blocking key with the key's own fields held fixed, as Splink does. No labels are needed.
A common name agreeing counts for less than a rare one (term-frequency adjustment).
The model is plain data (JSON, versioned) and every score can be explained field by field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from migrate.mpi.compare import BY_NAME, COMPARISONS, Levels

MODEL_VERSION = "mpi-model-1"
FLOOR = 1e-6

# Starting m (records of one person) per level, worst to best after "missing"; EM refines them.
DEFAULT_M = {
    "given_name": [0, 0.02, 0.01, 0.01, 0.04, 0.04, 0.88],
    "middle_name": [0, 0.05, 0.15, 0.8],
    "family_name": [0, 0.03, 0.01, 0.02, 0.04, 0.9],
    "suffix": [0, 0.01, 0.05, 0.94],
    "birth_date": [0, 0.01, 0.01, 0.05, 0.93],
    "sex": [0, 0.02, 0.98],
    "contact": [0, 0.15, 0.1, 0.25, 0.5],
    "ssn": [0, 0.02, 0.03, 0.95],
}
DEFAULT_U = {
    "given_name": [0, 0.9, 0.005, 0.02, 0.02, 0.005, 0.01],
    "middle_name": [0, 0.88, 0.07, 0.05],
    "family_name": [0, 0.95, 0.02, 0.001, 0.02, 0.005],
    "suffix": [0, 0.1, 0.85, 0.05],
    "birth_date": [0, 0.98, 0.018, 0.0005, 0.0001],
    "sex": [0, 0.5, 0.5],
    "contact": [0, 0.998, 0.0015, 0.0004, 0.0001],
    "ssn": [0, 0.998, 0.0016, 0.0004],
}
TF_FIELDS = ("given_name", "family_name")


@dataclass(frozen=True, slots=True)
class Model:
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float  # probability that two random records are one person
    link_threshold: float = 0.99  # posterior probability at or above which the tool links alone
    review_threshold: float = 0.5  # a person decides between the two
    trained_on: int = 0  # records the parameters were estimated from
    version: str = MODEL_VERSION
    notes: list[str] = field(default_factory=list)
    # Whether this index's SSNs identify people: learnt from the data (see ``ssn_identifies``).
    # When families share numbers (a guarantor's SSN on every child's record), agreement on it
    # excuses nothing.
    ssn_identifies: bool = False

    @classmethod
    def default(cls, n_records: int = 100_000) -> Model:
        # The prior of an index that is too small to estimate one: a duplicate rate like a
        # hospital's (a few per cent) spread over a large index, so evidence has to earn a link.
        n_records = max(n_records, 100_000)
        return cls(
            {k: list(v) for k, v in DEFAULT_M.items()}, {k: list(v) for k, v in DEFAULT_U.items()}, 1 / n_records
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version, "prior": self.prior, "link_threshold": self.link_threshold,
                "review_threshold": self.review_threshold, "trained_on": self.trained_on,
                "m": self.m, "u": self.u, "notes": self.notes, "ssn_identifies": self.ssn_identifies,
            },
            indent=1,
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Model:
        d = json.loads(text)
        return cls(
            d["m"], d["u"], d["prior"], d["link_threshold"], d["review_threshold"], d.get("trained_on", 0),
            d.get("version", MODEL_VERSION), d.get("notes", []), bool(d.get("ssn_identifies", False)),
        )  # fmt: skip

    def with_thresholds(self, link: float | None, review: float | None) -> Model:
        return replace(
            self,
            link_threshold=self.link_threshold if link is None else link,
            review_threshold=self.review_threshold if review is None else review,
        )

    def weights(self) -> npt.NDArray[np.float64]:
        """log2(m/u) per comparison and level (levels padded to the longest); missing = 0."""
        width = max(len(c.levels) for c in COMPARISONS)
        out = np.zeros((len(COMPARISONS), width))
        for i, c in enumerate(COMPARISONS):
            for lv in range(1, len(c.levels)):
                out[i, lv] = math.log2(max(self.m[c.name][lv], FLOOR) / max(self.u[c.name][lv], FLOOR))
        return out

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))


TermFreq = Mapping[str, Mapping[str, float]]  # comparison -> value -> share of records with it


@dataclass(frozen=True, slots=True)
class Scores:
    levels: Levels
    weights: npt.NDArray[np.float64]  # pairs x comparisons
    total: npt.NDArray[np.float64]  # log2 odds including the prior
    probability: npt.NDArray[np.float64]
    veto: npt.NDArray[np.bool_]  # a hard disagreement: never linked without a person

    def decisions(self, model: Model) -> npt.NDArray[np.str_]:
        link = (self.probability >= model.link_threshold) & ~self.veto
        review = self.probability >= model.review_threshold
        return np.where(link, "match", np.where(review, "review", "none"))


def _level_index(name: str, label: str) -> int:
    return BY_NAME[name].level(label)


COL = {c.name: i for i, c in enumerate(COMPARISONS)}


SHARED_SSN_LIMIT = 0.02  # share of SSN-agreeing candidate pairs that are clearly two people


def ssn_identifies(levels: Levels) -> bool:
    """Whether SSN agreement means one person in this data: among candidate pairs that agree on
    the SSN, hardly any differ in both given name and birth date. In an index where children
    carry a guarantor's number, many do, and the SSN must not excuse anything."""
    same = levels[:, COL["ssn"]] == _level_index("ssn", "exact")
    if same.sum() < 50:
        return False
    g = levels[same, COL["given_name"]]
    d = levels[same, COL["birth_date"]]
    two_people = (g == _level_index("given_name", "disagree")) & (d > 0) & (d < _level_index("birth_date", "partial"))
    return float(two_people.mean()) < SHARED_SSN_LIMIT


def vetoes(
    levels: Levels, adults: npt.NDArray[np.bool_] | None = None, ssn_is_identity: bool = False
) -> npt.NDArray[np.bool_]:
    """Pairs that look alike but disagree where one person cannot; a person decides them, never
    the score. The hard negatives of a hospital index:

    - twins share surname, birth date, address, phone and often the guarantor's SSN: their given
      names (or middle names) differ, or agree only loosely (an initial, a sound-alike, the
      middle name used as the given name);
    - a household (spouses, parents and children) also differs in birth date;
    - father and son (Jr/Sr) share the whole name: a suffix on one side only, or two different
      suffixes, with birth dates that are not the same;
    - namesakes differ in birth date (different SSNs are no proof: one record may carry the
      patient's own, the other a guarantor's).

    A different surname (marriage) is accepted with the same given name, birth date and sex and
    a middle name, address, phone or the SSN in common; a different sex with the same SSN.
    SSN agreement never excuses a different birth date: registrations often carry the
    guarantor's SSN, the same for a parent and children or twins. It excuses a different given
    name only between two adults (``adults``) born on the same day (or one typo apart): grown
    twins have their own numbers, and a guarantor's is not kept for an adult."""
    g = levels[:, COL["given_name"]]
    d = levels[:, COL["birth_date"]]
    sex = levels[:, COL["sex"]]
    ssn = levels[:, COL["ssn"]]
    suffix = levels[:, COL["suffix"]]
    same_ssn = ssn == _level_index("ssn", "exact")
    adult_same_number = (
        same_ssn & (d >= _level_index("birth_date", "partial")) & (adults if adults is not None else False)
    )
    # In an index whose SSNs identify people (learnt, ``ssn_identifies``), the same number
    # excuses a different given name or birth date: one of them was typed wrong.
    excused = adult_same_number | (same_ssn & ssn_is_identity)
    names_differ = (g > 0) & (g < _level_index("given_name", "close")) & ~excused
    middle_differ = (levels[:, COL["middle_name"]] == _level_index("middle_name", "disagree")) & ~excused
    dates_differ = (d > 0) & (d < _level_index("birth_date", "partial")) & ~(same_ssn & ssn_is_identity)
    junior_senior = (suffix == _level_index("suffix", "conflict")) | (
        (suffix == _level_index("suffix", "one_sided")) & (d != _level_index("birth_date", "exact"))
    )
    married = (
        (g >= _level_index("given_name", "nickname"))
        & (d == _level_index("birth_date", "exact"))
        & (sex != _level_index("sex", "disagree"))
        & (
            (levels[:, COL["middle_name"]] == _level_index("middle_name", "exact"))
            | (levels[:, COL["contact"]] >= _level_index("contact", "one_exact"))
            | (ssn >= _level_index("ssn", "close"))
        )
    )
    surname = (levels[:, COL["family_name"]] == _level_index("family_name", "disagree")) & ~(
        married | (same_ssn & ssn_is_identity)
    )
    sex_differs = (sex == _level_index("sex", "disagree")) & ~same_ssn
    out: npt.NDArray[np.bool_] = names_differ | middle_differ | dates_differ | junior_senior | surname | sex_differs
    return out


def score(
    model: Model,
    levels: Levels,
    tf_values: Mapping[str, Sequence[str] | npt.NDArray[np.object_]] | None = None,
    tf: TermFreq | None = None,
    adults: npt.NDArray[np.bool_] | None = None,
) -> Scores:
    """Weights and posterior for each pair; ``tf_values[name][k]`` is the value pair k agreed on."""
    w = model.weights()
    per = w[np.arange(len(COMPARISONS))[None, :], levels.astype(np.int64)]
    if tf and tf_values:
        for name in TF_FIELDS:
            freq = tf.get(name)
            vals = tf_values.get(name)
            if not freq or vals is None:
                continue
            i = COL[name]
            exact = levels[:, i] == _level_index(name, "exact")
            m_exact = max(model.m[name][-1], FLOOR)
            floor = 1 / max(model.trained_on, 100_000)  # one record in a large index: the rarest share
            for k in np.flatnonzero(exact):
                share = freq.get(str(vals[int(k)]))
                if share:
                    per[k, i] = math.log2(m_exact / max(share, floor))
    total = per.sum(axis=1) + model.prior_weight
    prob = 1 / (1 + np.exp2(-np.clip(total, -60, 60)))
    return Scores(levels, per, total, prob, vetoes(levels, adults, model.ssn_identifies))


def estimate_u(levels: Levels) -> dict[str, list[float]]:
    """u per level from random pairs (nearly all of two different people)."""
    out: dict[str, list[float]] = {}
    for i, c in enumerate(COMPARISONS):
        counts = np.bincount(levels[:, i].astype(np.int64), minlength=len(c.levels)).astype(float)
        present = counts[1:].sum()
        if present == 0:
            out[c.name] = list(DEFAULT_U[c.name])
            continue
        # Add-half smoothing: a level never seen among random pairs is rare, not impossible.
        probs = (counts[1:] + 0.5) / (present + 0.5 * (len(c.levels) - 1))
        out[c.name] = [0.0, *probs.tolist()]
    return out


def em(
    levels: Levels,
    m: Mapping[str, Sequence[float]],
    u: Mapping[str, Sequence[float]],
    fixed: Sequence[str] = (),
    prior: float = 0.1,
    iterations: int = 40,
    tolerance: float = 1e-5,
) -> tuple[dict[str, list[float]], float]:
    """m and the match share of ``levels`` by EM, u held fixed; comparisons in ``fixed`` keep m."""
    patterns, counts = np.unique(levels, axis=0, return_counts=True)
    counts_f = counts.astype(float)
    m_cur = {k: np.asarray(v, dtype=float) for k, v in m.items()}
    u_arr = {k: np.asarray(v, dtype=float) for k, v in u.items()}
    lam = prior
    for _ in range(iterations):
        log_m = np.full(len(patterns), math.log(lam))
        log_u = np.full(len(patterns), math.log(1 - lam))
        for i, c in enumerate(COMPARISONS):
            lv = patterns[:, i].astype(np.int64)
            present = lv > 0
            log_m += np.where(present, np.log(np.maximum(m_cur[c.name][lv], FLOOR)), 0)
            log_u += np.where(present, np.log(np.maximum(u_arr[c.name][lv], FLOOR)), 0)
        p = 1 / (1 + np.exp(np.clip(log_u - log_m, -700, 700)))
        wp = p * counts_f
        new_lam = float(wp.sum() / counts_f.sum())
        change = abs(new_lam - lam)
        lam = min(max(new_lam, 1e-9), 1 - 1e-9)
        for i, c in enumerate(COMPARISONS):
            if c.name in fixed:
                continue
            lv = patterns[:, i].astype(np.int64)
            sums = np.bincount(lv, weights=wp, minlength=len(c.levels))
            total = sums[1:].sum()
            if total <= 0:
                continue
            new = np.zeros(len(c.levels))
            new[1:] = (sums[1:] + 1e-3) / (total + 1e-3 * (len(c.levels) - 1))
            change = max(change, float(np.abs(new - m_cur[c.name]).max()))
            m_cur[c.name] = new
        if change < tolerance:
            break
    return {k: v.tolist() for k, v in m_cur.items()}, lam


@dataclass(frozen=True, slots=True)
class Reason:
    comparison: str
    level: str
    weight: float


def explain(scores: Scores, k: int) -> list[Reason]:
    return [
        Reason(c.name, c.levels[int(scores.levels[k, i])], round(float(scores.weights[k, i]), 2))
        for i, c in enumerate(COMPARISONS)
    ]
