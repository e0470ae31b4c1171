"""Does the church database mirror PCO? A per-entity comparison with PCO's landed state.

PCO's state is the landing table (best after complete listings), mapped by the same
`pco_state` queries the loads use. For each synced entity it reports PCO records missing
locally, local mirror rows PCO does not have (or no longer has), and records whose PCO-owned
fields differ, with examples. Records quarantined (open rows in `sync_quarantine`, or records
whose data cannot be stored) are left out of the comparison and counted separately: they are
known, explained differences.

Only what the sync owns is compared: local-only people, contacts, memberships and check-ins,
and church-owned fields, are not differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from pco_pipeline.sync import pco_state


@dataclass(frozen=True)
class _Comparison:
    entity: str
    expected_sql: str
    local_sql: str
    # field → SQL predicate over `e` (PCO) and `l` (local) that is true when they differ.
    fields: dict[str, str]


def _plain(*names: str) -> dict[str, str]:
    return {name: f"e.{name} IS DISTINCT FROM l.{name}" for name in names}


_PERSON_FIELDS = ("first_name", "last_name", "nickname", "middle_name", "gender", "birthdate", "child", "grade",
                  "status", "membership")

COMPARISONS = (
    _Comparison(
        "people", pco_state.PEOPLE,
        f"SELECT pco_id, {', '.join(_PERSON_FIELDS)} FROM people WHERE pco_id IS NOT NULL AND is_active",
        _plain(*_PERSON_FIELDS)),
    _Comparison(
        "person_emails", pco_state.PERSON_EMAILS,
        "SELECT c.pco_id, p.pco_id AS person_pco_id, c.address, c.address_normalized, c.location, c.is_primary"
        " FROM person_emails c JOIN people p ON p.id = c.person_id WHERE c.pco_id IS NOT NULL AND p.is_active",
        _plain("person_pco_id", "address", "address_normalized", "location", "is_primary")),
    _Comparison(
        "person_phones", pco_state.PERSON_PHONES,
        "SELECT c.pco_id, p.pco_id AS person_pco_id, c.number, c.e164, c.location, c.is_primary"
        " FROM person_phones c JOIN people p ON p.id = c.person_id WHERE c.pco_id IS NOT NULL AND p.is_active",
        _plain("person_pco_id", "number", "e164", "location", "is_primary")),
    _Comparison(
        "families", pco_state.FAMILIES,
        "SELECT pco_id, name, street_line_1, street_line_2, city, state, zip, country_code FROM families"
        " WHERE pco_id IS NOT NULL AND pco_removed_at IS NULL",
        _plain("name", "street_line_1", "street_line_2", "city", "state", "zip", "country_code")),
    _Comparison(
        "family_members", pco_state.FAMILY_MEMBERS,
        "SELECT f.pco_id || ':' || p.pco_id AS pco_id, fm.is_primary_contact"
        " FROM family_members fm JOIN families f ON f.id = fm.family_id JOIN people p ON p.id = fm.person_id"
        " WHERE f.pco_id IS NOT NULL AND f.pco_removed_at IS NULL AND p.pco_id IS NOT NULL",
        _plain("is_primary_contact")),
    # Where a group sits in the hierarchy is the church's once it exists: not compared.
    _Comparison(
        "church_groups",
        f"SELECT pco_id, name, description, true AS is_active, CAST(NULL AS text) AS meeting_day, problems"
        f" FROM ({pco_state.GROUP_AREAS}) a"
        f" UNION ALL SELECT pco_id, name, description, is_active, meeting_day, problems FROM ({pco_state.GROUPS}) g",
        "SELECT pco_id, name, description, is_active, meeting_day FROM church_group"
        " WHERE pco_id IS NOT NULL AND level IN (2, 3) AND pco_removed_at IS NULL",
        {**_plain("name", "description", "is_active"),
         # PCO's schedule names a day only sometimes; otherwise the day is the church's.
         "meeting_day": "e.meeting_day IS NOT NULL AND e.meeting_day IS DISTINCT FROM l.meeting_day"}),
    _Comparison(
        "group_memberships", pco_state.GROUP_MEMBERSHIPS,
        "SELECT gm.pco_id, g.pco_id AS group_pco_id, p.pco_id AS person_pco_id, gm.leader_type, gm.joined_at,"
        " gm.source FROM group_membership gm JOIN church_group g ON g.id = gm.group_id"
        " JOIN people p ON p.id = gm.person_id WHERE gm.pco_id IS NOT NULL",
        {**_plain("group_pco_id", "person_pco_id"),
         # A membership the church made keeps its own leader type and join date.
         "leader_type": "l.source = 'pco' AND e.leader_type IS DISTINCT FROM l.leader_type",
         "joined_at": "l.source = 'pco' AND e.joined_at IS DISTINCT FROM l.joined_at"}),
    _Comparison(
        "events", pco_state.EVENTS,
        "SELECT pco_id, name, description, starts_at, ends_at, all_day, location FROM events"
        " WHERE source = 'calendar' AND pco_id IS NOT NULL AND pco_removed_at IS NULL",
        _plain("name", "description", "starts_at", "ends_at", "all_day", "location")),
    _Comparison(
        "checkin_events", pco_state.CHECKIN_EVENTS,
        "SELECT pco_id, name FROM events WHERE source = 'check-ins' AND pco_id IS NOT NULL AND pco_removed_at IS NULL",
        _plain("name")),
    _Comparison(
        "locations", pco_state.LOCATIONS,
        "SELECT l.pco_id, l.name, l.kind, l.age_min_months, l.age_max_months, l.grade_min, l.grade_max, l.capacity,"
        " parent.pco_id AS parent_pco_id FROM locations l LEFT JOIN locations parent ON parent.id = l.parent_id"
        " WHERE l.pco_id IS NOT NULL AND l.pco_removed_at IS NULL",
        _plain("name", "kind", "age_min_months", "age_max_months", "grade_min", "grade_max", "capacity",
               "parent_pco_id")),
    _Comparison(
        "event_times", pco_state.EVENT_TIMES,
        "SELECT t.pco_id, e.pco_id AS event_pco_id, t.name, t.starts_at, t.regular_count, t.guest_count,"
        " t.volunteer_count FROM event_times t LEFT JOIN events e ON e.id = t.event_id"
        " WHERE t.pco_removed_at IS NULL",
        _plain("event_pco_id", "name", "starts_at", "regular_count", "guest_count", "volunteer_count")),
    _Comparison(
        "headcounts", pco_state.HEADCOUNTS,
        "SELECT h.pco_id, t.pco_id AS event_time_pco_id, h.attendance_type, h.total"
        " FROM headcounts h JOIN event_times t ON t.id = h.event_time_id",
        _plain("event_time_pco_id", "attendance_type", "total")),
    _Comparison(
        "checkins", pco_state.CHECKINS,
        "SELECT c.pco_id, p.pco_id AS person_pco_id, e.pco_id AS event_pco_id, l.pco_id AS location_pco_id,"
        " t.pco_id AS event_time_pco_id,"
        " c.first_name, c.last_name, c.kind, c.security_code, c.checked_in_at, c.checked_out_at"
        " FROM checkins c LEFT JOIN people p ON p.id = c.person_id LEFT JOIN events e ON e.id = c.event_id"
        " LEFT JOIN locations l ON l.id = c.location_id LEFT JOIN event_times t ON t.id = c.event_time_id"
        " WHERE c.source = 'pco'",
        _plain("person_pco_id", "event_pco_id", "location_pco_id", "event_time_pco_id", "first_name", "last_name",
               "kind", "security_code", "checked_in_at", "checked_out_at")),
)


@dataclass(frozen=True)
class FieldDifference:
    pco_id: str
    field: str
    pco_value: str | None
    local_value: str | None


@dataclass
class EntityReconciliation:
    """How one entity compares; `in_sync` ignores quarantined records (they are explained)."""

    entity: str
    pco_count: int = 0
    local_count: int = 0
    missing_locally: int = 0
    extra_locally: int = 0
    differing: int = 0
    quarantined: int = 0
    field_differences: dict[str, int] = field(default_factory=dict)
    missing_examples: list[str] = field(default_factory=list)
    extra_examples: list[str] = field(default_factory=list)
    difference_examples: list[FieldDifference] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return self.missing_locally == 0 and self.extra_locally == 0 and self.differing == 0


@dataclass
class Reconciliation:
    entities: dict[str, EntityReconciliation]

    @property
    def in_sync(self) -> bool:
        return all(e.in_sync for e in self.entities.values())

    def table(self) -> str:
        """A markdown table: one line per entity."""
        lines = ["| entity | PCO | local | missing | extra | differing | quarantined |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for e in self.entities.values():
            lines.append(f"| {e.entity} | {e.pco_count} | {e.local_count} | {e.missing_locally} | "
                         f"{e.extra_locally} | {e.differing} | {e.quarantined} |")
        return "\n".join(lines)


def _compare(conn: sa.Connection, comparison: _Comparison, examples: int) -> EntityReconciliation:
    excluded = ("EXISTS (SELECT 1 FROM sync_quarantine q WHERE q.entity = :entity AND q.resolved_at IS NULL"
                " AND q.record_key = {alias}.pco_id)")
    ctes = (f"WITH expected_all AS ({comparison.expected_sql}),"
            f" e AS (SELECT * FROM expected_all x WHERE x.problems IS NULL AND NOT {excluded.format(alias='x')}),"
            f" l AS (SELECT * FROM ({comparison.local_sql}) y WHERE NOT {excluded.format(alias='y')}"
            f"       AND NOT EXISTS (SELECT 1 FROM expected_all x WHERE x.pco_id = y.pco_id"
            f"                       AND x.problems IS NOT NULL))")
    flags = ", ".join(f"count(*) FILTER (WHERE e.pco_id IS NOT NULL AND l.pco_id IS NOT NULL AND ({predicate}))"
                      for predicate in comparison.fields.values())
    any_differs = " OR ".join(f"({predicate})" for predicate in comparison.fields.values())
    params = {"entity": comparison.entity, "n": examples}
    row = conn.execute(sa.text(f"""
        {ctes}
        SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM l),
               count(*) FILTER (WHERE l.pco_id IS NULL), count(*) FILTER (WHERE e.pco_id IS NULL),
               count(*) FILTER (WHERE e.pco_id IS NOT NULL AND l.pco_id IS NOT NULL AND ({any_differs})),
               {flags}
        FROM e FULL JOIN l ON l.pco_id = e.pco_id
        """), params).one()
    report = EntityReconciliation(comparison.entity, pco_count=row[0], local_count=row[1], missing_locally=row[2],
                                  extra_locally=row[3], differing=row[4])
    report.field_differences = {name: n for name, n in zip(comparison.fields, row[5:]) if n}
    report.quarantined = conn.execute(sa.text(
        "SELECT count(*) FROM sync_quarantine WHERE entity = :entity AND resolved_at IS NULL"),
        params).scalar_one()
    if report.missing_locally:
        report.missing_examples = list(conn.execute(sa.text(
            f"{ctes} SELECT e.pco_id FROM e WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.pco_id = e.pco_id)"
            " ORDER BY length(e.pco_id), e.pco_id LIMIT :n"), params).scalars())
    if report.extra_locally:
        report.extra_examples = list(conn.execute(sa.text(
            f"{ctes} SELECT l.pco_id FROM l WHERE NOT EXISTS (SELECT 1 FROM e WHERE e.pco_id = l.pco_id)"
            " ORDER BY length(l.pco_id), l.pco_id LIMIT :n"), params).scalars())
    for name in report.field_differences:
        predicate = comparison.fields[name]
        for pco_id, pco_value, local_value in conn.execute(sa.text(
                f"{ctes} SELECT e.pco_id, CAST(e.{name} AS text), CAST(l.{name} AS text)"
                f" FROM e JOIN l ON l.pco_id = e.pco_id WHERE {predicate}"
                " ORDER BY length(e.pco_id), e.pco_id LIMIT :n"), params):
            report.difference_examples.append(FieldDifference(pco_id, name, pco_value, local_value))
    return report


def reconcile(engine: sa.Engine, *, examples: int = 5) -> Reconciliation:
    """Compare every synced entity with PCO's landed state (one consistent snapshot)."""
    with engine.connect() as conn:
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        entities = {c.entity: _compare(conn, c, examples) for c in COMPARISONS}
        conn.rollback()
    return Reconciliation(entities)
