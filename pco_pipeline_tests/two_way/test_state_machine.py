"""Issue 16, "Done when", first bullet: the stateful property test of two-way sync.

A `hypothesis` rule-based state machine interleaves, on a small church (two people with an email
each, one household, one group membership, all made in PCO and brought in by a first sync), and
on what the steps add:

- church edits, inserts and deletes, in plain SQL as another application would;
- PCO edits, creates, deletes and merges through the sandbox's controls, so webhooks fire;
- webhook deliveries applied, inbound syncs (incremental or complete) and pushes;
- crashes: a fault armed in the sandbox so the next write (or read) is carried out but its answer
  never arrives, or the process dying between PCO's answer and the ledger recording it; the step
  it hits fails and the next steps must recover.

The oracle is the test's own bookkeeping, never the pipeline's rule (`sync/merge.py`): per field,
the value both sides last agreed on (the **base**), and the last value each side's own writers
wrote since. The base moves when a step that completed leaves both sides holding the same value,
and that value must then be what the policy file's default says:

    neither side wrote since the base  → the base
    one side wrote                     → that side's value
    both wrote the same value          → that value
    both wrote different values        → the policy's side (pco, or church for a member's role),
                                         and a row in sync_conflicts holds the value overridden

Written values are unique (a counter), so two sides only hold the same text when a step carried
it over; a member's role has two values, so its base moves only after the steps that read every
membership (a sync or a push) or a delivery about that membership.

After quiescence (the faults cleared, deliveries applied, a complete sync, a push, a complete
sync, deliveries applied): every field equals what its policy says on both sides; each record
deleted on one side stays deleted (a person deleted in the church is inactive in PCO and has no
church row; one deleted in PCO has no active church row); every overridden value is in
sync_conflicts; reconciliation reports church and PCO agreeing; and one more sync + push +
delivery sends 0 write requests to PCO and writes 0 rows in the church database.

A record is deleted only once both sides agree on it, and nobody edits it afterwards: "deleted on
one side while edited on the other" is a conflict whose outcome the named tests of the loads
state; here a deletion must simply stick. A merge folds in a person whose email both sides dropped.

Examples: `EXAMPLES` (CI, 6: ~32 s on this 2-core machine at load ~4) of up to `STEPS` steps each;
the `slow` test runs `SLOW_EXAMPLES` (20: about 70 s; 30 took 103 s in a CI run) and shrinks a failure to a minimal example. `test_replay` (slow) replays, as named tests, the shortest
step sequences behind each invariant that failed while two-way sync was being integrated.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy.engine import URL

from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline_tests.two_way.two_way_world import ProcessDied, World, fresh_database

EXAMPLES = 6
STEPS = 12
SLOW_EXAMPLES = 20
GROUP_TYPE, GROUP = "7000", "7001"
PCO, CHURCH = "pco", "church"
_databases = itertools.count()


# --- the model ------------------------------------------------------------------------------------

@dataclass
class FieldModel:
    """One synced field of one record: the agreed value and each side's last own write since."""

    entity: str            # as sync_conflicts names it
    name: str
    policy: str            # the policy file's default for it
    base: Any = None
    church: Any = None     # last value the church's writers wrote since the base (None: none)
    pco: Any = None
    church_wrote: bool = False
    pco_wrote: bool = False

    def expected(self) -> Any:
        church_changed = self.church_wrote and self.church != self.base
        pco_changed = self.pco_wrote and self.pco != self.base
        if church_changed and pco_changed and self.church != self.pco:
            return self.church if self.policy == CHURCH else self.pco
        if church_changed:
            return self.church
        if pco_changed:
            return self.pco
        return self.base

    def overridden(self) -> tuple[str, Any] | None:
        """(side, value) of the write the policy overrides, when both sides wrote different values."""
        if self.church_wrote and self.pco_wrote and self.church != self.base and self.pco != self.base \
                and self.church != self.pco:
            return (PCO, self.pco) if self.policy == CHURCH else (CHURCH, self.church)
        return None

    def wrote(self, side: str, value: Any) -> None:
        if side == CHURCH:
            self.church, self.church_wrote = value, True
        else:
            self.pco, self.pco_wrote = value, True

    @property
    def pending(self) -> bool:
        return self.church_wrote or self.pco_wrote


@dataclass
class Expectation:
    """A conflict the policy decided: the overridden value must be recorded."""

    entity: str
    pco_id: str
    field: str
    side: str
    value: Any


@dataclass(repr=False)
class PersonModel:
    key: str
    local_id: int | None = None
    pco_id: str | None = None
    fields: dict[str, FieldModel] = field(default_factory=dict)
    email: FieldModel | None = None
    deleted_by: str | None = None
    email_deleted_by: str | None = None

    def __repr__(self) -> str:   # how a failing example names the person it drew
        return f"<person {self.key}>"

    def all_fields(self) -> list[FieldModel]:
        return [*self.fields.values(), *([self.email] if self.email is not None and not self.email_deleted_by else [])]


def explain(model: FieldModel) -> str:
    church = repr(model.church) if model.church_wrote else "nothing"
    pco = repr(model.pco) if model.pco_wrote else "nothing"
    return (f"the policy ({model.policy}) says {model.expected()!r}: base {model.base!r}, since then the church "
            f"wrote {church} and PCO wrote {pco}")


def person_fields(side: str, first: str, last: str) -> dict[str, FieldModel]:
    fields = {name: FieldModel("people", name, "pco") for name in ("first_name", "last_name")}
    fields["first_name"].wrote(side, first)
    fields["last_name"].wrote(side, last)
    return fields


def email_field(side: str, address: str) -> FieldModel:
    model = FieldModel("person_emails", "address", "pco")
    model.wrote(side, address)
    return model


@dataclass(frozen=True)
class Chosen:
    """In a replay, the person a rule acts on, by key (where hypothesis would draw one)."""

    key: str


def pick(data: st.DataObject | Chosen, candidates: list[PersonModel]) -> PersonModel | None:
    """One of `candidates`, drawn by hypothesis (or the one a replay names); None when there is
    none (the rule does nothing)."""
    if isinstance(data, Chosen):
        return next((p for p in candidates if p.key == data.key), None)
    return data.draw(st.sampled_from(candidates)) if candidates else None


@dataclass(frozen=True)
class Observed:
    """One tracked field as both sides hold it now."""

    label: str
    pco_id: str
    model: FieldModel
    church: Any
    pco: Any


# --- the machine ----------------------------------------------------------------------------------

class TwoWaySync(RuleBasedStateMachine):
    """See the module docstring. `server_url` and `template` come from the test's fixtures."""

    server_url: URL
    template: str

    def __init__(self) -> None:
        super().__init__()
        self._database = fresh_database(self.server_url, self.template, f"pco_sm_{id(self)}_{next(_databases)}")
        self.engine = self._database.__enter__()
        self.world = World(self.engine)
        self.values = itertools.count(1)
        self.people: list[PersonModel] = []
        self.family = FieldModel("families", "name", "pco")
        self.family_id = ""
        self.role = FieldModel("group_memberships", "leader_type", "church")
        self.membership_id = ""
        self.expectations: list[Expectation] = []
        self.armed = False

    # --- the small church, made in PCO and synced in -------------------------------------------------

    @initialize()
    def a_small_church(self) -> None:
        controls = self.world.sandbox.controls
        for index in (1, 2):
            person = self._pco_person(f"First{index}", f"Last{index}", f"person{index}@example.org")
            self.people.append(person)
        members = [{"type": "Person", "id": p.pco_id} for p in self.people]
        household = controls.create("people/households", {"name": "Lee Household"},
                                    relationships={"people": {"data": members},
                                                   "primary_contact": {"data": members[0]}})
        self.family_id = household.id
        self.family.wrote(PCO, "Lee Household")
        self.world.sandbox.load({
            "groups/group_types": [{"type": "GroupType", "id": GROUP_TYPE, "attributes": {"name": "Classes"}}],
            "groups/groups": [{"type": "Group", "id": GROUP, "attributes": {
                "name": "Bible Study", "archived_at": None, "created_at": "2020-01-01T00:00:00Z",
                "memberships_count": 0},
                "relationships": {"group_type": {"data": {"type": "GroupType", "id": GROUP_TYPE}},
                                  "location": {"data": None}}}]})
        membership = controls.create("groups/memberships", {"person_id": self.people[0].pco_id, "role": "member"},
                                     parent_id=GROUP)
        self.membership_id = membership.id
        self.role.wrote(PCO, "member")
        self.world.sync(full_refresh=True)
        self.world.deliver()   # the deliveries of what was just made, late: they must change nothing
        self._observe(everything=True)

    def teardown(self) -> None:
        try:
            self._quiesce_and_check()
        finally:
            self.world.close()
            self._database.__exit__(None, None, None)

    # --- church edits, inserts, deletes (plain SQL) --------------------------------------------------

    @rule(data=st.data(), name=st.sampled_from(["first_name", "last_name"]))
    def church_edits_a_name(self, data: st.DataObject | Chosen, name: str) -> None:
        person = pick(data, self._living(CHURCH))
        if person is None:
            return
        value = f"{name[:1].upper()}c{next(self.values)}"
        self._sql(f"UPDATE people SET {name} = :v WHERE id = :i", v=value, i=self._local_id(person))
        person.fields[name].wrote(CHURCH, value)

    @rule(data=st.data())
    def church_edits_an_email(self, data: st.DataObject | Chosen) -> None:
        person = pick(data, self._with_email(CHURCH))
        if person is None:
            return
        value = f"c{next(self.values)}@example.org"
        self._sql("UPDATE person_emails SET address = :v, address_normalized = :v WHERE person_id = :i",
                  v=value, i=self._local_id(person))
        assert person.email is not None
        person.email.wrote(CHURCH, value)

    @rule()
    def church_renames_the_family(self) -> None:
        value = f"Church Household {next(self.values)}"
        self._sql("UPDATE families SET name = :v WHERE pco_id = :h", v=value, h=self.family_id)
        self.family.wrote(CHURCH, value)

    @rule(role=st.sampled_from(["leader", "member"]))
    def church_sets_the_role(self, role: str) -> None:
        self._sql("UPDATE group_membership SET leader_type = :r WHERE pco_id = :m", r=role, m=self.membership_id)
        self.role.wrote(CHURCH, role)

    @precondition(lambda self: len(self.people) < 4)
    @rule()
    def church_inserts_a_person(self) -> None:
        n = next(self.values)
        with self.engine.begin() as conn:
            local_id = conn.execute(sa.text("INSERT INTO people (first_name, last_name) VALUES (:f, :l) RETURNING id"),
                                    {"f": f"Fc{n}", "l": f"Lc{n}"}).scalar_one()
            conn.execute(sa.text("INSERT INTO person_emails (person_id, address, address_normalized, location,"
                                 " is_primary) VALUES (:p, :a, :a, 'Home', true)"),
                         {"p": local_id, "a": f"c{n}@example.org"})
        self.people.append(PersonModel(f"church-{n}", local_id=local_id, fields=person_fields(CHURCH, f"Fc{n}", f"Lc{n}"),
                                       email=email_field(CHURCH, f"c{n}@example.org")))

    @rule(data=st.data())
    def church_deletes_an_email(self, data: st.DataObject | Chosen) -> None:
        person = pick(data, [p for p in self._with_email(CHURCH) if self._settled(p)])
        if person is None:
            return
        self._sql("DELETE FROM person_emails WHERE person_id = :i", i=self._local_id(person))
        person.email_deleted_by = CHURCH

    @rule(data=st.data())
    def church_deletes_a_person(self, data: st.DataObject | Chosen) -> None:
        person = pick(data, self._deletable())
        if person is None:
            return
        self._sql("DELETE FROM people WHERE id = :i", i=self._local_id(person))
        person.deleted_by = CHURCH

    # --- PCO edits, creates, deletes (sandbox controls: webhooks fire) --------------------------------

    @rule(data=st.data(), name=st.sampled_from(["first_name", "last_name"]))
    def pco_edits_a_name(self, data: st.DataObject | Chosen, name: str) -> None:
        person = pick(data, self._living(PCO))
        if person is None:
            return
        value = f"{name[:1].upper()}p{next(self.values)}"
        assert person.pco_id is not None
        self.world.sandbox.controls.update_record("people/people", person.pco_id, {name: value})
        person.fields[name].wrote(PCO, value)

    @rule(data=st.data())
    def pco_edits_an_email(self, data: st.DataObject | Chosen) -> None:
        person = pick(data, self._with_email(PCO))
        if person is None:
            return
        value = f"p{next(self.values)}@example.org"
        self.world.sandbox.controls.update_record("people/emails", self._pco_email(person).id, {"address": value})
        assert person.email is not None
        person.email.wrote(PCO, value)

    @rule()
    def pco_renames_the_household(self) -> None:
        value = f"PCO Household {next(self.values)}"
        self.world.sandbox.controls.update_record("people/households", self.family_id, {"name": value})
        self.family.wrote(PCO, value)

    @rule(role=st.sampled_from(["leader", "member"]))
    def pco_sets_the_role(self, role: str) -> None:
        self.world.sandbox.controls.update_record("groups/memberships", self.membership_id, {"role": role})
        self.role.wrote(PCO, role)

    @precondition(lambda self: len(self.people) < 4)
    @rule()
    def pco_creates_a_person(self) -> None:
        n = next(self.values)
        person = self._pco_person(f"Fp{n}", f"Lp{n}", f"p{n}@example.org")
        person.key = f"pco-{n}"
        self.people.append(person)

    @rule(data=st.data())
    def pco_deletes_a_person(self, data: st.DataObject | Chosen) -> None:
        person = pick(data, self._deletable())
        if person is None or person.pco_id is None:
            return
        self.world.sandbox.controls.delete_person(person.pco_id)
        person.deleted_by = PCO

    @rule(data=st.data())
    def pco_deletes_an_email(self, data: st.DataObject | Chosen) -> None:
        person = pick(data, [p for p in self._with_email(PCO) if self._settled(p)])
        if person is None:
            return
        self.world.sandbox.controls.delete("people/emails", self._pco_email(person).id)
        person.email_deleted_by = PCO

    @rule(data=st.data())
    def pco_merges_a_person_into_the_first(self, data: st.DataObject | Chosen) -> None:
        """PCO's merge tool folds a settled person (whose email both sides already dropped, so the
        survivor's contacts stay as tracked) into the first person."""
        person = pick(data, [p for p in self._deletable() if self._pco_record(p) is not None
                             and not self._pco_emails(p) and not self._church_emails(p)])
        keep = self.people[0]
        if person is None or person.pco_id is None or keep.pco_id is None:
            return
        self.world.sandbox.controls.merge_people(keep.pco_id, person.pco_id)
        person.deleted_by = PCO

    # --- the pipeline --------------------------------------------------------------------------------

    @rule()
    def webhooks_delivered(self) -> None:
        named = self._step(self.world.deliver)
        if named is not None:
            self._observe(everything=False, memberships=any(kind == "Membership" for kind, _ in named))

    @rule(full_refresh=st.booleans())
    def sync(self, full_refresh: bool) -> None:
        if self._step(lambda: self.world.sync(full_refresh=full_refresh)) is not None:
            self._observe(everything=True)

    @rule()
    def push(self) -> None:
        if self._step(self.world.push) is not None:
            self._observe(everything=True)

    @precondition(lambda self: not self.armed)
    @rule(method=st.sampled_from(["POST", "PATCH", "DELETE", "GET"]))
    def the_next_answer_is_lost(self, method: str) -> None:
        """PCO carries out the next `method` request but its answer never arrives (a reset)."""
        self.world.sandbox.controls.inject_fault("reset", count=1, method=method)
        self.armed = True

    @precondition(lambda self: not self.world.death.armed)
    @rule()
    def the_process_dies_before_recording_the_next_answer(self) -> None:
        """The next write PCO carries out is never recorded in the ledger: the push stops there."""
        self.world.death.armed = True

    @invariant()
    def no_person_is_duplicated_in_pco(self) -> None:
        names = [(r.attributes.get("first_name"), r.attributes.get("last_name"))
                 for r in self.world.sandbox.store.all("people/people")]
        assert len(names) == len(set(names)), f"a person was created twice in PCO: {sorted(names)}"

    # --- quiescence and the final checks -------------------------------------------------------------

    def _quiesce_and_check(self) -> None:
        world = self.world
        world.sandbox.controls.clear_faults()
        world.death.armed = False
        world.deliver()
        self._observe(everything=False, memberships=True)
        world.sync(full_refresh=True)
        self._observe(everything=True)
        world.push()
        self._observe(everything=True)
        world.sync(full_refresh=True)
        world.deliver()
        self._observe(everything=True)

        for seen in self._fields(with_role=True):
            expected = seen.model.expected()
            assert (seen.church, seen.pco) == (expected, expected), \
                f"{seen.label}: after quiescence the church holds {seen.church!r}, PCO {seen.pco!r}; {explain(seen.model)}"
        self._check_every_record_is_on_both_sides()
        self._check_deletions()
        self._check_conflicts()
        report = reconcile(self.engine)
        assert report.in_sync, f"reconcile reports church and PCO disagreeing:\n{report.table()}"

        world.sandbox.requests.reset()
        before = world.row_versions()
        world.sync(full_refresh=True)
        world.push()
        world.deliver()
        assert world.write_requests() == [], f"ping-pong: a quiet sync + push sent {world.write_requests()}"
        written = {table for table, _, _ in world.row_versions() ^ before}
        assert not written, f"ping-pong: a quiet sync + push wrote rows of {sorted(written)}"

    def _check_every_record_is_on_both_sides(self) -> None:
        for person in self.people:
            if person.deleted_by:
                continue
            assert self._local_id(person) is not None, f"{person.key}, made in PCO, never reached the church"
            assert self._pco_record(person) is not None, f"{person.key}, made in the church, never reached PCO"
            if person.email is not None and not person.email_deleted_by:
                assert self._church_emails(person) and self._pco_emails(person), \
                    f"{person.key}'s email is on one side only: church {self._church_emails(person)}, " \
                    f"PCO {self._pco_emails(person)}"

    def _check_deletions(self) -> None:
        for person in self.people:
            if person.deleted_by == CHURCH:
                record = self._pco_record(person)
                assert record is None or record.attributes.get("status") == "inactive", \
                    f"{person.key}, deleted in the church: PCO still has them active"
                assert self._scalar("SELECT count(*) FROM people WHERE pco_id = :p", p=person.pco_id) == 0, \
                    f"{person.key}, deleted in the church, came back"
            elif person.deleted_by == PCO:
                assert self._scalar("SELECT count(*) FROM people WHERE pco_id = :p AND is_active",
                                    p=person.pco_id) == 0, f"{person.key}, deleted in PCO, is still active in the church"
            elif person.email_deleted_by:
                where = "the church" if person.email_deleted_by == CHURCH else "PCO"
                assert self._pco_emails(person) == [], f"{person.key}'s email, deleted in {where}, is still in PCO"
                assert self._church_emails(person) == [], f"{person.key}'s email, deleted in {where}, is in the church"

    def _check_conflicts(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT entity, pco_id, field, church_value, pco_value FROM sync_conflicts")).all()
        recorded = {(r.entity, r.pco_id, r.field, side, json.dumps(value))
                    for r in rows for side, value in ((CHURCH, r.church_value), (PCO, r.pco_value))}
        for e in self.expectations:
            assert (e.entity, e.pco_id, e.field, e.side, json.dumps(e.value)) in recorded, (
                f"the {e.side}'s {e.entity}.{e.field} = {e.value!r} of {e.pco_id} was overridden by policy "
                f"but is not in sync_conflicts (recorded: {sorted(recorded)})")

    # --- observing both sides ------------------------------------------------------------------------

    def _step(self, action: Callable[[], Any]) -> Any:
        """Run one pipeline step; None when the armed fault fired in it and it failed (a crash:
        the base stays put). Any other failure is the test's failure."""
        try:
            result = action()
        except ProcessDied:
            return None
        except Exception:
            if not (self.armed and not self.world.sandbox.faults.active()):
                raise
            self.armed = False
            return None
        if self.armed and not self.world.sandbox.faults.active():
            self.armed = False   # the lost answer was survived (a retried read)
        return True if result is None else result

    def _observe(self, *, everything: bool, memberships: bool = False) -> None:
        """After a step that completed: where both sides now hold the same value, the base moves
        there, and that value must be the policy's."""
        for seen in self._fields(with_role=everything or memberships):
            model = seen.model
            if not model.pending or seen.church != seen.pco or seen.church is None:
                continue
            expected = model.expected()
            assert seen.church == expected, f"{seen.label}: both sides hold {seen.church!r}, but {explain(model)}"
            overridden = model.overridden()
            if overridden is not None:
                self.expectations.append(Expectation(model.entity, seen.pco_id, model.name, *overridden))
            model.base, model.church_wrote, model.pco_wrote = seen.church, False, False

    def _fields(self, *, with_role: bool) -> list[Observed]:
        """Every tracked field whose record both sides hold (the role only `with_role`)."""
        out: list[Observed] = []
        for person in self.people:
            if person.deleted_by:
                continue
            record, local_id = self._pco_record(person), self._local_id(person)
            if record is None or local_id is None:
                continue
            with self.engine.connect() as conn:
                row = conn.execute(sa.text("SELECT first_name, last_name FROM people WHERE id = :i"),
                                   {"i": local_id}).one()
            for name, model in person.fields.items():
                out.append(Observed(f"person {person.key} {name}", record.id, model, getattr(row, name),
                                    record.attributes.get(name)))
            if person.email is not None and not person.email_deleted_by:
                church, pco = self._church_emails(person), self._pco_emails(person)
                email_id = next((e.id for e in self.world.sandbox.store.children("people/emails", "person", record.id)),
                                "")
                out.append(Observed(f"person {person.key} email", email_id, person.email,
                                    church[0] if len(church) == 1 else church or None,
                                    pco[0] if len(pco) == 1 else pco or None))
        household = self.world.sandbox.store.get("people/households", self.family_id)
        out.append(Observed(f"household {self.family_id} name", self.family_id, self.family,
                    self._scalar("SELECT name FROM families WHERE pco_id = :h", h=self.family_id),
                    household.attributes.get("name") if household else None))
        if with_role:
            membership = self.world.sandbox.store.get("groups/memberships", self.membership_id)
            out.append(Observed(f"membership {self.membership_id} role", self.membership_id, self.role,
                        self._scalar("SELECT leader_type FROM group_membership WHERE pco_id = :m", m=self.membership_id),
                        membership.attributes.get("role") if membership else None))
        return out

    # --- reading and writing -------------------------------------------------------------------------

    def _pco_person(self, first: str, last: str, email: str) -> PersonModel:
        controls = self.world.sandbox.controls
        record = controls.create_person(first_name=first, last_name=last)
        controls.create("people/emails", {"address": email, "location": "Home", "primary": True}, parent_id=record.id)
        return PersonModel(f"pco-{record.id}", pco_id=record.id, fields=person_fields(PCO, first, last),
                           email=email_field(PCO, email))

    def _sql(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def _scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def _local_id(self, person: PersonModel) -> int | None:
        if person.local_id is None and person.pco_id is not None:
            person.local_id = self._scalar("SELECT id FROM people WHERE pco_id = :p", p=person.pco_id)
        return person.local_id

    def _pco_record(self, person: PersonModel) -> Any:
        if person.pco_id is None and person.local_id is not None:
            person.pco_id = self._scalar("SELECT pco_id FROM people WHERE id = :i", i=person.local_id)
        return self.world.sandbox.store.get("people/people", person.pco_id) if person.pco_id else None

    def _pco_emails(self, person: PersonModel) -> list[str]:
        if person.pco_id is None:
            return []
        return sorted(r.attributes["address"] for r in self.world.sandbox.store.children("people/emails", "person",
                                                                                          person.pco_id))

    def _pco_email(self, person: PersonModel) -> Any:
        assert person.pco_id is not None
        return next(iter(self.world.sandbox.store.children("people/emails", "person", person.pco_id)))

    def _church_emails(self, person: PersonModel) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(sa.text("SELECT address FROM person_emails WHERE person_id = :i"),
                                       {"i": person.local_id}).scalars())

    def _living(self, side: str) -> list[PersonModel]:
        """People not deleted that `side` holds (a church row, or a PCO record)."""
        if side == CHURCH:
            return [p for p in self.people if not p.deleted_by and self._local_id(p) is not None]
        return [p for p in self.people if not p.deleted_by and self._pco_record(p) is not None]

    def _with_email(self, side: str) -> list[PersonModel]:
        return [p for p in self._living(side) if not p.email_deleted_by and
                (self._church_emails(p) if side == CHURCH else self._pco_emails(p))]

    def _settled(self, person: PersonModel) -> bool:
        """Both sides hold the person and agree on every tracked field (nothing in flight)."""
        return self._local_id(person) is not None and self._pco_record(person) is not None and \
            not any(f.pending for f in person.all_fields())

    def _deletable(self) -> list[PersonModel]:
        """Settled people other than the group member and the household's primary contact."""
        return [p for p in self.people[1:] if not p.deleted_by and self._settled(p)]


def run_machine(pg_server_url: URL, template_database: str, examples: int, *, shrink: bool) -> None:
    machine = type("TwoWaySyncHere", (TwoWaySync,), {"server_url": pg_server_url, "template": template_database})
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=STEPS, deadline=None, derandomize=True, phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))


def test_two_way_sync_converges_by_policy_without_ping_pong(pg_server_url, template_database):
    """CI: EXAMPLES examples, not shrunk (an example takes seconds; shrinking one takes many
    minutes): a failure shows the steps as generated. The slow test shrinks to a minimal one."""
    run_machine(pg_server_url, template_database, EXAMPLES, shrink=False)


@pytest.mark.slow
def test_two_way_sync_converges_by_policy_without_ping_pong_many_examples(pg_server_url, template_database):
    run_machine(pg_server_url, template_database, SLOW_EXAMPLES, shrink=True)


# --- replays: the shortest step sequences behind each invariant that failed during integration ------

REPLAYS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "a family renamed in the church, then a sync": (("church_renames_the_family", {}), ("sync", {"full_refresh": True})),
    "a role changed in the church, then a sync": (("church_sets_the_role", {"role": "leader"}),
                                                  ("sync", {"full_refresh": True})),
    "an email deleted in the church, then a sync": (("church_deletes_an_email", {"data": Chosen("pco-2")}),
                                                    ("sync", {"full_refresh": True})),
    "a person made in the church, pushed, then edited in the church": (
        ("church_inserts_a_person", {}), ("push", {}),
        ("church_edits_a_name", {"data": Chosen("church-1"), "name": "first_name"})),
    "a person made in the church, pushed, then their email edited in the church and a sync": (
        ("church_inserts_a_person", {}), ("push", {}), ("church_edits_an_email", {"data": Chosen("church-1")}),
        ("sync", {"full_refresh": True})),
    "a linked person deleted in the church": (("church_deletes_a_person", {"data": Chosen("pco-2")}),),
    "both sides edit a last name (a conflict PCO wins)": (
        ("church_edits_a_name", {"data": Chosen("pco-1"), "name": "last_name"}),
        ("pco_edits_a_name", {"data": Chosen("pco-1"), "name": "last_name"})),
    "both sides edit a last name, then a push before PCO's edit is read": (
        ("church_edits_a_name", {"data": Chosen("pco-1"), "name": "last_name"}),
        ("pco_edits_a_name", {"data": Chosen("pco-1"), "name": "last_name"}), ("push", {})),
    "a person made in the church, the create's answer lost": (
        ("church_inserts_a_person", {}), ("the_next_answer_is_lost", {"method": "POST"}), ("push", {})),
    "a church edit, the process dying before the ledger records PCO's answer": (
        ("church_edits_a_name", {"data": Chosen("pco-1"), "name": "last_name"}),
        ("the_process_dies_before_recording_the_next_answer", {}), ("push", {})),
    "a person merged in PCO after both sides dropped their email": (
        ("church_deletes_an_email", {"data": Chosen("pco-2")}), ("push", {}),
        ("pco_merges_a_person_into_the_first", {"data": Chosen("pco-2")})),
}


@pytest.mark.slow   # 3–7 s each on a 2-core machine (load ~4); CI runs slow tests too
@pytest.mark.parametrize("replay", list(REPLAYS))
def test_replay(replay, pg_server_url, template_database):
    """One short sequence of the machine's rules, then quiescence and every final check."""
    machine = type("TwoWaySyncHere", (TwoWaySync,), {"server_url": pg_server_url, "template": template_database})()
    machine.a_small_church()
    try:
        for rule_name, arguments in REPLAYS[replay]:
            getattr(machine, rule_name)(**arguments)
            machine.no_person_is_duplicated_in_pco()
    except BaseException:
        machine.world.close()
        machine._database.__exit__(None, None, None)
        raise
    machine.teardown()
