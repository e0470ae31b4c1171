"""The policy file: the shipped defaults cover every synced field, a church's file overrides
them, and every mistake is refused at load time naming the file, entity and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pco_pipeline.sync.merge import Policy
from pco_pipeline.sync.policies import DEFAULT_POLICIES_FILE, PolicyError, load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES


def test_the_shipped_file_gives_every_synced_field_a_policy_pco_for_demographics_and_contacts():
    policies = load_policies(environ={})
    for entity in ENTITIES.values():
        assert set(policies.for_entity(entity.entity)) == set(entity.field_names)
    for entity in ("people", "person_emails", "person_phones"):
        assert set(policies.for_entity(entity).values()) == {Policy.PCO}
    assert policies.sources == (str(DEFAULT_POLICIES_FILE),)


def test_a_churchs_file_overrides_the_fields_it_names(tmp_path: Path):
    own = tmp_path / "ours.toml"
    own.write_text('[people]\nbirthdate = "manual"\n[group_memberships]\nleader_type = "newest"\n')
    policies = load_policies(environ={"PCO_SYNC_POLICIES": str(own)})
    assert policies.policy("people", "birthdate") is Policy.MANUAL
    assert policies.policy("group_memberships", "leader_type") is Policy.NEWEST
    assert policies.policy("people", "last_name") is Policy.PCO
    assert policies.sources[-1] == f"PCO_SYNC_POLICIES={own}"


@pytest.mark.parametrize(("text", "message"), [
    ('[people]\nbirthdate = "latest"\n',
     "people.birthdate: 'latest' is not a policy (one of pco, church, newest, manual)"),
    ('[people]\nallergies = "church"\n',
     "people.allergies is owned by the church and never sent to PCO, so no policy applies"),
    ('[people]\nshoe_size = "pco"\n', "people.shoe_size is not a synced field of people (one of first_name"),
    ('[pets]\nname = "pco"\n', "[pets] is not a synced entity"),
    ('people = "pco"\n', "people must be a table of field = \"policy\" lines"),
    ('[people\n', "not valid TOML"),
])
def test_mistakes_name_the_setting_entity_and_field(tmp_path: Path, text: str, message: str):
    own = tmp_path / "ours.toml"
    own.write_text(text)
    with pytest.raises(PolicyError) as refused:
        load_policies(environ={"PCO_SYNC_POLICIES": str(own)})
    assert str(refused.value).startswith(f"PCO_SYNC_POLICIES={own}: ")
    assert message in str(refused.value)


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(PolicyError, match="PCO_SYNC_POLICIES=.*nowhere.toml: no such file"):
        load_policies(environ={"PCO_SYNC_POLICIES": str(tmp_path / "nowhere.toml")})


def test_a_defaults_file_leaving_a_field_without_policy_is_refused(tmp_path: Path):
    defaults = tmp_path / "defaults.toml"
    defaults.write_text(DEFAULT_POLICIES_FILE.read_text().replace('membership = "pco"\n', ""))
    with pytest.raises(PolicyError, match="people.membership has no policy"):
        load_policies(environ={}, default_file=defaults)
