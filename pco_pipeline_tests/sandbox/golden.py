"""The live PCO recordings in ../shared/pco_golden, and the sandbox data they imply.

`load_recordings()` returns them by name (None when the shared folder is absent);
`recorded_resources()` collects every resource in their `data` and `included`, merged across
recordings (a sparse-fieldset copy adds to, never replaces, a full one), keyed for Store.load.
A resource only ever seen through a sparse fieldset is left out: without its other attributes
it would sort and filter as if they were null, unlike the organization it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO.parent / "shared" / "pco_golden"
LIVE_BASE = "https://api.planningcenteronline.com"
ORGANIZATION_ID = "907332"

COLLECTION_OF_TYPE = {
    "Person": "people/people", "Email": "people/emails", "PhoneNumber": "people/phone_numbers",
    "Address": "people/addresses", "Household": "people/households", "FieldDatum": "people/field_data",
    "FieldDefinition": "people/field_definitions", "MaritalStatus": "people/marital_statuses",
}


def load_recordings() -> dict[str, dict[str, Any]] | None:
    if not GOLDEN_DIR.is_dir():
        return None
    recordings = {}
    for path in sorted(GOLDEN_DIR.glob("*.json")):
        if path.name == "manifest.json":
            continue
        recordings[path.stem] = json.loads(path.read_text())
    return recordings


def recorded_resources(recordings: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for recording in recordings.values():
        body = recording["response"]["body"]
        if not isinstance(body, dict):
            continue
        data = body.get("data")
        resources = (data if isinstance(data, list) else [data] if data else []) + body.get("included", [])
        for resource in resources:
            entry = merged.setdefault((resource["type"], resource["id"]), {
                "type": resource["type"], "id": resource["id"], "attributes": {}, "relationships": {}})
            entry["attributes"].update(resource.get("attributes") or {})
            entry["relationships"].update(resource.get("relationships") or {})
    full_attributes: dict[str, set[str]] = {}
    for (type_, _), resource in merged.items():
        full_attributes.setdefault(type_, set()).update(resource["attributes"])
    out: dict[str, list[dict[str, Any]]] = {}
    for (type_, _), resource in merged.items():
        if set(resource["attributes"]) == full_attributes[type_]:
            out.setdefault(COLLECTION_OF_TYPE[type_], []).append(resource)
    return out
