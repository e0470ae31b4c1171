"""Conformance: the sandbox, loaded with the resources of the live recordings, answers every
recorded request the way live PCO did.

Per recording: same status; error documents identical; same top-level keys; every resource
identical (attributes, relationships with their links, links keys; the sanitized `html` link
only by form); the same included set; `links.self` byte for byte and `links`/`meta` by PCO's
paging rules; same row order.

The sandbox holds only the recorded rows of a 1,915-person organization, so a recording is
compared row for row where that subset must reproduce it: the first page of any query (a row
sorting before a recorded first-page row would itself be on that page), a page whose preceding
rows another recording shows, and a page at the end of the set (replayed at the same distance from
the sandbox's end). total_count and next/prev then follow the sandbox's own count, checked
against the same paging rules, which are themselves checked against every live recording.
A page in the middle of unrecorded rows (page_deep_offset), or one whose rows were only recorded
through a sparse fieldset (multi_everything), is checked for shape and sort order instead.

Deliberate divergences live in DIVERGENCES, and a test proves each is still a real difference.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.query import fold
from pco_pipeline_tests.sandbox.golden import (GOLDEN_DIR, LIVE_BASE, ORGANIZATION_ID, load_recordings,
                                               recorded_resources)

RECORDINGS = load_recordings()
RECORDED: dict[str, dict[str, Any]] = RECORDINGS or {}   # what the tests that run read (they skip without it)

# Recording name -> why the sandbox answers it differently on purpose.
DIVERGENCES: dict[str, str] = {
    "nf_phone_number": "links form-encode a space in a query value as '+', as live PCO does for an unsanitized "
                       "value (nf_fielddef_name: Chinese+Last+Name); this recording's value was rewritten by the "
                       "sanitizer, which re-encoded its space as %20",
}

_HTML_LINK = re.compile(r"^https://people\.planningcenteronline\.com/people/[A-Z]{2}\d+$")


def _names(only_divergent: bool = False) -> list[Any]:
    if RECORDINGS is None:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"live PCO recordings not found at {GOLDEN_DIR} (the shared folder beside the repo)"))]
    return [name for name in sorted(RECORDINGS) if (name in DIVERGENCES) == only_divergent]


LOADED = recorded_resources(RECORDINGS) if RECORDINGS is not None else {}
LOADED_ATTRIBUTES = {(r["type"], r["id"]): r["attributes"] for resources in LOADED.values() for r in resources}


@pytest.fixture(scope="module")
def golden_sandbox():
    sandbox = Sandbox(SandboxConfig(organization_id=ORGANIZATION_ID, rate_limit="off"), data=LOADED)
    with sandbox, sandbox.client(base_url=LIVE_BASE) as client:
        yield client


def replay(client: httpx.Client, recording: dict[str, Any], offset: int | None = None) -> httpx.Response:
    request = recording["request"]
    query = request["query"]
    if offset is not None:
        query = re.sub(r"(^|&)offset=\d+", rf"\g<1>offset={offset}", query)
    return client.request(request["method"], httpx.URL(f"/people/v2{request['path']}", query=query.encode()))


# --- PCO's paging rules, written independently of the sandbox ------------------------------------

def _query_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def _decoded(url: str | None) -> Any:
    """A link as (path, ordered decoded params): '+' and '%20' are the same space."""
    if url is None:
        return None
    parts = urlsplit(url)
    return (f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qsl(parts.query, keep_blank_values=True))


def paging(self_url: str, total: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(links, meta next/prev) PCO prints for a page: per_page defaults to 25 and is clamped to 100
    (links keep the requested value); next when offset + per_page < total; prev when offset > 0."""
    params = _query_params(self_url)
    offset = int(params.get("offset", "0"))
    per_page = min(int(params["per_page"]), 100) if "per_page" in params else 25
    base = self_url.split("?", 1)[0]

    def url(new_offset: int | None) -> str:
        merged = dict(params) if new_offset is None else {**params, "offset": str(new_offset)}
        return base + ("?" + "&".join(f"{k}={v}" for k, v in sorted(merged.items())) if merged else "")

    links, meta = {"self": _decoded(url(None))}, {}
    if offset + per_page < total:
        links["next"] = _decoded(url(offset + per_page))
        meta["next"] = {"offset": offset + per_page}
    if offset > 0:
        links["prev"] = _decoded(url(max(offset - per_page, 0)))
        meta["prev"] = {"offset": max(offset - per_page, 0)}
    return links, meta


def _decoded_links(links: dict[str, str]) -> dict[str, Any]:
    return {key: _decoded(value) for key, value in links.items()}


def _paging_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {key: meta[key] for key in ("next", "prev") if key in meta}


def _sort_key(attributes: dict[str, Any], name: str) -> tuple:
    value = attributes.get(name)
    if value is None:
        return (0,)
    return (1, fold(value) if isinstance(value, str) else value)


def sorted_like_pco(rows: list[dict[str, Any]], order: str) -> bool:
    """Rows ordered by `order` (null lowest, text folded) with ties by numeric id ascending,
    judged on the rows' full recorded attributes (a response may carry only a fieldset)."""
    keys = [(token.lstrip("-"), token.startswith("-")) for token in order.split(",") if token]
    for before, after in zip(rows, rows[1:]):
        before_attributes = LOADED_ATTRIBUTES[(before["type"], before["id"])]
        after_attributes = LOADED_ATTRIBUTES[(after["type"], after["id"])]
        for name, descending in keys:
            a, b = _sort_key(before_attributes, name), _sort_key(after_attributes, name)
            if a != b:
                if (a > b) != descending:
                    return False
                break
        else:
            if int(before["id"]) > int(after["id"]):
                return False
    return True


# --- comparison ----------------------------------------------------------------------------------

def compare_resource(live: dict[str, Any], ours: dict[str, Any], where: str) -> list[str]:
    problems = []
    if set(live) != set(ours):
        return [f"{where}: keys {sorted(ours)} != live {sorted(live)}"]
    for key in ("type", "id", "attributes", "relationships"):
        if live.get(key) != ours.get(key):
            problems.append(f"{where}: {key} differs:\n  live {live.get(key)}\n  ours {ours.get(key)}")
    if set(live["links"]) != set(ours["links"]):
        problems.append(f"{where}: links keys {sorted(ours['links'])} != live {sorted(live['links'])}")
    for name, value in live["links"].items():
        mine = ours["links"].get(name)
        if name == "html":
            if not (_HTML_LINK.match(value or "") and _HTML_LINK.match(mine or "")):
                problems.append(f"{where}: html link {mine!r} vs live {value!r}")
        elif mine != value:
            problems.append(f"{where}: links.{name} {mine!r} != live {value!r}")
    return problems


def _covering_pages(name: str) -> int:
    """How many leading rows of this recording's query other recordings show (from offset 0)."""
    request = RECORDED[name]["request"]
    query = {k: v for k, v in parse_qsl(request["query"]) if k != "offset"}
    shown = 0
    for other in sorted(RECORDED.values(), key=lambda r: int(dict(parse_qsl(r["request"]["query"])).get("offset", 0))):
        params = dict(parse_qsl(other["request"]["query"]))
        if other["request"]["path"] != request["path"] or {k: v for k, v in params.items() if k != "offset"} != query:
            continue
        if int(params.get("offset", 0)) <= shown and isinstance(other["response"]["body"].get("data"), list):
            shown = max(shown, int(params.get("offset", 0)) + len(other["response"]["body"]["data"]))
    return shown


def differences(name: str, client: httpx.Client) -> list[str]:
    """Everything about the sandbox's answer to recording `name` that differs from live."""
    recording = RECORDED[name]
    live_status, live = recording["response"]["status"], recording["response"]["body"]
    response = replay(client, recording)
    if response.status_code != live_status:
        return [f"status {response.status_code} != live {live_status}: {response.text[:300]}"]
    ours = response.json()
    if "errors" in live:
        return [] if ours == live else [f"error document {ours} != live {live}"]
    if set(ours) != set(live):
        return [f"top-level keys {sorted(ours)} != live {sorted(live)}"]
    if isinstance(live["data"], dict):
        problems = compare_resource(live["data"], ours["data"], "data")
        problems += _compare_included(live, ours)
        if ours["meta"] != live["meta"]:
            problems.append(f"meta {ours['meta']} != live {live['meta']}")
        return problems

    live_meta = live["meta"]
    offset = int(dict(parse_qsl(recording["request"]["query"])).get("offset", 0))
    live_total = live_meta["total_count"]
    complete = offset == 0 and live_total == live_meta["count"]
    reaches_end = live_meta["count"] > 0 and offset + live_meta["count"] == live_total or offset == live_total
    if reaches_end and not complete and ours["meta"]["total_count"] != live_total:
        # Replay at the same distance from the end of the sandbox's (smaller) result set.
        response = replay(client, recording, offset=ours["meta"]["total_count"] - (live_total - offset))
        ours = response.json()
    recorded_rows = all((row["type"], row["id"]) in LOADED_ATTRIBUTES for row in live["data"])
    comparable = recorded_rows and (complete or offset == 0 or reaches_end or _covering_pages(name) >= offset)

    problems: list[str] = []
    live_links_expected, live_meta_expected = paging(live["links"]["self"], live_total)
    if _decoded_links(live["links"]) != live_links_expected or _paging_meta(live_meta) != live_meta_expected:
        problems.append("the paging rules do not describe the live recording")  # the oracle itself
    links_expected, meta_expected = paging(ours["links"]["self"], ours["meta"]["total_count"])
    if _decoded_links(ours["links"]) != links_expected:
        problems.append(f"links {ours['links']} break the paging rules (expected {links_expected})")
    if _paging_meta(ours["meta"]) != meta_expected:
        problems.append(f"meta next/prev {_paging_meta(ours['meta'])} != {meta_expected}")
    if not reaches_end and ours["links"]["self"] != live["links"]["self"]:
        problems.append(f"links.self {ours['links']['self']} != live {live['links']['self']}")
    static_keys = set(live_meta) - {"next", "prev"}
    if set(ours["meta"]) - {"next", "prev"} != static_keys:
        problems.append(f"meta keys {sorted(ours['meta'])} != live {sorted(live_meta)}")
    for key in sorted(static_keys - {"total_count", "count"}):
        if ours["meta"].get(key) != live_meta[key]:
            problems.append(f"meta.{key} {ours['meta'].get(key)} != live {live_meta[key]}")
    if ours["meta"]["count"] != len(ours["data"]):
        problems.append("meta.count is not the number of rows")
    total = ours["meta"]["total_count"]
    if (complete and total != live_total) or total > live_total:
        problems.append(f"total_count {total} vs live {live_total}")
    if complete and ours["links"] != live["links"]:
        problems.append(f"links {ours['links']} != live {live['links']}")

    live_ids = [row["id"] for row in live["data"]]
    our_ids = [row["id"] for row in ours["data"]]
    if comparable:
        if our_ids != live_ids:
            problems.append(f"row order {our_ids} != live {live_ids}")
        else:
            for index, (live_row, our_row) in enumerate(zip(live["data"], ours["data"])):
                problems += compare_resource(live_row, our_row, f"data[{index}]")
            problems += _compare_included(live, ours)
    else:
        order = dict(parse_qsl(recording["request"]["query"])).get("order", "")
        if len(our_ids) != min(live_meta["count"], max(total - offset, 0)) or not sorted_like_pco(ours["data"], order):
            problems.append(f"unrecorded page: rows {our_ids} are not a page of the {order!r} order")
        for index, row in enumerate(ours["data"]):
            if _shape(row) != _shape(live["data"][0]):
                problems.append(f"data[{index}] shape {_shape(row)} != live {_shape(live['data'][0])}")
        if "included" in ours and "included" not in live:
            problems.append("included present where live has none")
    return problems


def _shape(resource: dict[str, Any]) -> tuple:
    return (resource["type"], sorted(resource), sorted(resource["attributes"]),
            sorted(resource.get("relationships", {})), sorted(resource["links"]))


def _compare_included(live: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    live_included = {(r["type"], r["id"]): r for r in live.get("included", [])}
    our_included = {(r["type"], r["id"]): r for r in ours.get("included", [])}
    if len(our_included) != len(ours.get("included", [])):
        return ["included has duplicates"]
    if set(live_included) != set(our_included):
        return [f"included {sorted(our_included)} != live {sorted(live_included)}"]
    problems = []
    for key, resource in live_included.items():
        problems += compare_resource(resource, our_included[key], f"included {key}")
    return problems


@pytest.mark.parametrize("name", _names())
def test_recording_is_reproduced(name, golden_sandbox):
    assert differences(name, golden_sandbox) == []


@pytest.mark.parametrize("name", _names(only_divergent=True) or [pytest.param(None, marks=pytest.mark.skip(
    reason="no declared divergences"))])
def test_declared_divergences_are_still_real(name, golden_sandbox):
    assert differences(name, golden_sandbox), f"{name} no longer differs from live: drop it from DIVERGENCES"


def test_every_divergence_names_a_recording():
    if RECORDINGS is None:
        pytest.skip(f"live PCO recordings not found at {GOLDEN_DIR}")
    assert set(DIVERGENCES) <= set(RECORDINGS)
    assert all(reason.strip() for reason in DIVERGENCES.values())
