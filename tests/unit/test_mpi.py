"""Master patient index: normalisers, comparisons, the Fellegi-Sunter model, hard negatives."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.mpi import linkage
from migrate.mpi import normalize as nz
from migrate.mpi.compare import BY_NAME, COMPARISONS, compare
from migrate.mpi.model import Model, em
from migrate.mpi.records import Records

COLS = {c.name: i for i, c in enumerate(COMPARISONS)}


def rec(**kw: str) -> dict[str, str]:
    return kw


def levels_of(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    recs = Records.from_rows([a, b])
    lv = compare(recs, np.array([0]), np.array([1]))[0]
    return {c.name: c.levels[int(lv[i])] for i, c in enumerate(COMPARISONS)}


def decide(a: dict[str, str], b: dict[str, str]) -> str:
    recs = Records.from_rows([a, b])
    model = Model.default(200_000)
    s = linkage.score_pairs(model, recs, np.array([0]), np.array([1]), None)
    return str(s.decisions(model)[0])


ROBERT = rec(id="1", given_name="Robert", middle_name="James", family_name="Smith", birth_date="1956-03-04", sex="M",
             address_line="12 Main Street", postal_code="62701", phone="217-555-0101", ssn="123-45-6789")  # fmt: skip


def test_names_fold_case_accents_punctuation_and_suffixes() -> None:
    n = nz.name("Dr. José", "", "García-López Jr.")
    assert (n.given, n.family, n.suffix) == ("jose", "garcia lopez", "JR")
    assert n.family_parts == ("garcia", "lopez")
    assert nz.name("Mary Ann", "", "de la Cruz").middle == "ann"
    assert nz.name("Mary Ann", "", "de la Cruz").family_parts == ("cruz",)


def test_nicknames_come_from_the_table_and_are_symmetric() -> None:
    assert nz.nicknames_agree("bob", "robert") and nz.nicknames_agree("robert", "bob")
    assert nz.nicknames_agree("peggy", "margaret")
    assert not nz.nicknames_agree("john", "jane")


def test_birth_date_phone_ssn_address_normalisers() -> None:
    assert nz.birth_date("1956-02-30") is None and nz.birth_date("19xx-01-01") is None
    assert str(nz.birth_date("19151111")) == "1915-11-11"
    assert nz.phone("(217) 555-0101") == "2175550101" and nz.phone("555-0101") == ""
    assert nz.ssn("123-45-6789") == "123456789" and nz.ssn("0000") == ""
    assert nz.address("123 North Main Street Apt. 4B") == nz.address("123 N Main St #4b") == ("123", "n main st #4b")
    assert nz.postal("62701-1234") == "62701"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_normalisers_never_raise(text: str) -> None:
    nz.birth_date(text)
    nz.phone(text)
    nz.ssn(text)
    nz.address(text)
    assert nz.fold(nz.fold(text)) == nz.fold(text)


names = st.sampled_from(["Robert", "Bob", "Rob", "Jon", "John", "Jane", "Mary", "Maria", "", "J", "Smith", "Smyth"])
dates = st.sampled_from(["1956-03-04", "1956-04-03", "1965-03-04", "1956-03-05", "", "garbage"])


@settings(max_examples=150, deadline=None)
@given(names, names, names, names, dates, dates)
def test_comparison_is_symmetric_and_identity_is_best(g1: str, g2: str, f1: str, f2: str, d1: str, d2: str) -> None:
    a = rec(given_name=g1, family_name=f1, birth_date=d1, phone="2175550101", address_line="1 Oak St")
    b = rec(given_name=g2, family_name=f2, birth_date=d2, phone="2175550101", address_line="1 Oak St")
    assert levels_of(a, b) == levels_of(b, a)
    same = levels_of(a, a)
    for c in COMPARISONS:
        assert same[c.name] in ("missing", c.levels[-1])


def test_birth_date_typos_are_partial_agreement() -> None:
    base = dict(ROBERT)
    for other, level in (
        ("1956-03-04", "exact"),
        ("1965-03-04", "partial"),  # two digits swapped
        ("1956-04-03", "partial"),  # day and month swapped
        ("1956-03-05", "partial"),  # one digit
        ("1956-08-21", "year_only"),
        ("1971-10-12", "disagree"),
    ):
        assert levels_of(base, {**base, "birth_date": other})["birth_date"] == level, other


def test_true_duplicates_with_typical_errors_link() -> None:
    for change in (
        {"given_name": "Bob"},  # nickname
        {"family_name": "Smtih"},  # typo
        {"birth_date": "1956-04-03"},  # day/month swap
        {"address_line": "9 Elm Rd", "postal_code": "60601", "phone": "312-555-0199"},  # moved
        {"middle_name": "", "phone": ""},  # missing values
    ):
        assert decide(ROBERT, {**ROBERT, "id": "2", **change}) == "match", change


def test_hard_negatives_never_link() -> None:
    household = rec(id="9", given_name="Linda", family_name="Smith", birth_date="1958-07-09", sex="F",
                    address_line="12 Main Street", postal_code="62701", phone="217-555-0101")  # fmt: skip
    twin = {**ROBERT, "id": "3", "given_name": "Richard", "middle_name": "", "ssn": "123-45-6790"}
    junior = {**ROBERT, "id": "4", "family_name": "Smith Jr", "birth_date": "1984-11-02", "ssn": ""}
    common = {**ROBERT, "id": "5", "birth_date": "1961-09-30", "address_line": "", "phone": "", "ssn": ""}
    for other in (household, twin, junior, common):
        assert decide(ROBERT, other) != "match", other["id"]
    assert decide(ROBERT, household) == "none"
    # Jr against Sr is never linked, even with everything else the same.
    assert decide({**ROBERT, "family_name": "Smith Sr"}, {**ROBERT, "id": "6", "family_name": "Smith Jr"}) != "match"


def test_guarantor_ssn_never_excuses_twins_or_a_child() -> None:
    """Children are registered with a parent's SSN: twin babies share it, and so do parent and child."""
    twin_a = rec(id="1", given_name="Ava", family_name="Reyes", birth_date="2021-05-02", sex="F",
                 address_line="5 Oak St", phone="6145550101", ssn="123-45-6789")  # fmt: skip
    twin_b = {**twin_a, "id": "2", "given_name": "Mia"}
    assert decide(twin_a, twin_b) != "match"
    parent = {**twin_a, "id": "3", "given_name": "Ava", "birth_date": "1990-01-12"}
    assert decide(twin_a, parent) != "match"
    # Two adults born the same day with the same full SSN: a given name typed wrong.
    adult = {**twin_a, "birth_date": "1971-05-02"}
    assert decide(adult, {**adult, "id": "4", "given_name": "Avaline"}) == "match"


def test_father_and_son_and_middle_name_conflicts_never_link() -> None:
    senior = {**ROBERT, "ssn": ""}
    junior = {**senior, "id": "7", "family_name": "Smith Jr", "birth_date": "1956-03-14"}  # one digit off
    assert decide(senior, junior) != "match"
    other_middle = {**ROBERT, "id": "8", "middle_name": "Kevin", "ssn": ""}
    assert decide({**ROBERT, "ssn": ""}, other_middle) != "match"


def test_married_surname_links_with_enough_in_common() -> None:
    her = rec(id="1", given_name="Laura", middle_name="Ann", family_name="Baker", birth_date="1980-02-11",
              sex="F", address_line="9 Pine Rd", phone="6145550144")  # fmt: skip
    assert decide(her, {**her, "id": "2", "family_name": "Baker-Lee"}) == "match"  # shared part
    assert decide(her, {**her, "id": "3", "family_name": "Lee"}) == "match"  # middle, address, phone
    moved = {**her, "id": "4", "family_name": "Lee", "middle_name": "", "address_line": "1 Elm St", "phone": ""}
    assert decide(her, moved) != "match"  # only name and birth date left: a namesake is as likely


def test_common_surname_counts_for_less_than_a_rare_one() -> None:
    rows = [rec(id=str(i), given_name="Ann", family_name="Smith" if i < 50 else f"Zyx{i}") for i in range(100)]
    recs = Records.from_rows(rows)
    tf = linkage.term_freq(recs)
    model = Model.default(100)
    common = linkage.score_pairs(model, recs, np.array([0]), np.array([1]), tf)
    rare_recs = Records.from_rows([*rows, rec(id="x", given_name="Ann", family_name="Zyx60")])
    rare = linkage.score_pairs(model, rare_recs, np.array([60]), np.array([100]), linkage.term_freq(rare_recs))
    fam = COLS["family_name"]
    assert rare.weights[0, fam] > common.weights[0, fam] + 3


def test_em_recovers_known_parameters() -> None:
    """Comparison vectors drawn from known m, u and match share: EM with u fixed finds m and λ."""
    rng = np.random.default_rng(3)
    n, lam = 60_000, 0.3
    true_m = {c.name: Model.default().m[c.name] for c in COMPARISONS}
    u = {c.name: Model.default().u[c.name] for c in COMPARISONS}
    is_match = rng.random(n) < lam
    levels = np.zeros((n, len(COMPARISONS)), dtype=np.int8)
    for i, c in enumerate(COMPARISONS):
        for flag, params in ((True, true_m), (False, u)):
            p = np.asarray(params[c.name][1:], dtype=float)
            p = p / p.sum()
            rows = np.flatnonzero(is_match == flag)
            levels[rows, i] = rng.choice(np.arange(1, len(c.levels)), size=len(rows), p=p)
    flat = {c.name: [0.0, *([1 / (len(c.levels) - 1)] * (len(c.levels) - 1))] for c in COMPARISONS}
    m_hat, lam_hat = em(levels, flat, u, prior=0.05)
    assert math.isclose(lam_hat, lam, abs_tol=0.02)
    for c in COMPARISONS:
        want = np.asarray(true_m[c.name][1:]) / sum(true_m[c.name][1:])
        assert np.abs(np.asarray(m_hat[c.name][1:]) - want).max() < 0.03, c.name


def test_clusters_do_not_chain_two_people_through_a_weak_middle_record() -> None:
    """A links to B (nickname, no birth date on B), B links to C, but A and C have different
    birth dates: they are two people, so no cluster holds both."""
    a = {**ROBERT, "id": "A"}
    b = {**ROBERT, "id": "B", "given_name": "Bob", "birth_date": "", "ssn": ""}
    c = {**b, "id": "C", "birth_date": "1990-01-01"}
    assert (decide(a, b), decide(b, c), decide(a, c)) == ("match", "match", "review")  # A, C: birth dates differ
    recs = Records.from_rows([a, b, c])
    model = Model.default(200_000)
    pairs = linkage.resolve(model, recs, np.array([0, 1, 0]), np.array([1, 2, 2]), None)
    matched = {(recs.ids[p.left], recs.ids[p.right]) for p in pairs if p.decision == "match"}
    assert ("A", "C") not in matched
    assert not {("A", "B"), ("B", "C")} <= matched


def test_comparison_levels_named_as_documented() -> None:
    assert BY_NAME["given_name"].levels[0] == "missing" and BY_NAME["suffix"].levels[1] == "conflict"


def test_whether_ssns_identify_people_is_learnt_from_the_index() -> None:
    from migrate.mpi.model import ssn_identifies

    g, d, s = COLS["given_name"], COLS["birth_date"], COLS["ssn"]
    own = np.zeros((200, len(COMPARISONS)), dtype=np.int8)
    own[:, s] = BY_NAME["ssn"].level("exact")
    own[:, g] = BY_NAME["given_name"].level("exact")
    own[:, d] = BY_NAME["birth_date"].level("exact")
    own[:2, g] = BY_NAME["given_name"].level("disagree")  # a typo or two
    assert ssn_identifies(own)
    families = own.copy()
    families[:60, g] = BY_NAME["given_name"].level("disagree")  # a guarantor's number on children
    families[:60, d] = BY_NAME["birth_date"].level("disagree")
    assert not ssn_identifies(families)
