"""A dry run's field table: per linked record and field where church and PCO differ from their
base, the three values and what the next runs will do with it. Read-only: it records no
conflict, moves no base and writes no ledger row.

    table = field_plan(engine, "people", held=report.plan.held_fields)
    table.markdown()     # base → church → PCO → planned action, the first `table_rows` fields
    table.conflicts      # the conflicts a real run would record, counted per entity and field

The classification is the push's own (`church_changes.classify_changes`: the three-way rule's
statement over the records the next push would compare, records in sync left out; nothing
written), so a whole church costs at most one pass per entity; only the first `table_rows`
fields and conflicts are kept, the rest are counted. Planned actions:

- *send to PCO*: only the church changed it (the push sends it);
- *write locally*: only PCO changed it (the next sync writes it into the church table);
- *agree*: both changed it to the same value (nothing is sent; the base moves);
- *conflict decided by <policy> → …*: both changed it differently and the field's policy
  decides (church: sent to PCO; pco: written locally); *held for a person* when the policy is
  `manual` (or `newest` with no later side): nothing moves until `conflicts resolve`;
- *decided by <who> → …*: a recorded conflict decided and not yet applied;
- *held (<reason>)*: the push would send it but does not (PCO refused it before, or PCO would
  refuse it: see the push's skipped records).

A record deleted on one side is one row (field `(record)`: the deletion following to the other
side), plus a row per field the other side edited meanwhile (a conflict).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from pco_pipeline.sync import conflicts
from pco_pipeline.sync.markdown import markdown_cell
from pco_pipeline.sync.church_changes import classify_changes
from pco_pipeline.sync.merge import DELETED, NO_BASE, EntityFields, Outcome, Policy, all_in_sync_sql, field_states
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES

TABLE_ROWS = 60

# A push (`push_engine.PushKind.name`) → the two-way entities whose fields it sends.
PUSH_ENTITIES: Mapping[str, tuple[str, ...]] = {
    "people": ("people", "person_emails", "person_phones"),
    "families": ("families", "family_members"),
    "group_memberships": ("group_memberships",),
}
# An entity's church table, where it is not named like the entity (quarantine keys use the table).
_TABLES = {"group_memberships": "group_membership"}

SEND = "send to PCO"
WRITE_LOCALLY = "write locally (next sync)"
AGREE = "agree (nothing to send)"
RECORD = "(record)"   # the field name of a row standing for a whole record deleted on a side
_DELETIONS = {SEND: "deleted in the church → the push follows in PCO",
              WRITE_LOCALLY: "deleted in PCO → the sync follows locally",
              AGREE: "deleted on both sides (nothing to send)"}


@dataclass(frozen=True)
class FieldRow:
    """One field of one linked record: its three values, and what is planned for it."""
    entity: str
    local_id: int | None
    pco_id: str
    field: str
    base: object        # a value, or NO_BASE
    church: object      # a value, or DELETED
    pco: object         # a value, or DELETED
    action: str
    policy: Policy
    conflict: bool      # a real run records (or refreshes) a conflict for this field
    recorded: int | None = None   # the id of the conflict already recorded for it, if any


@dataclass
class FieldTable:
    """Every differing field counted by entity and action; the first `table_rows` kept, and the
    first `table_rows` conflicts a real run would record."""
    table_rows: int = TABLE_ROWS
    actions: Counter = field(default_factory=Counter)         # (entity, action kind) → n
    rows: list[FieldRow] = field(default_factory=list)
    conflicts: Counter = field(default_factory=Counter)       # (entity, field) → n
    conflict_rows: list[FieldRow] = field(default_factory=list)

    def add(self, row: FieldRow) -> None:
        self.actions[(row.entity, _kind(row.action))] += 1
        if len(self.rows) < self.table_rows:
            self.rows.append(row)
        if row.conflict:
            self.conflicts[(row.entity, row.field)] += 1
            if len(self.conflict_rows) < self.table_rows:
                self.conflict_rows.append(row)

    @property
    def total(self) -> int:
        return sum(self.actions.values())

    def counts(self) -> dict[str, int]:
        """`<entity>: <action>` → n, and `<entity>: conflicts to record` → n."""
        out = {f"{entity}: {action}": n for (entity, action), n in sorted(self.actions.items())}
        for entity in sorted({entity for entity, _ in self.conflicts}):
            out[f"{entity}: conflicts to record"] = sum(n for (e, _), n in self.conflicts.items() if e == entity)
        return out

    def markdown(self) -> str:
        """Counts per entity and action, the fields (base → church → PCO → planned action), then the
        conflicts a real run would record."""
        if not self.actions:
            return "Church and PCO agree on every field of every linked record: nothing to send or take."
        lines = ["| entity | planned action | fields |", "|---|---|---:|"]
        lines += [f"| {entity} | {markdown_cell(action)} | {n} |" for (entity, action), n in sorted(self.actions.items())]
        lines += ["", "| # | record | field | base | church | PCO | planned action |", "|---:|---|---|---|---|---|---|"]
        lines += [f"| {number} | {_record(row)} | {row.field} | {_shown(row.base)} | {_shown(row.church)} | "
                  f"{_shown(row.pco)} | {markdown_cell(row.action)} |" for number, row in enumerate(self.rows, 1)]
        if self.total > len(self.rows):
            lines.append(f"\n… and {self.total - len(self.rows)} more fields (counted above).")
        recorded = sum(self.conflicts.values())
        if recorded:
            lines += ["", f"Conflicts a real run would record: {recorded}", "",
                      "| record | field | policy | church | PCO | outcome | already recorded |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {_record(row)} | {row.field} | {row.policy.value} | {_shown(row.church)} | "
                      f"{_shown(row.pco)} | {markdown_cell(row.action)} | "
                      f"{f'conflict {row.recorded}' if row.recorded else 'new'} |" for row in self.conflict_rows]
            if recorded > len(self.conflict_rows):
                lines.append(f"\n… and {recorded - len(self.conflict_rows)} more conflicts (counted above).")
        else:
            lines += ["", "Conflicts a real run would record: none"]
        return "\n".join(lines)


def field_plan(engine: sa.Engine, push: str, *, held: Mapping[tuple[str, str], str] | None = None,
               table_rows: int = TABLE_ROWS) -> FieldTable:
    """The field table of the entities `push` sends (`PUSH_ENTITIES`), read in one transaction,
    rolled back. `held` maps (church table, quarantine key) → why the push does not send it
    (`Plan.held_fields`): such a field's action says it is held."""
    table = FieldTable(table_rows=table_rows)
    policies = load_policies()
    with engine.connect() as conn, conn.begin() as transaction:
        for entity in PUSH_ENTITIES[push]:
            _classify(conn, ENTITIES[entity], policies.for_entity(entity), table, held or {})
        # Only temp tables were written (the classification's: PostgreSQL refuses them in a
        # READ ONLY transaction); rolled back, nothing of the plan outlives it.
        transaction.rollback()
    return table


def _classify(conn: sa.Connection, entity: EntityFields, policies: Mapping[str, Policy], table: FieldTable,
              held: Mapping[tuple[str, str], str]) -> None:
    decided = {(c.pco_id, c.field): c for c in conflicts.decided_to_apply(conn, entity.entity) if not c.is_moot}
    recorded = dict(conn.execute(sa.text(
        "SELECT pco_id || '#' || field, id FROM sync_conflicts WHERE entity = :entity AND applied_at IS NULL"),
        {"entity": entity.entity}).all())
    church_table = _TABLES.get(entity.entity, entity.entity)
    # The records the push would compare (incrementally, as its next run), nothing written.
    classified = classify_changes(conn, entity, policies, advance=False)
    # Edits first, deletions after them; each in local id order (the table keeps the first rows).
    ordered = sa.text(f"SELECT * FROM {classified.table} w WHERE NOT ({all_in_sync_sql(entity, 'w')}) "
                      "ORDER BY NOT (w.church_present AND w.pco_present), w.local_id, w.pco_id")
    rows = conn.execute(ordered.execution_options(yield_per=2000), {"entity": entity.entity})
    for row in rows:
        values = row._mapping
        whole_record = not (values["church_present"] and values["pco_present"])
        collapsed: set[str] = set()
        for state in field_states(row, entity.fields):
            decision = decided.pop((values["pco_id"], state.field), None)
            if state.outcome is Outcome.IN_SYNC and decision is None:
                continue
            policy = policies[state.field]
            action = _action(state.outcome, policy) if decision is None else _decided(decision)
            if whole_record and action in (SEND, WRITE_LOCALLY, AGREE):
                collapsed.add(action)   # a deletion following to the other side: one row for the record
                continue
            if action == SEND or state.outcome is Outcome.CONFLICT_CHURCH_WINS:
                action = _held(held, church_table, values["local_id"], state.field) or action
            table.add(FieldRow(entity.entity, values["local_id"], values["pco_id"], state.field, state.base,
                               state.church, state.pco, action, policy,
                               conflict=state.outcome.is_conflict and decision is None,
                               recorded=recorded.get(f"{values['pco_id']}#{state.field}")))
        for action in sorted(collapsed):
            deletion = _DELETIONS[action]
            if action == SEND:
                deletion = _held(held, church_table, values["local_id"], None) or deletion
            table.add(FieldRow(entity.entity, values["local_id"], values["pco_id"], RECORD, "(linked)",
                               "(present)" if values["church_present"] else DELETED,
                               "(present)" if values["pco_present"] else DELETED, deletion, Policy.PCO,
                               conflict=False))
    for decision in decided.values():   # decided, and the record's fields are all in sync again
        table.add(FieldRow(entity.entity, decision.local_id, decision.pco_id, decision.field,
                           decision.base_value if decision.base_known else NO_BASE,
                           DELETED if decision.church_deleted else decision.church_value,
                           DELETED if decision.pco_deleted else decision.pco_value,
                           _decided(decision), decision.policy, conflict=False, recorded=decision.id))


def _held(held: Mapping[tuple[str, str], str], table: str, local_id: object, field_name: str | None) -> str | None:
    """`held (<reason>)` when the push does not send this field (or record: `field_name` None)."""
    why = held.get((table, str(local_id)))
    if field_name is not None:
        why = held.get((table, f"{local_id}#{field_name}")) or why
    return None if why is None else f"held ({why})"


def _action(outcome: Outcome, policy: Policy) -> str:
    if outcome is Outcome.SEND_CHURCH:
        return SEND
    if outcome is Outcome.TAKE_PCO:
        return WRITE_LOCALLY
    if outcome is Outcome.AGREE:
        return AGREE
    if outcome is Outcome.CONFLICT_CHURCH_WINS:
        return f"conflict decided by {policy.value} → church's value sent to PCO"
    if outcome is Outcome.CONFLICT_PCO_WINS:
        return f"conflict decided by {policy.value} → PCO's value written locally (next sync)"
    return f"conflict held for a person ({policy.value}): nothing moves until `conflicts resolve`"


def _decided(conflict: conflicts.Conflict) -> str:
    value = "(deleted)" if conflict.resolution_deletes else _shown(conflict.resolution_value)
    if conflict.resolution_side == "pco":
        return f"decided by {conflict.decided_by} → PCO's value {value} written locally (next sync)"
    return f"decided by {conflict.decided_by} → {value} sent to PCO"


def _kind(action: str) -> str:
    """An action without its values or who decided: what the counts group by."""
    if action.startswith("decided by"):
        return "decided: " + ("written locally" if "written locally" in action else "sent to PCO")
    if action.startswith("held ("):
        return "held"
    return action


def _record(row: FieldRow) -> str:
    return markdown_cell(f"{row.entity} {row.local_id if row.local_id is not None else '-'} (PCO {row.pco_id})")


def _shown(value: object) -> str:
    if value is DELETED:
        return "(deleted)"
    if value is NO_BASE:
        return "(no base)"
    if value is None:
        return "(blank)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return markdown_cell(value)

