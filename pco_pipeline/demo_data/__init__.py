"""The demo church: the sandbox's synthetic PCO organization and the church's own database that
overlaps it, with the answer key for matching the two.

    church = generate_church(people=2000, seed=1)
    church.pco["people/people"]      # JSON:API resource objects, as live PCO returns them (pco_sandbox.seed)
    church.local["people"]           # rows for the church tables, explicit integer ids (local.py)
    church.expected_matches          # what the inbound matcher must conclude per local person

The same (people, seed, now) always gives identical output. The PCO half is the sandbox's
(`pco_sandbox.seed`, whose docstring describes the resources); the local half and the answer key
are the church's side and live here, built from the organization's generator model.

Matching rules the expected matches encode
------------------------------------------
The rule is stated once, in `pco_pipeline/sync/match.py`'s docstring (pco_id, then email, then
name + birthdate, then create; ambiguity quarantined; first created in PCO wins a claim). The
answer key below is built from the generator's model of who is whom, not from that code, so the
tests compare the matcher with an independent account of each case. A local person nobody
claims is *ambiguous* if an ambiguous PCO person named it as a candidate, else *local-only*
(it will be pushed to PCO).

ExpectedMatch kinds and reasons:
- pco_id: "pco_id"; "pco_id_merged" (pco_person_id is the person_to_keep).
- email: "email" (same address; the local first name is the nickname, or the birthdate is
  missing or mistyped, so step 3 alone would not link them); "email_case_whitespace" (the local
  address differs only in case or surrounding whitespace).
- name_birthdate: "name_birthdate"; "name_birthdate_case_whitespace" (names differ only in case
  or surrounding whitespace); "pco_duplicate_earliest_created" (PCO has the person twice,
  unmerged: `candidates` lists both records, earliest first; the later one's claim loses and it
  is ambiguous). The local person has no email, an address PCO does not have, or a family
  address several PCO people share (which must not count: by step 2 alone, the spouse created
  first in PCO would take this person).
- local_only: "local_only" (a family PCO never saw); "new_in_linked_family" (a newborn added at
  church to a family that is linked).
- near_miss — must NOT match (pco_person_id None; `resembles` names the PCO look-alike):
  "same_name_different_birthdate" (off by a day or a year, or day and month swapped);
  "same_name_no_birthdate" (local has none); "pco_has_no_birthdate" (PCO has none);
  "nickname_as_first_name" (local first name = P's nickname, same last name and birthdate);
  "accents_differ" (Jose Garcia vs José García, same birthdate);
  "similar_email_other_domain" (same local part at another domain; no local birthdate);
  "email_subaddress_or_dots" (dots removed or a +tag added; no local birthdate).
- ambiguous (pco_person_id None; `candidates` = the PCO people that found it ambiguous):
  "email_shared_same_first_name" (father and son, same first and last name, share the family
  address that only the father has in PCO);
  "local_duplicate_name_birthdate" (the church has P twice: same name and birthdate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pco_pipeline.demo_data.local import LOCAL_TABLES, MATCH_KINDS, ExpectedMatch, generate_local
from pco_sandbox.seed import DEFAULT_NOW, generate_organization, without_cyclic_gc

__all__ = ["DEFAULT_NOW", "LOCAL_TABLES", "MATCH_KINDS", "ExpectedMatch", "SyntheticChurch", "generate_church"]


@dataclass(slots=True)
class SyntheticChurch:
    pco: dict[str, list[dict]]
    local: dict[str, list[dict]]
    expected_matches: list[ExpectedMatch]
    organization: dict          # id, name, time_zone, country_code, date_format
    now: datetime


def generate_church(people: int = 2000, seed: int = 1, now: datetime = DEFAULT_NOW) -> SyntheticChurch:
    """A church of exactly `people` PCO people, and its local database (see the module docstring)."""
    organization = generate_organization(people=people, seed=seed, now=now)
    with without_cyclic_gc():
        local = generate_local(organization.people, organization.groups, seed, organization.now)
    return SyntheticChurch(pco=organization.pco, local=local.tables, expected_matches=local.expected,
                           organization=organization.organization, now=organization.now)
