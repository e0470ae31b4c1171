"""Every recorded live PCO response (/work/shared/pco_golden) reads cleanly through the client's code."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from urllib.parse import parse_qsl

import msgspec
import pytest

from pco_pipeline.pco import PCONotFound, PCOQueryError
from pco_pipeline.pco.errors import error_for_response
from pco_pipeline.pco import jsonapi
from pco_pipeline.pco.jsonapi import ParsedDocument, Resource, parse_body, parse_document
from pco_pipeline.pco.pagination import Page, check_query
from pco_pipeline_tests.pco.conftest import golden_dir

GOLDEN = golden_dir()
FILES = sorted(p for p in GOLDEN.glob("*.json") if p.name != "manifest.json") if GOLDEN else []
# Recorded requests whose parameters PCO silently ignored (unknown or nested where/order keys).
IGNORED_BY_PCO = {"err_unknown_filter", "err_unknown_order"}

pytestmark = pytest.mark.skipif(GOLDEN is None, reason="golden corpus /work/shared/pco_golden not found")


def _golden_file(name: str) -> Path:
    assert GOLDEN is not None  # without the corpus the module is skipped
    return GOLDEN / name


def _load(path):
    recording = json.loads(path.read_text())
    return recording, recording["response"]["status"], recording["response"]["body"]


def test_the_corpus_is_complete():
    manifest = json.loads(_golden_file("manifest.json").read_text())
    assert len(FILES) == len(manifest["calls"]) == 81


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_recorded_body_parses(path):
    recording, status, body = _load(path)
    if status >= 400:
        error = error_for_response(status, json.dumps(body).encode(), "application/json", method="GET",
                                   path=recording["request"]["path"], request_id="r1", auth_method="basic",
                                   module="people")
        assert isinstance(error, PCONotFound) and error.detail
        return
    content = json.dumps(body).encode()
    msgspec.json.decode(content, type=jsonapi._Document)  # the fast, typed decode takes it as it is
    rows = body["data"] if isinstance(body["data"], list) else [body["data"]]
    for document in (parse_body(content), parse_document(body)):
        assert not document.errors
        assert [(r.type, r.id) for r in document.records] == [(row["type"], row["id"]) for row in rows]
        assert [r.attributes for r in document.records] == [row.get("attributes", {}) for row in rows]
        assert len(document.included) == len(body.get("included") or [])
        included = {(r.type, r.id) for r in document.included}
        for record, row in zip(document.records, rows):
            sent = {name: rel["data"] for name, rel in (row.get("relationships") or {}).items() if "data" in rel}
            assert record.relationship_id_map() == {
                name: None if data is None else [d["id"] for d in data] if isinstance(data, list) else data["id"]
                for name, data in sent.items()}
            for name, data in sent.items():
                wanted = {(d["type"], d["id"]) for d in (data if isinstance(data, list) else [data] if data else [])}
                resolved = {(r.type, r.id) for r in record.related_list(name)}
                assert resolved == wanted & included


@pytest.mark.parametrize("path", [p for p in FILES if json.loads(p.read_text())["response"]["status"] < 400],
                         ids=lambda p: p.stem)
def test_the_tolerant_path_reads_every_recording_like_the_typed_one(path):
    """Documents the typed decode refuses are read resource by resource: the two must agree."""
    _, _, body = _load(path)

    def facts(document):
        return [(r.type, r.id, r.attributes, r.relationship_id_map(),
                 {name: [(t.type, t.id) for t in r.related_list(name)] for name in r.related})
                for r in [*document.records, *document.included]]

    typed, tolerant = parse_body(json.dumps(body).encode()), jsonapi._parse_each(body)
    assert facts(typed) == facts(tolerant) and (typed.meta, typed.links) == (tolerant.meta, tolerant.links)


@pytest.mark.parametrize("path", [p for p in FILES if "total_count" in json.loads(p.read_text())["response"]["body"].get("meta", {})],
                         ids=lambda p: p.stem)
def test_paging_facts_of_every_recorded_collection(path):
    recording, _, body = _load(path)
    query = dict(parse_qsl(recording["request"]["query"]))
    offset = int(query.get("offset", 0))
    page = Page.from_document(recording["request"]["path"], offset, parse_document(body))
    meta_next = body["meta"].get("next")
    if page.rows == 0:
        assert page.next_offset is None  # covers per_page=0, past-the-end and exactly-at-end
    elif meta_next:
        assert page.next_offset == meta_next["offset"] == offset + len(body["data"])
    else:
        assert page.next_offset is None


def test_the_clamp_recording_advances_by_rows_received():
    _, _, body = _load(_golden_file("people_per_page_over_max.json"))
    page = Page.from_document("/people", 0, parse_document(body))
    assert "per_page=500" in body["links"]["next"] and page.next_offset == 100


@pytest.mark.parametrize("path", [p for p in FILES if json.loads(p.read_text())["response"]["status"] == 200
                                  and "can_query_by" in json.loads(p.read_text())["response"]["body"].get("meta", {})],
                         ids=lambda p: p.stem)
def test_parameters_pco_ignored_are_exactly_the_ones_refused(path):
    recording, _, body = _load(path)
    query = [(k, v) for k, v in parse_qsl(recording["request"]["query"]) if k not in ("per_page", "offset")]
    ignored = path.stem.startswith("nf_") or path.stem in IGNORED_BY_PCO
    if ignored:
        with pytest.raises(PCOQueryError):
            check_query(query, body["meta"])
    else:
        check_query(query, body["meta"])


def test_parsed_pages_hold_no_reference_cycles():
    """Links back up (an email's person) stay ids, so a dropped page is freed at once, not by the GC."""
    bodies = [body for _, status, body in map(_load, FILES) if status < 400 and body.get("included")]
    back_links = 0
    gc.collect()
    gc.disable()
    try:
        for body in bodies:
            document = parse_document(body)
            primary = {(r.type, r.id) for r in document.records}
            records = {id(r) for r in document.records}
            for resource in document.included:
                for name in resource.relationships:
                    pointing_up = [pco_id for pco_id in resource.relationship_ids(name)
                                   if any((kind, pco_id) in primary for kind, _ in primary)]
                    if pointing_up:
                        back_links += 1
                        assert set(pointing_up) <= set(resource.relationship_ids(name))
                        assert not [r for r in resource.related_list(name) if id(r) in records]
            del document, resource
        # Only the parser's own objects count: other tests' threads in this worker process
        # (servers, pools) may leave cycles of their own while the collector is off.
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        in_cycles = [type(o).__name__ for o in gc.garbage if isinstance(o, (Resource, ParsedDocument))]
        assert in_cycles == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert back_links > 0  # the corpus does have included resources pointing back at their page's records
