"""The safety brake (issue 16 item 8): a run that would change more than a configured share of
the linked records of one entity, on either side, stops before writing anything and says how
many and why. A bad field mapping or a restored old backup looks exactly like "staff edited half
the church at once"; this makes a person confirm it (`--confirm` on `pco-pipeline push …` /
`sync …`, or the run config flag `confirm_large_change`) before it overwrites a whole church.

Settings: `PCO_SAFETY_BRAKE_SHARE` (a fraction, default 0.10; 1 turns the brake off) and
`PCO_SAFETY_BRAKE_MIN_RECORDS` (default 25): fewer changed records than this never engage it,
so a small church's ordinary edits (one of two people is 50%) go through.

One call for every writer: `check_share(planned, linked, what)` before the first write.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

SHARE_SETTING = "PCO_SAFETY_BRAKE_SHARE"
MIN_RECORDS_SETTING = "PCO_SAFETY_BRAKE_MIN_RECORDS"
DEFAULT_SHARE = 0.10
DEFAULT_MIN_RECORDS = 25
CONFIRM_FLAG = "confirm_large_change"


class SafetyBrakeEngaged(RuntimeError):
    """A run planned more changes than the brake allows; nothing was written."""

    def __init__(self, planned: int, linked: int, what: str, brake: Brake) -> None:
        self.planned, self.linked, self.what = planned, linked, what
        share = planned / linked if linked else 1.0
        super().__init__(
            f"safety brake: this run would change {planned} of {linked} linked {what} ({share:.0%}), more than "
            f"{SHARE_SETTING}={brake.share:g} allows; nothing was written. If the church really changed this much "
            f"(and it is not a restored old backup or a wrong mapping), run it again with --confirm (run config "
            f"{CONFIRM_FLAG}: true) to let this one run through.")


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
