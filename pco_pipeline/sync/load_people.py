"""PCO people → local people, their emails and phones; removals and merges.

`load_people` runs in one transaction:
1. stage PCO's people (`pco_state.PEOPLE`); quarantine the ones with invalid data;
2. match them (`match.match_people`); quarantine the ambiguous ones;
3. write: linked people get PCO's value of each field PCO changed since the two sides last
   agreed (two-way sync, `three_way_load`: a field the church changed keeps the church's value,
   a field both changed is a conflict recorded and decided by its policy; never older data: the
   stored `pco_updated_at` is a monotonic guard), matched people are linked (pco_id set, or moved
   from a merged-away record to the kept one) and updated, the rest are created; what staff
   decided for a conflict is applied, and the base moves to every value both sides now hold;
4. people PCO no longer has (removed from a complete listing, or merged away) become
   `is_active = false`; a merge re-points every local link of the removed person to the survivor;
5. contacts (`person_emails`, `person_phones`), the same way: a linked person's PCO-sourced
   contacts (those with a pco_id) get the values PCO changed (the church's own edits stay); a
   local contact with the same normalized value is adopted (given the pco_id) rather than
   duplicated; local-only contacts that PCO does not have are kept; a linked contact the church
   deleted is not brought back while the push has not sent the deletion, unless PCO changed it
   since the base (a conflict, decided by its policy).
Church-owned fields (allergies, photo_url, is_verified, and every link table) are never written
except by the merge re-pointing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from pco_pipeline.sync import match, pco_state, quarantine, three_way_load
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.incremental import close_window, open_window
from pco_pipeline.sync.loading import (
    LoadCounts, LoadReport, Staging, begin_load, count, invalid_data, missing_parent, stage_checked)
from pco_pipeline.sync.merge import EntityFields, Outcome
from pco_pipeline.sync.policies import SyncPolicies, load_policies
from pco_pipeline.sync.statements import statement
from pco_pipeline.sync.two_way_entities import ENTITIES

PCO_OWNED_PERSON_FIELDS = ("first_name", "last_name", "nickname", "middle_name", "gender", "birthdate",
                           "child", "grade", "status", "membership")


@dataclass
class PeopleLoadResult:
    """Counts per entity (people, person_emails, person_phones), match decisions and merges;
    whether the load compared every landed person (`full`) or only what changed since its
    watermark, and, for a full load after an earlier one, how many records it found that the
    incremental path would have missed (`drifted_records`, repaired by this load; 0 expected)."""

    counts: LoadReport = field(default_factory=dict)
    matches: match.MatchSummary = field(default_factory=match.MatchSummary)
    merges_applied: int = 0
    full: bool = True
    looked_at: int | None = None
    drifted_records: int | None = None


def load_people(engine: sa.Engine, *, pco_ids: Sequence[str] | None = None,
                policies: SyncPolicies | None = None, incremental: bool = False) -> PeopleLoadResult:
    """Load landed PCO people (all, or only `pco_ids`) into the church tables; see the module doc.
    `policies` decide conflicts (default: `policies.load_policies()`, the shipped file and
    PCO_SYNC_POLICIES).

    With `incremental` (and no `pco_ids`), only the people something changed for since the
    watermark the last committed load left (`sql/people/changed_since.sql`: landed records and
    contacts, church rows, bases, conflicts, quarantine entries) are staged and compared; people
    PCO removed are deactivated whoever they are. The load compares everyone instead (a full
    load) when there is no watermark yet or a complete listing of PCO's people finished since it
    (the nightly full refresh), as `incremental.open_window` decides for every incremental load.
    A load of every person moves the watermark; a full load after an earlier one also counts
    the records the incremental path would have missed (its drift check)."""
    policies = policies or load_policies()
    with engine.begin() as conn:
        begin_load(conn, "people")
        result = PeopleLoadResult()
        # A run restricted to `pco_ids` (the outbox's read before a push) has no window.
        window = None if pco_ids is not None else open_window(conn, "people", "people/changed_since",
                                                                incremental=incremental)
        scope = pco_ids if window is None else window.scope
        result.full = window is None or window.full
        # The drift check's yardstick: what an incremental run would have looked at.
        drift = window.scope_table if window is not None and window.checks_drift else None
        people, staged = stage_checked(conn, PEOPLE, scope=scope)
        result.looked_at = staged
        result.matches = match.match_people(conn)
        people.quarantined += _reject_ambiguous(conn)
        two_way = _classify(conn, STAGED_PEOPLE, policies)
        drifted = _drifted_people(conn, two_way, drift) if drift else 0
        people.updated += _update_linked(conn, two_way)
        people.updated += _link_matched(conn)
        people.created += _create_new(conn)
        three_way_load.apply_resolutions(conn, STAGED_PEOPLE, "people")
        three_way_load.settle(conn, STAGED_PEOPLE, changed_only=True)
        people.settle(staged)
        people.deactivated = _deactivate_removed(conn, pco_ids, policies)
        result.merges_applied = apply_person_mergers(conn)
        quarantine.apply_stage(conn, "people", scope=scope)
        result.counts["people"] = people
        for kind in (EMAILS, PHONES):
            counts, kind_drifted = _load_contacts(conn, kind, scope, policies, drift)
            result.counts[kind.staging.entity] = counts
            drifted += kind_drifted
        if window is not None:
            result.drifted_records = drifted if drift else None
            close_window(conn, window, result.drifted_records)
        return result


def _drifted_people(conn: sa.Connection, classified: str, scope: str) -> int:
    """People a full load writes (a field it takes or whose base moves, a conflict it records,
    a person it links or creates) that the incremental scope `scope` leaves out."""
    acting = three_way_load.acting_sql(STAGED_PEOPLE)
    return conn.execute(sa.text(f"""
        SELECT count(*) FROM {match.STAGE} s
        LEFT JOIN {classified} d ON d.pco_id = s.pco_id
        LEFT JOIN {match.MATCHES} m ON m.pco_id = s.pco_id
        WHERE s.pco_id NOT IN (SELECT key FROM {scope})
          AND (COALESCE({acting}, false) OR m.method <> 'pco_id')
          AND NOT EXISTS (SELECT 1 FROM church_deletions cd WHERE cd.local_table = 'people'
                          AND cd.pco_id = s.pco_id)""")).scalar_one()


PEOPLE = Staging(entity="people", table=match.STAGE, state_sql=pco_state.PEOPLE, landing="people/people",
                 rejections=(invalid_data("person"),))
# Two-way sync's view of the people this load staged (PCO's side: the stage).
STAGED_PEOPLE = three_way_load.staged(ENTITIES["people"], match.STAGE)


def _classify(conn: sa.Connection, entity: EntityFields, policies: SyncPolicies) -> str:
    """Classify the linked records `entity` (a staged entity) holds and record their conflicts
    before any write; returns the classified table, which leaves out the records wholly in sync
    (`classify`'s `changed_only`: the statements joining it LEFT JOIN it)."""
    chosen = policies.for_entity(entity.entity)
    classified = three_way_load.classify(conn, entity, chosen, changed_only=True)
    record_conflicts(conn, entity, chosen, classified=classified)
    return classified


def _reject_ambiguous(conn: sa.Connection) -> int:
    return conn.execute(statement("people/reject_ambiguous"), {
        "reason_code": quarantine.AMBIGUOUS_MATCH, "ambiguous_methods": list(match.AMBIGUOUS_METHODS)}).rowcount


# The person statements are composed from PCO_OWNED_PERSON_FIELDS, the one statement of which
# person columns PCO owns, and the two-way declaration of the same fields (identifiers from those
# fixed tuples; values are bound).
_SET_FIELDS = ", ".join(f"{f} = s.{f}" for f in PCO_OWNED_PERSON_FIELDS)
_STAGED_TUPLE = ", ".join(f"s.{f}" for f in PCO_OWNED_PERSON_FIELDS)
_SET_THREE_WAY = ", ".join(f"{spec.name} = {three_way_load.field_value_sql(spec, 'p')}"
                           for spec in STAGED_PEOPLE.fields)


# A linked person PCO has is active (PCO brought back someone it had removed, or the church's
# row was inactive before its first two-way sync) unless the church keeps them inactive: it
# changed their status since the two sides last agreed (the push sends that to PCO), or their
# status is inactive on a record two-way sync already manages (a deactivation already agreed).
# A record the classified table leaves out (no d row) is wholly in sync: its status has a base.
_STATUS = next(spec for spec in STAGED_PEOPLE.fields if spec.name == "status")
_CHURCH_KEEPS_INACTIVE = (
    f"(COALESCE(d.status__outcome IN ('{Outcome.SEND_CHURCH}', '{Outcome.CONFLICT_CHURCH_WINS}', "
    f"'{Outcome.CONFLICT_HELD}'), false)"
    f" OR (COALESCE(d.status__base_known, true) AND {three_way_load.field_value_sql(_STATUS, 'p')} = 'inactive'))")


def _update_linked(conn: sa.Connection, classified: str) -> int:
    """Linked people: the fields PCO changed (per the classified outcomes), and active again."""
    return count(conn, f"""
        UPDATE people p SET {_SET_THREE_WAY}, pco_updated_at = s.pco_updated_at,
                            is_active = p.is_active OR NOT {_CHURCH_KEEPS_INACTIVE}
        FROM {match.STAGE} s JOIN {match.MATCHES} m ON m.pco_id = s.pco_id AND m.method = 'pco_id'
             LEFT JOIN {classified} d ON d.pco_id = s.pco_id
        WHERE p.id = m.person_id
          AND (p.pco_updated_at IS NULL OR s.pco_updated_at IS NULL OR s.pco_updated_at >= p.pco_updated_at)
          AND ({three_way_load.any_taken_sql(STAGED_PEOPLE, 'p')} OR (NOT p.is_active AND NOT {_CHURCH_KEEPS_INACTIVE}))
        """)


def _link_matched(conn: sa.Connection) -> int:
    return count(conn, f"""
        UPDATE people p SET pco_id = s.pco_id, {_SET_FIELDS}, is_active = true,
                            pco_updated_at = s.pco_updated_at, updated_at = now()
        FROM {match.STAGE} s JOIN {match.MATCHES} m ON m.pco_id = s.pco_id AND m.method = ANY(:methods)
        WHERE p.id = m.person_id
        """, {"methods": list(match.LINKING_METHODS)})


def _create_new(conn: sa.Connection) -> int:
    """PCO people no church row matched, except the ones the church deleted (church_deletions):
    the push makes them inactive in PCO, and they never come back."""
    fields = ", ".join(PCO_OWNED_PERSON_FIELDS)
    return count(conn, f"""
        INSERT INTO people (pco_id, {fields}, pco_updated_at)
        SELECT s.pco_id, {_STAGED_TUPLE}, s.pco_updated_at
        FROM {match.STAGE} s JOIN {match.MATCHES} m ON m.pco_id = s.pco_id AND m.method = 'create'
        WHERE NOT EXISTS (SELECT 1 FROM church_deletions cd WHERE cd.local_table = 'people' AND cd.pco_id = s.pco_id)
        ORDER BY length(s.pco_id), s.pco_id
        """)


def _deactivate_removed(conn: sa.Connection, pco_ids: Sequence[str] | None, policies: SyncPolicies) -> int:
    """Linked people PCO no longer has (removed from its listing, or merged away) → inactive,
    except the ones PCO deleted while the church edited them: those are conflicts (recorded),
    and the church keeps the person when the policy gives it the field or holds it for a person."""
    scope = list(pco_ids) if pco_ids is not None else None
    chosen = policies.for_entity("people")
    classified = three_way_load.classify(conn, REMOVED_PEOPLE, chosen, deleted_in_pco=True)
    record_conflicts(conn, REMOVED_PEOPLE, chosen, classified=classified)
    kept = three_way_load.kept_against_pco_deletion(conn, REMOVED_PEOPLE, classified)
    return conn.execute(statement("people/deactivate_removed"), {"scope": scope, "kept": kept}).rowcount


# Two-way sync's view of the active linked people PCO removed (all of them, whatever the load's
# scope: there are few, and their conflicts are the same whichever run records them).
REMOVED_PEOPLE = three_way_load.pco_deletions(
    ENTITIES["people"], STAGED_PEOPLE,
    "SELECT l.pco_id FROM pco_landing l JOIN people a ON a.pco_id = l.pco_id AND a.is_active"
    " WHERE l.resource = 'people/people' AND l.removed_at IS NOT NULL")


# --- merges ---------------------------------------------------------------------------------

def _repoint_unique(conn: sa.Connection, table: str, person_column: str, sibling_column: str) -> None:
    """Re-point `table.person_column` from removed to kept people where (sibling, person) is unique.

    One shape for the link tables named in `apply_person_mergers` (identifiers from that fixed set).
    """
    conn.execute(sa.text(f"""
        DELETE FROM {table} t USING merge_map mm
        WHERE t.{person_column} = mm.removed_id
          AND (EXISTS (SELECT 1 FROM {table} o WHERE o.{sibling_column} = t.{sibling_column}
                         AND o.{person_column} = mm.kept_id)
               OR EXISTS (SELECT 1 FROM {table} o JOIN merge_map m2 ON m2.removed_id = o.{person_column}
                          WHERE o.{sibling_column} = t.{sibling_column} AND m2.kept_id = mm.kept_id
                            AND m2.removed_id < mm.removed_id))
        """))
    conn.execute(sa.text(f"""
        UPDATE {table} t SET {person_column} = mm.kept_id, updated_at = now()
        FROM merge_map mm WHERE t.{person_column} = mm.removed_id
        """))


def apply_person_mergers(conn: sa.Connection) -> int:
    """Re-point local links of people PCO merged away to the surviving person; returns merges applied.

    Chains (A into B, later B into C) go straight to the final survivor. A merge waits (and is
    applied by a later run) until both people exist locally. Idempotent: an applied merge is
    recorded in `people.merged_into_id` and never re-applied.
    """
    conn.execute(sa.text("DROP TABLE IF EXISTS merge_map"))
    conn.execute(statement("people/merge_map"))
    merges = conn.execute(sa.text("SELECT count(*) FROM merge_map")).scalar_one()
    if not merges:
        return 0
    for table in ("person_emails", "person_phones", "checkins"):
        conn.execute(sa.text(f"UPDATE {table} t SET person_id = mm.kept_id, updated_at = now()"
                             f" FROM merge_map mm WHERE t.person_id = mm.removed_id"))
    _repoint_unique(conn, "family_members", "person_id", "family_id")
    _repoint_unique(conn, "group_membership", "person_id", "group_id")
    for column in ("child_id", "pickup_person_id"):
        conn.execute(sa.text(f"UPDATE authorized_pickups t SET {column} = mm.kept_id, updated_at = now()"
                             f" FROM merge_map mm WHERE t.{column} = mm.removed_id"))
    conn.execute(statement("people/merge_relationship_moves"))
    conn.execute(statement("people/merge_drop_relationships"))
    conn.execute(sa.text("""
        UPDATE relationships r SET person_id = m.person_id, related_person_id = m.related_person_id,
                                   updated_at = now()
        FROM relationship_moves m WHERE r.id = m.id
        """))
    conn.execute(sa.text("DROP TABLE relationship_moves"))
    conn.execute(sa.text("""
        UPDATE people p SET merged_into_id = mm.kept_id, is_active = false, updated_at = now()
        FROM merge_map mm WHERE p.id = mm.removed_id
        """))
    return merges


# --- contacts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ContactKind:
    staging: Staging          # entity = the church table, also the quarantine entity
    relationship: str         # the Person relationship listing them
    fields: tuple[str, ...]   # PCO-owned columns
    adopt_key: str            # staged column a local contact without pco_id is adopted on
    local_key: str            # the same value on the local row
    two_way: EntityFields     # two-way sync's view of the staged contacts
    derived: tuple[tuple[str, str], ...]  # (column, the synced field it is computed from)


def _contact_staging(entity: str, landing: str, state_sql: str, what: str) -> Staging:
    return Staging(
        entity=entity, state_sql=state_sql, landing=landing, columns="p.id AS person_id",
        joins="LEFT JOIN people p ON p.pco_id = s.person_pco_id", scope_column="person_pco_id",
        rejections=(invalid_data(what), missing_parent(
            "s.person_id IS NULL", f"'PCO {what} ' || s.pco_id || ' belongs to PCO person ' || s.person_pco_id"
            " || ', who is not in the church database (see that person''s quarantine entry)'")))


def _staged_contacts(entity: str) -> EntityFields:
    return three_way_load.staged(ENTITIES[entity], f"stage_{entity}")


EMAILS = _ContactKind(
    staging=_contact_staging("person_emails", "people/emails", pco_state.PERSON_EMAILS, "email"),
    relationship="emails", fields=("address", "address_normalized", "location", "is_primary"),
    adopt_key="address_normalized", local_key="COALESCE(c.address_normalized, lower(btrim(c.address)))",
    two_way=_staged_contacts("person_emails"), derived=(("address_normalized", "address"),))
PHONES = _ContactKind(
    staging=_contact_staging("person_phones", "people/phone_numbers", pco_state.PERSON_PHONES, "phone number"),
    relationship="phone_numbers", fields=("number", "e164", "location", "is_primary"),
    adopt_key="e164", local_key="c.e164",
    two_way=_staged_contacts("person_phones"), derived=(("e164", "number"),))


def _load_contacts(conn: sa.Connection, kind: _ContactKind, people_scope: Sequence[str] | None,
                   policies: SyncPolicies, drift_scope: str | None) -> tuple[LoadCounts, int]:
    """One shape for both contact kinds: the statements are composed from the kind's identifiers
    (its table, stage, columns and keys; a fixed set of two), values are bound. Returns the
    counts and, with `drift_scope` (the incremental scope table of a full load), how many
    contacts the load writes whose person that scope leaves out."""
    entity, stage_name, landing = kind.staging.entity, kind.staging.table, kind.staging.landing
    counts, staged = stage_checked(conn, kind.staging, scope=people_scope)
    classified = _classify(conn, kind.two_way, policies)
    drifted = 0
    if drift_scope:
        drifted = conn.execute(sa.text(f"""
            SELECT count(*) FROM {stage_name} s LEFT JOIN {classified} d ON d.pco_id = s.pco_id
            WHERE s.person_pco_id NOT IN (SELECT key FROM {drift_scope})
              AND (COALESCE({three_way_load.acting_sql(kind.two_way)}, false)
                   OR NOT EXISTS (SELECT 1 FROM {entity} c WHERE c.pco_id = s.pco_id))
              AND NOT EXISTS (SELECT 1 FROM church_deletions cd WHERE cd.local_table = :entity
                              AND cd.pco_id = s.pco_id)"""), {"entity": entity}).scalar_one()
    synced = {spec.name: spec for spec in kind.two_way.fields}
    # A derived column (a normalized address, an E.164 number) is PCO's wherever the field it is
    # computed from ends up holding PCO's value.
    derived = {column: f"CASE WHEN {three_way_load.field_value_sql(synced[source], 'c')} IS NOT DISTINCT FROM "
                       f"s.{source} THEN s.{column} ELSE c.{column} END" for column, source in kind.derived}
    three_way_set = ", ".join(
        [f"{spec.name} = {three_way_load.field_value_sql(spec, 'c')}" for spec in kind.two_way.fields]
        + [f"{column} = {value}" for column, value in derived.items()])
    derived_differs = "".join(f" OR c.{column} IS DISTINCT FROM {value}" for column, value in derived.items())

    fields = ", ".join(kind.fields)
    set_fields = ", ".join(f"{f} = s.{f}" for f in kind.fields)
    staged_tuple = ", ".join(f"s.{f}" for f in kind.fields)
    # Pair local contacts without a pco_id with new PCO contacts of the same person and value,
    # one to one (the n-th local duplicate with the n-th PCO duplicate).
    counts.updated += count(conn, f"""
        WITH pco_new AS (
            SELECT s.*, row_number() OVER (PARTITION BY s.person_id, s.{kind.adopt_key}
                                           ORDER BY length(s.pco_id), s.pco_id) AS n
            FROM {stage_name} s
            WHERE s.{kind.adopt_key} IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {entity} c WHERE c.pco_id = s.pco_id)
        ), local_free AS (
            SELECT c.id, c.person_id, {kind.local_key} AS key,
                   row_number() OVER (PARTITION BY c.person_id, {kind.local_key} ORDER BY c.id) AS n
            FROM {entity} c
            WHERE c.pco_id IS NULL AND c.person_id IN (SELECT person_id FROM pco_new)
        )
        UPDATE {entity} c SET pco_id = s.pco_id, {set_fields}, updated_at = now()
        FROM local_free f JOIN pco_new s ON s.person_id = f.person_id AND s.{kind.adopt_key} = f.key AND s.n = f.n
        WHERE c.id = f.id
        """)
    counts.updated += count(conn, f"""
        UPDATE {entity} c SET person_id = s.person_id, {three_way_set}
        FROM {stage_name} s LEFT JOIN {classified} d ON d.pco_id = s.pco_id
        WHERE c.pco_id = s.pco_id
          AND (c.person_id IS DISTINCT FROM s.person_id OR {three_way_load.any_taken_sql(kind.two_way, 'c')}
               {derived_differs})
        """)
    # A contact the church deleted stays deleted (the push deletes it in PCO) unless PCO changed it.
    deleted_in_church = three_way_load.kept_deleted_in_church(
        conn, kind.two_way, policies.for_entity(entity),
        f"SELECT d.pco_id FROM church_deletions d WHERE d.local_table = '{entity}' AND d.pushed_at IS NULL")
    counts.created += count(conn, f"""
        INSERT INTO {entity} (person_id, pco_id, {fields})
        SELECT s.person_id, s.pco_id, {staged_tuple} FROM {stage_name} s
        WHERE NOT EXISTS (SELECT 1 FROM {entity} c WHERE c.pco_id = s.pco_id)
          AND NOT s.pco_id = ANY(CAST(:deleted_in_church AS text[]))
        ORDER BY length(s.pco_id), s.pco_id
        """, {"deleted_in_church": deleted_in_church})
    three_way_load.apply_resolutions(conn, kind.two_way, entity)
    three_way_load.settle(conn, kind.two_way, changed_only=True)
    counts.settle(staged)
    # PCO-sourced contacts of active linked people that PCO no longer lists for them. Only what
    # PCO positively says counts: the contact's landed row is removed, or the person was landed
    # with this relationship (so its complete contact list is known) and does not name it.
    gone = f"gone_{entity}"
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {gone}"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE {gone} ON COMMIT DROP AS
        SELECT c.pco_id FROM {entity} c JOIN people p ON c.person_id = p.id
        JOIN pco_landing pl ON pl.resource = 'people/people' AND pl.pco_id = p.pco_id AND pl.removed_at IS NULL
        WHERE c.pco_id IS NOT NULL AND p.is_active
          AND (CAST(:scope AS text[]) IS NULL OR p.pco_id = ANY(CAST(:scope AS text[])))
          AND NOT EXISTS (SELECT 1 FROM {stage_name} s WHERE s.pco_id = c.pco_id)
          AND NOT EXISTS (SELECT 1 FROM {quarantine.STAGE} q
                          WHERE q.entity = :entity AND q.record_key = c.pco_id)
          AND (pl.relationships ? :relationship
               OR EXISTS (SELECT 1 FROM pco_landing x WHERE x.resource = :landing
                            AND x.pco_id = c.pco_id AND x.removed_at IS NOT NULL))
        """), {"scope": list(people_scope) if people_scope is not None else None, "entity": entity,
               "relationship": kind.relationship, "landing": landing})
    # A contact PCO deleted while the church edited it is a conflict, kept while the church wins it.
    removed = three_way_load.pco_deletions(ENTITIES[entity], kind.two_way, f"SELECT pco_id FROM {gone}")
    chosen = policies.for_entity(entity)
    removed_classified = three_way_load.classify(conn, removed, chosen, deleted_in_pco=True)
    record_conflicts(conn, removed, chosen, classified=removed_classified)
    counts.deactivated = count(conn, f"""
        DELETE FROM {entity} c WHERE c.pco_id IN (SELECT pco_id FROM {gone})
          AND NOT c.pco_id = ANY(CAST(:kept AS text[]))
        """, {"kept": three_way_load.kept_against_pco_deletion(conn, removed, removed_classified)})
    quarantine.apply_stage(conn, entity, scope=None if people_scope is None else _scope_keys(conn, kind, people_scope))
    return counts, drifted


def _scope_keys(conn: sa.Connection, kind: _ContactKind, people_scope: Sequence[str]) -> list[str]:
    """Contact ids a people-restricted run looked at (for resolving their quarantine rows)."""
    return list(conn.execute(sa.text(
        "SELECT pco_id FROM pco_landing WHERE resource = :r AND parent_pco_id = ANY(:people)"),
        {"r": kind.staging.landing, "people": list(people_scope)}).scalars())
