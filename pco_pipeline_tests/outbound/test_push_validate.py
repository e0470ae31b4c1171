"""What a push refuses to send, value by value (pure functions)."""

from datetime import date

import pytest

from pco_pipeline.sync.push import changed_by_pco
from pco_pipeline.sync.push_validate import (address_attributes, address_problems, email_problems, person_problems,
                                             phone_problems)

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
    assert attributes == {"street_line_1": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701",
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
