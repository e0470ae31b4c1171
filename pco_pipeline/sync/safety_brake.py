"""The safety brake (issue 16 item 8): a run that would change more than a configured share of
the linked records of one entity, on either side, stops before writing anything and says how
many and why. A bad field mapping or a restored old backup looks exactly like "staff edited half
the church at once"; this makes a person confirm it (`--confirm` on `pco-pipeline push …` /
`sync …`, or the run config flag `confirm_large_change`) before it overwrites a whole church.

Settings: `PCO_SAFETY_BRAKE_SHARE` (a fraction, default 0.10; 1 turns the brake off) and
`PCO_SAFETY_BRAKE_MIN_RECORDS` (default 25): fewer changed records than this never engage it,
so a small church's ordinary edits (one of two people is 50%) go through.

One call for every writer: `check_share(planned, linked, what)` before the first write. Pushes
pass their run's confirmation; the loads (`check_load`, called by `three_way_load.classify` for
every linked record a load looks at) read it from `large_changes_confirmed`, which the load step
enters for a confirmed run (the loads are called through the entity registry, whose signature
carries no run options). Brakes weigh the records one run changes on one side of one entity;
a webhook applying one record never reaches the minimum.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa

from pco_pipeline.sync.merge import EntityFields, Outcome
from pco_pipeline.sync.two_way_entities import ENTITIES

SHARE_SETTING = "PCO_SAFETY_BRAKE_SHARE"
MIN_RECORDS_SETTING = "PCO_SAFETY_BRAKE_MIN_RECORDS"
DEFAULT_SHARE = 0.10
DEFAULT_MIN_RECORDS = 25
CONFIRM_FLAG = "confirm_large_change"


class SafetyBrakeEngaged(RuntimeError):
    """A run planned more changes than the brake allows; nothing was written."""

    def __init__(self, planned: int, linked: int, what: str, brake: Brake, *, changed_by: str = "the church",
                 how: str = "") -> None:
        self.planned, self.linked, self.what = planned, linked, what
        share = planned / linked if linked else 1.0
        super().__init__(
            f"safety brake: this run would change {planned} of {linked} linked {what} ({share:.0%}){how}, more "
            f"than {SHARE_SETTING}={brake.share:g} allows; nothing was written. If {changed_by} really changed this "
            f"much (and it is not a restored old backup or a wrong mapping), run it again with --confirm (run "
            f"config {CONFIRM_FLAG}: true) to let this one run through.")


@dataclass(frozen=True)
class Brake:
    """When a planned change is too large: more than `share` of the linked records and at least
    `min_records` of them."""
    share: float = DEFAULT_SHARE
    min_records: int = DEFAULT_MIN_RECORDS

    def engages(self, planned: int, linked: int) -> bool:
        return planned >= self.min_records and planned > self.share * linked


def brake_settings(environ: Mapping[str, str] | None = None) -> Brake:
    """The brake the settings configure. Raises ValueError naming the setting when one is wrong."""
    env = os.environ if environ is None else environ
    share = _number(env, SHARE_SETTING, DEFAULT_SHARE, float)
    if not 0 < share <= 1:
        raise ValueError(f"{SHARE_SETTING} must be a fraction above 0 and at most 1 (e.g. 0.1 for 10%), not {share}")
    min_records = int(_number(env, MIN_RECORDS_SETTING, DEFAULT_MIN_RECORDS, int))
    if min_records < 1:
        raise ValueError(f"{MIN_RECORDS_SETTING} must be a whole number of at least 1, not {min_records}")
    return Brake(share, min_records)


def _number(env: Mapping[str, str], setting: str, default: float, kind: type[int] | type[float]) -> float:
    raw = env.get(setting, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{setting} must be a {'whole number' if kind is int else 'number'}, not {raw!r}") from None


def check_share(planned: int, linked: int, what: str, *, confirmed: bool = False,
                environ: Mapping[str, str] | None = None) -> None:
    """Raise `SafetyBrakeEngaged` when changing `planned` of the `linked` records of `what` (e.g.
    "people in PCO") is more than the brake allows and the run was not `confirmed`. Call it once
    the run's plan is known and before its first write."""
    brake = brake_settings(environ)
    if not confirmed and brake.engages(planned, linked):
        raise SafetyBrakeEngaged(planned, linked, what, brake)


_LOADS_CONFIRMED: ContextVar[bool] = ContextVar("pco_pipeline_loads_confirmed", default=False)


@contextmanager
def large_changes_confirmed(confirmed: bool = True) -> Iterator[None]:
    """Within this block, loads are let through the brake when `confirmed` (staff confirmed this
    run: `pco-pipeline sync … --confirm`, run config `confirm_large_change`)."""
    token = _LOADS_CONFIRMED.set(confirmed)
    try:
        yield
    finally:
        _LOADS_CONFIRMED.reset(token)


_TAKES_PCO = (Outcome.TAKE_PCO, Outcome.CONFLICT_PCO_WINS)
_CHURCH_KEEPS = (Outcome.CONFLICT_CHURCH_WINS, Outcome.CONFLICT_HELD)


def check_load(conn: sa.Connection, entity: EntityFields, classified: str, *, deleted_in_pco: bool = False, environ: Mapping[str, str] | None = None) -> None:
    """Raise `SafetyBrakeEngaged` (before the load writes anything) when the records of
    `classified` (a load's `three_way_load.classify` table over `entity`) that get PCO's value of
    at least one field are more than the brake allows of the church's linked records of the
    entity (all of them, as `two_way_entities` declares them, not only the load's), unless the run was
    confirmed (`large_changes_confirmed`). With `deleted_in_pco`, the records PCO deleted that
    the load removes or deactivates (those the church keeps, a field it changed, are not)."""
    if _LOADS_CONFIRMED.get():
        return
    brake = brake_settings(environ)
    takes = " OR ".join(f"d.{spec.name}__outcome IN ({_quoted(_TAKES_PCO)})" for spec in entity.fields)
    if deleted_in_pco:
        keeps = " OR ".join(f"d.{spec.name}__outcome IN ({_quoted(_CHURCH_KEEPS)})" for spec in entity.fields)
        takes = f"({takes}) AND NOT ({keeps})"
    planned = conn.execute(sa.text(f"SELECT count(*) FROM {classified} d WHERE {takes}")).scalar_one()
    if planned < brake.min_records:   # the common case: no need to count the church's records
        return
    every_linked = ENTITIES.get(entity.entity, entity).church_relation_sql
    linked = conn.execute(sa.text(f"SELECT count(*) FROM ({every_linked}) c")).scalar_one()
    if brake.engages(planned, linked):
        noun = entity.entity.replace("_", " ")
        how = (": PCO deleted them and the load would remove them from the church database" if deleted_in_pco
               else ": PCO changed them since the two sides last agreed and the load would write PCO's values "
                    "over the church's")
        raise SafetyBrakeEngaged(planned, linked, f"{noun} in the church database", brake, changed_by="PCO",
                                 how=how)


def _quoted(outcomes: tuple[Outcome, ...]) -> str:
    return ", ".join(f"'{outcome}'" for outcome in outcomes)
