"""The conflict policies: per entity and field, which side wins a conflict (`merge.Policy`), and
how long a conflict held for a person may wait (`max_wait`).

The shipped file `pco_pipeline/sync_policies.toml` gives every synced field a policy; a church's
own file, named by the `PCO_SYNC_POLICIES` setting, overrides the fields it names. Both are
validated when loaded, and every mistake is a `PolicyError` naming the file (and the setting),
the entity and the field: an unknown entity or field, a value that is not a policy, a church-owned
column (those never go to PCO, so no policy applies to them), or a synced field left without one.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pco_pipeline.paths import PACKAGE_DIR
from pco_pipeline.sync.merge import EntityFields, Policy
from pco_pipeline.sync.two_way_entities import ENTITIES

POLICIES_SETTING = "PCO_SYNC_POLICIES"
MAX_WAIT_SETTING = "PCO_CONFLICT_MAX_WAIT_HOURS"
DEFAULT_MAX_WAIT_HOURS = 72
DEFAULT_POLICIES_FILE = PACKAGE_DIR / "sync_policies.toml"
_POLICY_NAMES = ", ".join(policy.value for policy in Policy)


class PolicyError(ValueError):
    """The policy configuration is wrong; the message names where and how to fix it."""


@dataclass(frozen=True)
class SyncPolicies:
    """Every synced field's policy, by entity and field, and the files they came from."""
    by_entity: Mapping[str, Mapping[str, Policy]]
    sources: tuple[str, ...]

    def for_entity(self, entity: str) -> Mapping[str, Policy]:
        return self.by_entity[entity]

    def policy(self, entity: str, field: str) -> Policy:
        return self.by_entity[entity][field]


def load_policies(environ: Mapping[str, str] = os.environ, entities: Mapping[str, EntityFields] = ENTITIES,
                  default_file: Path = DEFAULT_POLICIES_FILE) -> SyncPolicies:
    """The shipped defaults, overridden by the church's file when `PCO_SYNC_POLICIES` names one.
    Raises PolicyError on any mistake in either file, or a synced field with no policy."""
    defaults_label = str(default_file)
    policies = {entity: dict(fields) for entity, fields in
                read_policy_file(default_file, entities, label=defaults_label).items()}
    for entity in entities.values():
        for field in entity.field_names:
            if field not in policies.get(entity.entity, {}):
                raise PolicyError(f"{defaults_label}: {entity.entity}.{field} has no policy: "
                                  f"add `{field} = \"…\"` under [{entity.entity}] ({_POLICY_NAMES})")
    sources = [defaults_label]
    church_file = environ.get(POLICIES_SETTING, "").strip()
    if church_file:
        label = f"{POLICIES_SETTING}={church_file}"
        for entity, fields in read_policy_file(Path(church_file).expanduser(), entities, label=label).items():
            policies[entity].update(fields)
        sources.append(label)
    return SyncPolicies(policies, tuple(sources))


def read_policy_file(path: Path, entities: Mapping[str, EntityFields], *, label: str
                     ) -> dict[str, dict[str, Policy]]:
    """The policies one file names, validated against `entities`. `label` names the file in errors."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{label}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{label}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{label}: not valid TOML ({exc})") from None
    read: dict[str, dict[str, Policy]] = {}
    for entity_name, fields in document.items():
        entity = entities.get(entity_name)
        if entity is None:
            raise PolicyError(f"{label}: [{entity_name}] is not a synced entity "
                              f"(one of {', '.join(sorted(entities))})")
        if not isinstance(fields, dict):
            raise PolicyError(f"{label}: {entity_name} must be a table of field = \"policy\" lines")
        read[entity_name] = {field: _policy(label, entity, field, value) for field, value in fields.items()}
    return read


def _policy(label: str, entity: EntityFields, field: str, value: object) -> Policy:
    where = f"{label}: {entity.entity}.{field}"
    if field in entity.church_owned:
        raise PolicyError(f"{where} is owned by the church and never sent to PCO, so no policy applies: "
                          "remove the line")
    if field not in entity.field_names:
        raise PolicyError(f"{where} is not a synced field of {entity.entity} "
                          f"(one of {', '.join(entity.field_names)})")
    try:
        return Policy(value)
    except ValueError:
        raise PolicyError(f"{where}: {value!r} is not a policy (one of {_POLICY_NAMES})") from None


def max_wait(environ: Mapping[str, str] = os.environ) -> timedelta:
    """How long a conflict held for a person may wait before the asset check on waiting conflicts
    fails: `PCO_CONFLICT_MAX_WAIT_HOURS` (a positive number of hours; default 72). Raises
    PolicyError naming the setting when it is not one."""
    text = environ.get(MAX_WAIT_SETTING, "").strip()
    if not text:
        return timedelta(hours=DEFAULT_MAX_WAIT_HOURS)
    try:
        hours = float(text)
    except ValueError:
        hours = float("nan")
    if not 0 < hours < 24 * 365 * 100:
        raise PolicyError(f"{MAX_WAIT_SETTING}={text!r} is not a positive number of hours "
                          f"(unset: {DEFAULT_MAX_WAIT_HOURS})")
    return timedelta(hours=hours)
