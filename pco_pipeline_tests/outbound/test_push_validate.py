"""What a push refuses to send, value by value (pure functions)."""

from datetime import date

import pytest

from pco_pipeline.sync.push import changed_by_pco
from pco_pipeline.sync.push_validate import (address_attributes, address_problems, email_problems,
                                             household_problems, is_invisible, person_problems, phone_problems,
                                             printable, text_problems)

TODAY = date(2026, 11, 1)
GOOD = {"id": 7, "first_name": "Ann", "last_name": "Lee", "birthdate": date(1980, 1, 2), "grade": None, "child": False}


def test_a_good_person_has_no_problems():
    assert person_problems(GOOD, today=TODAY) == []
    assert person_problems({**GOOD, "first_name": "", "grade": -1, "child": True}, today=TODAY) == []


@pytest.mark.parametrize("change, problem", [
    ({"first_name": " ", "last_name": ""}, "has neither a first nor a last name"),
    ({"birthdate": date(2026, 11, 2)}, "birthdate 2026-11-02 is in the future"),
    ({"birthdate": date(1849, 12, 31)}, "birthdate 1849-12-31 is before 1850"),
    ({"birthdate": "2020-13-01"}, "birthdate '2020-13-01' is not a date (YYYY-MM-DD)"),
    ({"birthdate": "03/04/2001"}, "birthdate '03/04/2001' is not a date (YYYY-MM-DD)"),
    ({"grade": 13}, "grade 13 is outside -1..12"),
    ({"grade": -2}, "grade -2 is outside -1..12"),
    ({"grade": "third"}, "grade 'third' is not a whole number"),
    ({"child": "maybe"}, "child 'maybe' is not true or false"),
    ({"id": 2**31}, "does not fit PCO's remote_id"),
])
def test_values_pco_would_blank_or_refuse(change, problem):
    problems = person_problems({**GOOD, **change}, today=TODAY)
    assert len(problems) == 1 and problem in problems[0]


@pytest.mark.parametrize("address, ok", [
    ("ann@example.org", True), ("Ann.Lee+choir@mail.example.co.uk", True), (" ann@example.org ", True),
    ("", False), ("ann", False), ("ann@example", False), ("ann@@example.org", False), ("an n@example.org", False),
    ("ann@example.org.", False),
])
def test_email_shape(address, ok):
    assert (email_problems(address) == []) is ok


def test_phones_need_an_e164_form_that_agrees_with_the_stored_one():
    assert phone_problems("(217) 555-0101") == []
    assert phone_problems("(217) 555-0101", "+12175550101") == []
    assert phone_problems("+44 20 7946 0958") == []
    assert "has no E.164 form (local number without area code)" in phone_problems("555-0101")[0]
    assert "has no E.164 form" in phone_problems("call me")[0]
    assert "church stored +12175550100" in phone_problems("(217) 555-0101", "+12175550100")[0]
    assert phone_problems(None) == ["phone number is blank"]


def test_addresses():
    family = {"street_line_1": " 1 Main St ", "street_line_2": "", "city": "Springfield", "state": "IL",
              "zip": "62701", "country_code": "US"}
    attributes = address_attributes(family)
    assert attributes is not None and attributes == {"street_line_1": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701",
                          "country_code": "US"}
    assert address_problems(attributes) == []
    assert address_attributes({"street_line_1": None, "city": " "}) is None
    assert address_problems({"zip": "62701"}) == ["address has neither a street nor a city"]
    assert address_problems({"city": "Springfield", "country_code": "USA"}) == [
        "country code 'USA' is not a two-letter ISO code"]


def test_values_pco_did_not_keep_are_reported():
    sent = {"first_name": "Ann", "birthdate": "1980-01-02", "grade": 3, "child": True, "remote_id": 7}
    assert changed_by_pco(sent, {**sent, "remote_id": "7", "name": "Ann"}) == {}
    assert changed_by_pco(sent, {**sent, "birthdate": None, "grade": None}) == {
        "birthdate": ("1980-01-02", None), "grade": (3, None)}


# --- text PCO should never get: too long, control characters, invisible formatting ------------------------------

LONG = "x" * 10_000
# (character, how a reason names it)
UNSAFE_CHARACTERS = [
    ("\x07", "an invisible control character (U+0007)"),
    ("\x00", "an invisible control character (U+0000)"),
    ("\x1b", "an invisible control character (U+001B)"),
    ("\x7f", "an invisible control character (U+007F)"),
    ("\t", "a tab (U+0009)"),
    ("\n", "a line break (U+000A)"),
    ("\r", "a line break (U+000D)"),
    ("\u2028", "a line break (U+2028)"),
    ("\u202a", "an invisible left-to-right embedding character (U+202A)"),
    ("\u202b", "an invisible right-to-left embedding character (U+202B)"),
    ("\u202c", "an invisible pop directional formatting character (U+202C)"),
    ("\u202d", "an invisible left-to-right override character (U+202D)"),
    ("\u202e", "an invisible right-to-left override character (U+202E)"),
    ("\u2066", "an invisible left-to-right isolate character (U+2066)"),
    ("\u2067", "an invisible right-to-left isolate character (U+2067)"),
    ("\u2068", "an invisible first strong isolate character (U+2068)"),
    ("\u2069", "an invisible pop directional isolate character (U+2069)"),
    ("\u200e", "an invisible left-to-right mark character (U+200E)"),
    ("\u200f", "an invisible right-to-left mark character (U+200F)"),
    ("\u061c", "an invisible arabic letter mark character (U+061C)"),
    ("\u200b", "an invisible zero width space character (U+200B)"),
    ("\ufeff", "an invisible zero width no-break space character (U+FEFF)"),
    ("\u00ad", "an invisible soft hyphen character (U+00AD)"),
    ("\u2060", "an invisible word joiner character (U+2060)"),
    ("\U000e0041", "an invisible tag latin capital letter a character (U+E0041)"),
]


@pytest.mark.parametrize("field, label", [
    ("first_name", "first name"), ("last_name", "last name"), ("middle_name", "middle name"),
    ("nickname", "nickname"), ("gender", "gender"), ("status", "status"), ("membership", "membership"),
])
def test_every_text_a_person_push_sends_is_at_most_255_characters(field, label):
    assert person_problems({**GOOD, field: "y" * 255}, today=TODAY) == []
    assert person_problems({**GOOD, field: "y" * 256}, today=TODAY) == [
        f"{label} is 256 characters long; at most 255 can be sent to PCO"]
    assert person_problems({**GOOD, field: LONG}, today=TODAY) == [
        f"{label} is 10,000 characters long; at most 255 can be sent to PCO"]


@pytest.mark.parametrize("character, described", UNSAFE_CHARACTERS)
def test_control_and_invisible_formatting_characters_in_a_name_are_refused(character, described):
    assert person_problems({**GOOD, "first_name": f"An{character}n"}, today=TODAY) == [
        f"first name contains {described}"]


@pytest.mark.parametrize("field, label", [("middle_name", "middle name"), ("nickname", "nickname"),
                                          ("gender", "gender"), ("status", "status"), ("membership", "membership")])
def test_every_person_text_is_checked_for_invisible_characters(field, label):
    assert person_problems({**GOOD, field: "Member\u202e"}, today=TODAY) == [
        f"{label} contains an invisible right-to-left override character (U+202E)"]


@pytest.mark.parametrize("name", ["Zoë", "José María", "Nguyễn Văn An", "محمد", "张伟", "O'Brien-Smith",
                                  "Mehr\u200cAsa",            # Persian: the zero-width non-joiner is spelling
                                  "\u0915\u094d\u200d\u0937"])  # Devanagari: so is the zero-width joiner
def test_real_names_in_any_script_go_through(name):
    assert person_problems({**GOOD, "first_name": name, "last_name": name}, today=TODAY) == []


def test_one_problem_names_at_most_three_characters_and_counts_the_rest():
    assert text_problems("street", "a\x07b\nc\u202ed\u200be\x1b") == [
        "street contains an invisible control character (U+0007), a line break (U+000A), an invisible "
        "right-to-left override character (U+202E) and 2 more"]
    assert text_problems("street", "a\x07b\x07c") == ["street contains an invisible control character (U+0007)"]
    assert text_problems("street", None) == [] and text_problems("street", "1 Main St") == []


def test_reasons_never_carry_the_bad_text_itself():
    reasons = (person_problems({**GOOD, "last_name": LONG + "\u202e"}, today=TODAY)
               + email_problems("ann\u202e" + "@example.org") + email_problems(LONG)
               + phone_problems("217" + "\u202e" * 300) + address_problems({"city": "\u202e" + LONG}))
    assert reasons
    for reason in reasons:
        assert len(reason) < 200 and not any(is_invisible(c) for c in reason), reason


@pytest.mark.parametrize("address, problem", [
    ("a" * 64 + "@example.org", None),
    ("a" * 65 + "@example.org", "email address has 65 characters before the @; at most 64 are allowed"),
    (LONG + "@example.org", "email address has 10,000 characters before the @; at most 64 are allowed"),
    ("ann@" + "d" * 240 + ".org", None),                                     # 248 characters
    ("ann@" + "d" * 250 + ".org", "email address is 258 characters long; at most 254 can be sent to PCO"),
    ("ann\x07@example.org", "email address contains an invisible control character (U+0007)"),
    ("ann\nlee@example.org", "email address contains a line break (U+000A)"),
    ("ann\u202e@example.org", "email address contains an invisible right-to-left override character (U+202E)"),
    ("ann@exam\u200bple.org", "email address contains an invisible zero width space character (U+200B)"),
])
def test_email_length_and_characters(address, problem):
    assert email_problems(address) == ([problem] if problem else [])


def test_email_and_phone_locations_are_checked_too():
    assert email_problems("ann@example.org", "Home") == []
    assert email_problems("ann@example.org", "Ho\u202eme") == [
        "email location contains an invisible right-to-left override character (U+202E)"]
    assert phone_problems("(217) 555-0101", None, "Mobile") == []
    assert phone_problems("(217) 555-0101", None, LONG) == [
        "phone location is 10,000 characters long; at most 255 can be sent to PCO"]


@pytest.mark.parametrize("number, problem", [
    ("2" * 10_000, "phone number is 10,000 characters long; at most 255 can be sent to PCO"),
    ("(217) 555\x07-0101", "phone number contains an invisible control character (U+0007)"),
    ("(217) 555-\n0101", "phone number contains a line break (U+000A)"),
    ("(217) 555-0101\n", "phone number contains a line break (U+000A)"),    # sent as typed: the break too
    ("\u202e(217) 555-0101", "phone number contains an invisible right-to-left override character (U+202E)"),
])
def test_phone_length_and_characters(number, problem):
    assert phone_problems(number) == [problem]


@pytest.mark.parametrize("field, label", [("street_line_1", "street"), ("street_line_2", "second street line"),
                                          ("city", "city"), ("state", "state"), ("zip", "ZIP code")])
def test_every_address_line_is_checked(field, label):
    good = {"street_line_1": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country_code": "US"}
    assert address_problems({**good, field: "y" * 255}) == []
    assert address_problems({**good, field: LONG}) == [
        f"{label} is 10,000 characters long; at most 255 can be sent to PCO"]
    assert address_problems({**good, field: "1\x07"}) == [f"{label} contains an invisible control character (U+0007)"]
    assert address_problems({**good, field: "Apt 2\nBack door"}) == [f"{label} contains a line break (U+000A)"]
    assert address_problems({**good, field: "\u202e62701"}) == [
        f"{label} contains an invisible right-to-left override character (U+202E)"]


def test_household_names():
    assert household_problems("The Lee Family") == []
    assert household_problems("  ") == ["has no name"]
    assert household_problems("Lee\u202e") == [
        "household name contains an invisible right-to-left override character (U+202E)"]
    assert household_problems(LONG) == ["household name is 10,000 characters long; at most 255 can be sent to PCO"]


def test_printable_shows_invisible_characters_by_their_code_and_shortens():
    assert printable("Ann\u202eLee\x07") == "Ann<U+202E>Lee<U+0007>"
    assert printable("Mehr\u200cAsa") == "Mehr\u200cAsa"
    assert printable(LONG) == "x" * 40 + "…"
    assert printable(None) == ""
