"""The three-way rule of two-way sync, per field: once in Python (`decide`), once as set-based SQL
(`three_way_sql`) for bulk use. A property test holds the two to the same answers.

For each field of a linked record there are three values: the *base* (what church and PCO last
agreed on), the church's value and PCO's value. Comparing each side with the base says who
changed it:

- nobody changed it → `in_sync`;
- both changed it to the same value (or there was no base and they hold the same) → `agree`
  (nothing to send; the base moves to it);
- only the church changed it → `send_church` (PCO gets the church's value);
- only PCO changed it → `take_pco` (the church table gets PCO's value);
- both changed it to different values → a *conflict*, decided by the field's policy:
  `pco` → `conflict_pco_wins`, `church` → `conflict_church_wins`, `newest` → the side whose
  change time is later (equal or unknown times → held), `manual` → `conflict_held` (neither
  side changes until a person decides).

A record deleted on one side has the value `DELETED` in every field on that side, so a deletion
against an unchanged other side propagates (`send_church` / `take_pco` of `DELETED`), a deletion
on both sides agrees, and a deletion against an edit is a conflict like any other. A field with
no base (`NO_BASE`: never agreed, e.g. before the base was seeded) counts as changed on both
sides, so differing values are a conflict rather than a guess about who changed what.

The rule is per field, never per record: a church edit of a last name and a PCO edit of the
same person's email are two clean changes, not a conflict.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa


class Policy(enum.StrEnum):
    """Who wins a conflict on a field (never consulted when only one side changed)."""
    PCO = "pco"
    CHURCH = "church"
    NEWEST = "newest"
    MANUAL = "manual"


class Outcome(enum.StrEnum):
    IN_SYNC = "in_sync"
    AGREE = "agree"
    SEND_CHURCH = "send_church"
    TAKE_PCO = "take_pco"
    CONFLICT_CHURCH_WINS = "conflict_church_wins"
    CONFLICT_PCO_WINS = "conflict_pco_wins"
    CONFLICT_HELD = "conflict_held"

    @property
    def is_conflict(self) -> bool:
        return self in _CONFLICTS

    @property
    def sends_church_value(self) -> bool:
        """PCO must be given the church's value."""
        return self in (Outcome.SEND_CHURCH, Outcome.CONFLICT_CHURCH_WINS)

    @property
    def takes_pco_value(self) -> bool:
        """The church table must be given PCO's value."""
        return self in (Outcome.TAKE_PCO, Outcome.CONFLICT_PCO_WINS)


_CONFLICTS = frozenset({Outcome.CONFLICT_CHURCH_WINS, Outcome.CONFLICT_PCO_WINS, Outcome.CONFLICT_HELD})


class Missing(enum.Enum):
    """Values that are not field values: a side's record is gone, or no base is known."""
    DELETED = "deleted"
    NO_BASE = "no base"

    def __repr__(self) -> str:
        return self.name


DELETED = Missing.DELETED
NO_BASE = Missing.NO_BASE


def decide(base: object, church: object, pco: object, policy: Policy,
           church_changed_at: datetime | None = None, pco_changed_at: datetime | None = None) -> Outcome:
    """The outcome for one field. `base` is a value or `NO_BASE`; `church` and `pco` are values or
    `DELETED`; values compare with `==` (None is a blank field, a value like any other). The change
    times matter only to a `newest` conflict; a deleted side's is its deletion time (None when
    not known: `newest` then holds the conflict for a person). Raises ValueError for a `DELETED` base or a
    `NO_BASE` side."""
    if base is DELETED or church is NO_BASE or pco is NO_BASE:
        raise ValueError("a base is a value or NO_BASE; a side is a value or DELETED")
    if church == pco:
        return Outcome.IN_SYNC if base == church else Outcome.AGREE
    if church == base:
        return Outcome.TAKE_PCO
    if pco == base:
        return Outcome.SEND_CHURCH
    return _conflict(policy, church_changed_at, pco_changed_at)


def _conflict(policy: Policy, church_changed_at: datetime | None, pco_changed_at: datetime | None) -> Outcome:
    if policy is Policy.PCO:
        return Outcome.CONFLICT_PCO_WINS
    if policy is Policy.CHURCH:
        return Outcome.CONFLICT_CHURCH_WINS
    if policy is Policy.NEWEST and church_changed_at is not None and pco_changed_at is not None:
        if church_changed_at > pco_changed_at:
            return Outcome.CONFLICT_CHURCH_WINS
        if pco_changed_at > church_changed_at:
            return Outcome.CONFLICT_PCO_WINS
    return Outcome.CONFLICT_HELD


# --- The declaration the SQL twin works from ---------------------------------------------------

# The column types a synced field may have. `jsonb` is for set-valued fields (e.g. a household's
# members as a sorted array); such a field's relations must yield SQL NULL for a blank, never
# JSON null.
SQL_TYPES = frozenset({"text", "boolean", "smallint", "integer", "bigint", "date", "timestamptz", "jsonb"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class FieldSpec:
    """One synced field: its column name in both relations, and its SQL type."""
    name: str
    sql_type: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"field name {self.name!r} is not a plain lower-case SQL identifier")
        if self.sql_type not in SQL_TYPES:
            raise ValueError(f"field {self.name}: type {self.sql_type!r} is not one of {sorted(SQL_TYPES)}")


@dataclass(frozen=True)
class EntityFields:
    """What two-way sync needs to know about one entity.

    `church_relation_sql` yields the church's linked records: `pco_id`, `local_id` (bigint),
    `changed_at` (the row's updated_at) and one column per field. `pco_relation_sql` yields the
    records PCO still has: `pco_id`, `changed_at` (PCO's updated_at) and one column per field,
    with the church's column types and normalization (so equal means equal). Both are SELECTs
    without bound parameters; each pco_id appears at most once in each. `church_owned` names the
    entity's columns that never go to PCO (no policy may name them).

    A deleted record has no row to carry its change time, so `newest` could not weigh a deletion
    against an edit. `church_deletions_sql` and `pco_deletions_sql`, when given, yield `pco_id`
    and `deleted_at` (at most one row per pco_id) for records deleted on that side: the deletion
    time is then that side's change time."""
    entity: str
    fields: tuple[FieldSpec, ...]
    church_relation_sql: str
    pco_relation_sql: str
    church_owned: tuple[str, ...] = ()
    church_deletions_sql: str | None = None
    pco_deletions_sql: str | None = None

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.entity}: a field is declared twice")
        if set(names) & set(self.church_owned):
            raise ValueError(f"{self.entity}: {sorted(set(names) & set(self.church_owned))} are both synced "
                             "and church-owned")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)


# --- The SQL twin -------------------------------------------------------------------------------

# Aliases: b = the base row (sync_base), c = the church row, p = the PCO record, cd and pd = when
# the record was deleted in the church and in PCO.
_CHURCH_HERE = "(c.pco_id IS NOT NULL)"
_PCO_HERE = "(p.pco_id IS NOT NULL)"
CHURCH_CHANGED_AT = "COALESCE(c.changed_at, cd.deleted_at)"
PCO_CHANGED_AT = "COALESCE(p.changed_at, pd.deleted_at)"
_NO_DELETIONS = "SELECT CAST(NULL AS text) AS pco_id, CAST(NULL AS timestamptz) AS deleted_at WHERE false"


def base_value_sql(spec: FieldSpec) -> str:
    """The base value of a field, typed (NULL when blank or not known)."""
    if spec.sql_type == "jsonb":
        return f"NULLIF(b.agreed_values->'{spec.name}', 'null'::jsonb)"
    return f"CAST(b.agreed_values->>'{spec.name}' AS {spec.sql_type})"


def sides_agree_sql(spec: FieldSpec) -> str:
    """True when church and PCO hold the same value (both deleted counts as the same)."""
    return (f"({_CHURCH_HERE} = {_PCO_HERE} AND (NOT {_CHURCH_HERE} "
            f"OR c.{spec.name} IS NOT DISTINCT FROM p.{spec.name}))")


def _base_known_sql(spec: FieldSpec) -> str:
    return f"COALESCE(b.agreed_values ? '{spec.name}', false)"


def _side_is_base_sql(side: str, spec: FieldSpec) -> str:
    here = _CHURCH_HERE if side == "c" else _PCO_HERE
    return (f"({_base_known_sql(spec)} AND {here} "
            f"AND {side}.{spec.name} IS NOT DISTINCT FROM {base_value_sql(spec)})")


def _conflict_sql(policy: Policy) -> str:
    if policy is Policy.PCO:
        return f"'{Outcome.CONFLICT_PCO_WINS}'"
    if policy is Policy.CHURCH:
        return f"'{Outcome.CONFLICT_CHURCH_WINS}'"
    if policy is Policy.NEWEST:
        return (f"CASE WHEN {CHURCH_CHANGED_AT} > {PCO_CHANGED_AT} THEN '{Outcome.CONFLICT_CHURCH_WINS}' "
                f"WHEN {PCO_CHANGED_AT} > {CHURCH_CHANGED_AT} THEN '{Outcome.CONFLICT_PCO_WINS}' "
                f"ELSE '{Outcome.CONFLICT_HELD}' END")
    return f"'{Outcome.CONFLICT_HELD}'"


def outcome_sql(spec: FieldSpec, policy: Policy) -> str:
    """The `decide` rule for one field as a SQL expression over `joined_relations_sql`'s aliases."""
    church_is_base = _side_is_base_sql("c", spec)
    return (f"CASE WHEN {sides_agree_sql(spec)} AND {church_is_base} THEN '{Outcome.IN_SYNC}' "
            f"WHEN {sides_agree_sql(spec)} THEN '{Outcome.AGREE}' "
            f"WHEN {church_is_base} THEN '{Outcome.TAKE_PCO}' "
            f"WHEN {_side_is_base_sql('p', spec)} THEN '{Outcome.SEND_CHURCH}' "
            f"ELSE {_conflict_sql(policy)} END")


def joined_relations_sql(entity: EntityFields, candidates: str | None = None) -> str:
    """FROM clause joining every linked record's base (b), church row (c) and PCO record (p), and
    a deleted side's deletion (cd, pd): records the church links or the base remembers; PCO
    records nobody linked are not included. Binds `:entity`. `candidates`, a SELECT of `pco_id`s,
    narrows each side to those records (what an incremental push compares)."""
    base = "SELECT pco_id, local_id, agreed_values FROM sync_base WHERE entity = :entity"
    church, pco = entity.church_relation_sql, entity.pco_relation_sql
    if candidates is not None:
        # As an array, each side is read by index lookups: as a semi-join of 1,000 candidates
        # among 100,000 records the planner merged over every base and scanned every church row.
        only = f"= ANY(ARRAY({candidates}))"
        base += f" AND pco_id {only}"
        church = f"SELECT * FROM ({church}) c0 WHERE c0.pco_id {only}"
        pco = f"SELECT * FROM ({pco}) p0 WHERE p0.pco_id {only}"
    return (f"FROM ({base}) b "
            f"FULL JOIN ({church}) c ON c.pco_id = b.pco_id "
            f"LEFT JOIN ({pco}) p ON p.pco_id = COALESCE(c.pco_id, b.pco_id) "
            f"LEFT JOIN ({entity.church_deletions_sql or _NO_DELETIONS}) cd "
            f"ON c.pco_id IS NULL AND cd.pco_id = b.pco_id "
            f"LEFT JOIN ({entity.pco_deletions_sql or _NO_DELETIONS}) pd "
            f"ON p.pco_id IS NULL AND pd.pco_id = COALESCE(c.pco_id, b.pco_id)")


def three_way_sql(entity: EntityFields, policies: Mapping[str, Policy], *, changed_only: bool = False,
                  candidates: str | None = None) -> sa.TextClause:
    """ONE statement classifying every field of every linked record of `entity` (bind `entity`:
    the entity's name). Columns: `pco_id`, `local_id`, `church_present`, `pco_present`,
    `church_changed_at`, `pco_changed_at` (a deleted side's: its deletion time, when declared),
    then per field `<f>__base`, `<f>__base_known`, `<f>__church`, `<f>__pco` (typed values; NULL
    for a deleted side or an unknown base) and `<f>__outcome` (an `Outcome` value). `policies`
    gives each field's policy (a missing one raises KeyError). With `changed_only`, records whose
    every field is in sync are left out. `candidates` (a SELECT of `pco_id`s) narrows it to those
    records (`joined_relations_sql`). Stream it (`yield_per`/server-side cursor): it is meant
    for a whole church at once."""
    outcome_columns = {spec.name: outcome_sql(spec, policies[spec.name]) for spec in entity.fields}
    columns = ["COALESCE(c.pco_id, b.pco_id) AS pco_id", "COALESCE(c.local_id, b.local_id) AS local_id",
               f"{_CHURCH_HERE} AS church_present", f"{_PCO_HERE} AS pco_present",
               f"{CHURCH_CHANGED_AT} AS church_changed_at", f"{PCO_CHANGED_AT} AS pco_changed_at"]
    for spec in entity.fields:
        columns += [f"{base_value_sql(spec)} AS {spec.name}__base", f"{_base_known_sql(spec)} AS {spec.name}__base_known",
                    f"c.{spec.name} AS {spec.name}__church",
                    f"p.{spec.name} AS {spec.name}__pco", f"{outcome_columns[spec.name]} AS {spec.name}__outcome"]
    statement = f"SELECT {', '.join(columns)} {joined_relations_sql(entity, candidates)}"
    if changed_only:
        statement = f"SELECT * FROM ({statement}) d WHERE NOT ({all_in_sync_sql(entity)})"
    return sa.text(statement)


def all_in_sync_sql(entity: EntityFields, alias: str = "d") -> str:
    """True when every field of a `three_way_sql` row (alias `alias`) is `in_sync`."""
    return " AND ".join(f"{alias}.{spec.name}__outcome = '{Outcome.IN_SYNC}'" for spec in entity.fields)


@dataclass(frozen=True)
class FieldState:
    """One field of one classified record, read back from `three_way_sql`'s row."""
    field: str
    base: object
    church: object
    pco: object
    outcome: Outcome


def field_states(row: sa.Row, fields: Sequence[FieldSpec]) -> list[FieldState]:
    """A `three_way_sql` row's fields, with `DELETED` for a deleted side and `NO_BASE` for an
    unknown base."""
    values = row._mapping
    return [FieldState(spec.name, values[f"{spec.name}__base"] if values[f"{spec.name}__base_known"] else NO_BASE,
                       values[f"{spec.name}__church"] if values["church_present"] else DELETED,
                       values[f"{spec.name}__pco"] if values["pco_present"] else DELETED,
                       Outcome(values[f"{spec.name}__outcome"]))
            for spec in fields]
