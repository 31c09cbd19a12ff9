"""Customer matching: the channel's keys in its order, normalised emails and phones, ambiguity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.catalog import Account
from legato.domain.matching import (
    CustomerRef,
    check_match_key,
    match_account,
    normalise_email,
    normalise_phone,
)

ALICE = Account(code="ALICE", name="Alice Ltd", email="alice@example.com", phone="+44 20 7946 0001")
BOB = Account(code="BOB", name="Bob plc", email="bob@example.com", phone="+44 20 7946 0018", erp_ref="C-100")
CAROL = Account(code="CAROL", name="Carol GmbH", email="carol@example.de", phone="+44 20 7946 0018")
DAVE = Account(
    code="DAVE", name="Dave Inc", email="dave@example.com", properties={"vat": "GB123", "store": 42}
)
ACCOUNTS = [ALICE, BOB, CAROL, DAVE]


# --- key order ------------------------------------------------------------------------------------


def test_keys_are_tried_in_the_channels_order_email_first() -> None:
    ref = CustomerRef(email="alice@example.com", phone="+44 20 7946 0001", code="DAVE")
    assert match_account(ref, ["email", "code"], ACCOUNTS) is ALICE


def test_keys_are_tried_in_the_channels_order_code_first() -> None:
    ref = CustomerRef(email="alice@example.com", phone="+44 20 7946 0001", code="DAVE")
    assert match_account(ref, ["code", "email"], ACCOUNTS) is DAVE


def test_phone_before_email_when_the_channel_says_so() -> None:
    ref = CustomerRef(email="dave@example.com", phone="+44 20 7946 0001")
    assert match_account(ref, ["phone", "email"], ACCOUNTS) is ALICE
    assert match_account(ref, ["email", "phone"], ACCOUNTS) is DAVE


def test_a_key_the_order_does_not_carry_is_skipped() -> None:
    ref = CustomerRef(erp_ref="C-100")
    assert match_account(ref, ["email", "phone", "erp_ref"], ACCOUNTS) is BOB


def test_a_key_that_matches_no_account_falls_through_to_the_next() -> None:
    ref = CustomerRef(email="nobody@example.com", code="ALICE")
    assert match_account(ref, ["email", "code"], ACCOUNTS) is ALICE


def test_only_the_channels_keys_are_used() -> None:
    ref = CustomerRef(email="alice@example.com")
    assert match_account(ref, ["code", "phone"], ACCOUNTS) is None


def test_no_key_present_matches_nothing() -> None:
    assert (
        match_account(CustomerRef(name="Alice Ltd"), ["email", "code", "phone", "erp_ref"], ACCOUNTS) is None
    )
    assert match_account(CustomerRef(email="", phone="  "), ["email", "phone"], ACCOUNTS) is None


def test_no_keys_or_no_candidates_match_nothing() -> None:
    assert match_account(CustomerRef(email="alice@example.com"), [], ACCOUNTS) is None
    assert match_account(CustomerRef(email="alice@example.com"), ["email"], []) is None


# --- ambiguity ------------------------------------------------------------------------------------


def test_an_ambiguous_key_is_skipped_and_the_next_key_is_tried() -> None:
    # BOB and CAROL share a switchboard number: the phone must not pick either of them
    ref = CustomerRef(phone="+442079460018", email="carol@example.de")
    assert match_account(ref, ["phone", "email"], ACCOUNTS) is CAROL


def test_an_ambiguous_key_with_nothing_after_it_matches_nothing() -> None:
    assert match_account(CustomerRef(phone="+442079460018"), ["phone"], ACCOUNTS) is None


def test_candidates_may_be_a_one_shot_iterator() -> None:
    ref = CustomerRef(phone="+442079460018", code="BOB")
    assert match_account(ref, ["phone", "code"], iter(ACCOUNTS)) is BOB


# --- emails ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["Alice@Example.COM", "  alice@example.com ", "ALICE@EXAMPLE.COM"])
def test_emails_match_whatever_their_case_and_surrounding_spaces(email: str) -> None:
    assert match_account(CustomerRef(email=email), ["email"], ACCOUNTS) is ALICE


def test_an_account_email_in_capitals_still_matches() -> None:
    shouty = Account(code="S", name="Shouty", email="SALES@EXAMPLE.COM")
    assert match_account(CustomerRef(email="sales@example.com"), ["email"], [shouty]) is shouty


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), ("   ", None), (" A@B.Io ", "a@b.io")]
)
def test_normalise_email(raw: str | None, expected: str | None) -> None:
    assert normalise_email(raw) == expected


# --- phones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0018",
        "+442079460018",
        "0044 20 7946 0018",
        "00442079460018",
        "+44 (20) 7946-0018",
        "+44.20.7946.0018",
    ],
)
def test_phones_compare_by_their_digits_with_00_read_as_plus(phone: str) -> None:
    assert normalise_phone(phone) == "+442079460018"


def test_a_phone_written_differently_matches_the_account() -> None:
    ref = CustomerRef(phone="0044 (20) 7946-0001")
    assert match_account(ref, ["phone"], ACCOUNTS) is ALICE


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), ("n/a", None), ("020 7946 0018", "02079460018")]
)
def test_normalise_phone_edge_cases(raw: str | None, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


@settings(max_examples=200, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=6, max_size=15).filter(lambda d: not d.startswith("00")),
    separators=st.lists(st.sampled_from([" ", "-", ".", "(", ")", "/"]), max_size=15),
)
def test_separators_never_change_a_normalised_phone(digits: str, separators: list[str]) -> None:
    chars = list(digits)
    for i, sep in enumerate(separators):
        chars.insert((i * 7) % (len(chars) + 1), sep)
    spaced = "".join(chars)
    assert normalise_phone("+" + spaced) == "+" + digits
    assert normalise_phone("00" + spaced) == "+" + digits


# --- custom properties ----------------------------------------------------------------------------


def test_a_property_key_matches_a_custom_property() -> None:
    ref = CustomerRef(properties={"vat": "GB123"})
    assert match_account(ref, ["property:vat"], ACCOUNTS) is DAVE


def test_a_property_compares_as_text() -> None:
    ref = CustomerRef(properties={"store": "42"})
    assert match_account(ref, ["property:store"], ACCOUNTS) is DAVE


def test_an_absent_or_empty_property_is_skipped() -> None:
    assert (
        match_account(CustomerRef(properties={"vat": ""}, code="BOB"), ["property:vat", "code"], ACCOUNTS)
        is BOB
    )
    assert match_account(CustomerRef(code="BOB"), ["property:vat", "code"], ACCOUNTS) is BOB


def test_a_property_with_a_different_value_matches_nothing() -> None:
    assert match_account(CustomerRef(properties={"vat": "GB999"}), ["property:vat"], ACCOUNTS) is None


@pytest.mark.parametrize("key", ["email", "code", "phone", "erp_ref", "property:vat", "property:store id"])
def test_known_keys_and_named_properties_are_valid_match_keys(key: str) -> None:
    assert check_match_key(key)


@pytest.mark.parametrize("key", ["property:", "name", "Email", "", "vat"])
def test_other_keys_are_not_valid_match_keys(key: str) -> None:
    assert not check_match_key(key)
