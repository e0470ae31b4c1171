"""The entities two-way sync compares, as `EntityFields` declarations: which fields are synced
(with their types), where the church's linked rows and PCO's records are read from, and which
columns belong to the church alone.

Until the entity registry (`sync/registry.py`) carries each entity's field map, these
declarations are where two-way sync reads them; the registry's entries will supply the same
`EntityFields` and this module will go. PCO's side always comes from `sync/pco_state.py`, the one
mapping of landed PCO records to church columns, so equal values compare equal.
"""

from __future__ import annotations

from pco_pipeline.sync import pco_state
from pco_pipeline.sync.merge import EntityFields, FieldSpec


def _pco_side(state_sql: str, fields: tuple[FieldSpec, ...], changed_at: str) -> str:
    columns = ", ".join(f"s.{spec.name}" for spec in fields)
    return f"SELECT s.pco_id, {changed_at} AS changed_at, {columns} FROM ({state_sql}) s"


def _church_deletions(table: str) -> str:
    # Kept by a trigger (sql/0012_push_updates.sql) for every linked row deleted locally.
    return f"SELECT d.pco_id, d.deleted_at FROM church_deletions d WHERE d.local_table = '{table}'"


def _pco_deletions(resource: str) -> str:
    return (f"SELECT l.pco_id, l.removed_at AS deleted_at FROM pco_landing l "
            f"WHERE l.resource = '{resource}' AND l.removed_at IS NOT NULL")


def _church_side(table: str, fields: tuple[FieldSpec, ...]) -> str:
    columns = ", ".join(f"t.{spec.name}" for spec in fields)
    return (f"SELECT t.pco_id, t.id AS local_id, t.updated_at AS changed_at, {columns} "
            f"FROM {table} t WHERE t.pco_id IS NOT NULL")


PEOPLE_FIELDS = (
    FieldSpec("first_name", "text"), FieldSpec("last_name", "text"), FieldSpec("nickname", "text"),
    FieldSpec("middle_name", "text"), FieldSpec("gender", "text"), FieldSpec("birthdate", "date"),
    FieldSpec("child", "boolean"), FieldSpec("grade", "smallint"), FieldSpec("status", "text"),
    FieldSpec("membership", "text"),
)
EMAIL_FIELDS = (FieldSpec("address", "text"), FieldSpec("location", "text"), FieldSpec("is_primary", "boolean"))
PHONE_FIELDS = (FieldSpec("number", "text"), FieldSpec("location", "text"), FieldSpec("is_primary", "boolean"))
FAMILY_FIELDS = (
    FieldSpec("name", "text"), FieldSpec("street_line_1", "text"), FieldSpec("street_line_2", "text"),
    FieldSpec("city", "text"), FieldSpec("state", "text"), FieldSpec("zip", "text"),
    FieldSpec("country_code", "text"),
)
MEMBERSHIP_FIELDS = (FieldSpec("leader_type", "text"),)
FAMILY_MEMBER_FIELDS = (FieldSpec("is_primary_contact", "boolean"),)

# Who is in a linked family: one record per (household, person) pair, keyed "<household>:<person>"
# (PCO's membership id is only PCO's), local_id the family. The record existing is the membership;
# its one field says whether the person is the household's primary contact. A pair the church added
# that PCO never listed and no base remembers is a create, not a record PCO deleted, so the
# church's side holds only pairs PCO lists or the base remembers (`family_members_push` adds the
# others; the household is looked up by its id, as pco_state_family_members reads it, not through
# the view, which a correlated lookup would expand whole per row). PCO's side holds only people and
# households the church has.
_FAMILY_MEMBERS_CHURCH = """
SELECT f.pco_id || ':' || p.pco_id AS pco_id, f.id AS local_id, fm.updated_at AS changed_at, fm.is_primary_contact
FROM family_members fm
JOIN families f ON f.id = fm.family_id AND f.pco_id IS NOT NULL AND f.pco_removed_at IS NULL
JOIN people p ON p.id = fm.person_id AND p.pco_id IS NOT NULL
WHERE EXISTS (SELECT 1 FROM sync_base b WHERE b.entity = 'family_members' AND b.pco_id = f.pco_id || ':' || p.pco_id)
   OR EXISTS (SELECT 1 FROM pco_landing h WHERE h.resource = 'people/households' AND h.pco_id = f.pco_id
              AND h.removed_at IS NULL AND h.relationships->'people' @> jsonb_build_array(p.pco_id))
"""
_FAMILY_MEMBERS_PCO = f"""
SELECT s.pco_id, s.pco_updated_at AS changed_at, s.is_primary_contact
FROM ({pco_state.FAMILY_MEMBERS}) s
WHERE s.problems IS NULL
  AND EXISTS (SELECT 1 FROM people p WHERE p.pco_id = s.person_pco_id)
  AND EXISTS (SELECT 1 FROM families f WHERE f.pco_id = s.family_pco_id)
"""

ENTITIES: dict[str, EntityFields] = {
    entity.entity: entity for entity in (
        EntityFields(
            "people", PEOPLE_FIELDS,
            church_relation_sql=_church_side("people", PEOPLE_FIELDS),
            pco_relation_sql=_pco_side(pco_state.PEOPLE, PEOPLE_FIELDS, "s.pco_updated_at"),
            church_owned=("allergies", "photo_url", "is_verified"),
            church_deletions_sql=_church_deletions("people"), pco_deletions_sql=_pco_deletions("people/people")),
        EntityFields(
            "person_emails", EMAIL_FIELDS,
            church_relation_sql=_church_side("person_emails", EMAIL_FIELDS),
            pco_relation_sql=_pco_side(pco_state.PERSON_EMAILS, EMAIL_FIELDS, "s.pco_updated_at"),
            church_deletions_sql=_church_deletions("person_emails"), pco_deletions_sql=_pco_deletions("people/emails")),
        EntityFields(
            "person_phones", PHONE_FIELDS,
            church_relation_sql=_church_side("person_phones", PHONE_FIELDS),
            pco_relation_sql=_pco_side(pco_state.PERSON_PHONES, PHONE_FIELDS, "s.pco_updated_at"),
            church_deletions_sql=_church_deletions("person_phones"),
            pco_deletions_sql=_pco_deletions("people/phone_numbers")),
        EntityFields(
            "families", FAMILY_FIELDS,
            church_relation_sql=_church_side("families", FAMILY_FIELDS),
            pco_relation_sql=_pco_side(pco_state.FAMILIES, FAMILY_FIELDS, "s.pco_updated_at"),
            church_deletions_sql=_church_deletions("families"), pco_deletions_sql=_pco_deletions("people/households")),
        EntityFields(
            "family_members", FAMILY_MEMBER_FIELDS,
            church_relation_sql=_FAMILY_MEMBERS_CHURCH, pco_relation_sql=_FAMILY_MEMBERS_PCO,
            church_owned=("role",), church_deletions_sql=_church_deletions("family_members")),
        EntityFields(
            "group_memberships", MEMBERSHIP_FIELDS,
            church_relation_sql=_church_side("group_membership", MEMBERSHIP_FIELDS),
            pco_relation_sql=_pco_side(pco_state.GROUP_MEMBERSHIPS, MEMBERSHIP_FIELDS, "s.pco_updated_at"),
            church_deletions_sql=_church_deletions("group_membership"),
            pco_deletions_sql=_pco_deletions("groups/memberships")),
    )
}
