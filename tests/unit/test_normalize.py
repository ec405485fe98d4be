"""Normalisers: dates, names, phones; property tests for the round trips that must hold."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrate.nlp import normalize as nz

BIRTH_DATES = st.dates(min_value=date(1901, 1, 1), max_value=date(2025, 12, 31))
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December"]  # fmt: skip


@given(BIRTH_DATES)
def test_every_printed_form_of_a_date_reads_back(d: date) -> None:
    forms = [
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        f"{d.month}-{d.day}-{d.year}",
        d.isoformat(),
        f"{MONTH_NAMES[d.month - 1]} {d.day}, {d.year}",
        f"{d.day}-{MONTH_NAMES[d.month - 1][:3]}-{d.year}",
    ]
    for text in forms:
        assert nz.parse_date(text, past_only=True) == d, text


@given(BIRTH_DATES)
def test_two_digit_birth_years_are_never_in_the_future(d: date) -> None:
    today = date(2026, 1, 1)
    parsed = nz.parse_date(f"{d.month}/{d.day}/{d.year % 100:02d}", past_only=True, today=today)
    assert parsed is not None and parsed <= today and parsed.year % 100 == d.year % 100


def test_impossible_dates_are_not_dates() -> None:
    assert nz.parse_date("02/30/1980") is None
    assert nz.parse_date("13/45/1999") is None
    assert nz.parse_date("no date here") is None


# Name words; a word that is a name suffix ("Iii" reads as III, "Jr", "Snr") or a title is not a name.
NAME = st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True).filter(lambda w: w.lower() not in {*nz.SUFFIXES, *nz.TITLES})


@given(NAME, NAME, st.sampled_from(["", "Q", "Quinn"]))
def test_name_orders_agree(given_name: str, family: str, middle: str) -> None:
    forward = f"{given_name} {middle + ' ' if middle else ''}{family}"
    backward = f"{family.upper()}, {given_name.upper()}{' ' + middle.upper() if middle else ''}"
    a, b = nz.parse_name(forward), nz.parse_name(backward)
    assert a is not None and b is not None
    assert (a.given, a.family) == (b.given, b.family) == (given_name, family)
    assert (a.middle or "") == (b.middle or "") == middle


def test_suffix_and_title() -> None:
    n = nz.parse_name("Mr. Robert Allen Jr.")
    assert n is not None and (n.given, n.family, n.suffix, n.title) == ("Robert", "Allen", "Jr.", "Mr")


@pytest.mark.parametrize("text", ["(617) 555-0199", "617-555-0199", "617.555.0199", "+1 617 555 0199", "6175550199"])
def test_phone_forms(text: str) -> None:
    assert nz.parse_phone(text) == "6175550199"


@pytest.mark.parametrize("text", ["555-0199", "617-555-01999", "phone"])
def test_not_phones(text: str) -> None:
    assert nz.parse_phone(text) is None


def test_states_and_providers() -> None:
    assert nz.parse_state("oh") == "OH" and nz.parse_state("New York") == "NY" and nz.parse_state("ZZ") is None
    # USPS also serves the freely associated states and military post offices.
    assert nz.parse_state("FM") == "FM" and nz.parse_state("Guam") == "GU" and nz.parse_state("AE") == "AE"
    assert nz.provider_name("MCDOWELL, MICHAEL MD") == "Dr. Michael Mcdowell"
    assert nz.provider_name("Jasmine Brown, MD") == "Dr. Jasmine Brown"


def test_place_names_lose_stray_full_stops_only() -> None:
    assert nz.place_name("Lake. Karen") == "Lake Karen"
    assert nz.place_name("St. Louis") == "St. Louis"
    assert nz.parse_city_state_zip("Lake. Karen, OH 43150") == ("Lake Karen", "OH", "43150")
