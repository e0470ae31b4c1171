"""The Dagster UI in a real browser, as staff use it: the asset graph shows the PCO extracts feeding the
church loads, `sync_people` launched from its Launchpad succeeds, and the asset pages show what the
run did (counts that match the sandbox, requests that match what the sandbox served, a preview).

Set PCO_UPDATE_SCREENSHOT=1 to refresh docs/asset-graph.png (shown in the README) from this run.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pco_pipeline_tests.browser.conftest import DagsterStack
from pco_sandbox.core import Sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "asset-graph.png"
EXTRACT_GROUP, LOAD_GROUP = "pco_extract", "church_load"
RUN_SECONDS = 180

# Asset graph geometry, read from the rendered SVG: each asset node and group box is a
# <foreignObject> whose first [data-tooltip] names it; each edge is a <path marker-end> from the
# right side of its upstream node to the left side of its downstream node.
READ_GRAPH = """() => {
  const svg = document.querySelector('[data-svg-viewport] svg');
  if (!svg) return null;
  const boxes = [...svg.querySelectorAll('foreignObject')].map(fo => ({
    name: fo.querySelector('[data-tooltip]')?.getAttribute('data-tooltip') ?? null,
    x: +fo.getAttribute('x'), y: +fo.getAttribute('y'),
    w: +fo.getAttribute('width'), h: +fo.getAttribute('height')})).filter(b => b.name);
  const edges = [...svg.querySelectorAll('path[marker-end]')].map(p => p.getAttribute('d'));
  return {boxes, edges};
}"""


def _graph(page, groups: set[str]) -> tuple[dict[tuple[str, str], dict], list[tuple[float, float, float, float]]]:
    """((group, asset name) → node box, edges as (x1, y1, x2, y2)) of the asset graph on the page."""
    drawn = page.evaluate(READ_GRAPH) or {"boxes": [], "edges": []}
    group_boxes = {b["name"]: b for b in drawn["boxes"] if b["name"] in groups}
    nodes = {}
    for box in drawn["boxes"]:
        if box["name"] in groups:
            continue
        for group, area in group_boxes.items():
            if area["x"] <= box["x"] and box["x"] + box["w"] <= area["x"] + area["w"] \
                    and area["y"] <= box["y"] and box["y"] + box["h"] <= area["y"] + area["h"]:
                nodes[(group, box["name"])] = box
    edges = []
    for d in drawn["edges"]:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d or "")]
        if len(numbers) >= 4:
            edges.append((numbers[0], numbers[1], numbers[-2], numbers[-1]))
    return nodes, edges


def _graph_when_drawn(page, groups: set[str], wanted: dict[tuple[str, str], tuple[str, str]], seconds: float = 30):
    """The graph once every node in `wanted` and an edge for each pair are drawn (edges come last)."""
    deadline = time.monotonic() + seconds
    while True:
        nodes, edges = _graph(page, groups)
        if all(up in nodes and down in nodes and any(_connects(e, nodes[up], nodes[down]) for e in edges)
               for up, down in wanted.items()) or time.monotonic() > deadline:
            return nodes, edges
        page.wait_for_timeout(250)


def _connects(edge, upstream: dict, downstream: dict, slack: float = 15) -> bool:
    x1, y1, x2, y2 = edge
    return (abs(x1 - (upstream["x"] + upstream["w"])) <= slack and upstream["y"] <= y1 <= upstream["y"] + upstream["h"]
            and abs(x2 - downstream["x"]) <= slack and downstream["y"] <= y2 <= downstream["y"] + downstream["h"])


def _metadata(page) -> dict[str, str]:
    """The asset page's metadata table: key → the value cell's text."""
    rows = page.evaluate("""() => [...document.querySelectorAll('table tr')]
        .map(tr => [...tr.children].map(td => td.innerText.trim()))
        .filter(cells => cells.length === 3)""")
    return {cells[0]: cells[2] for cells in rows if cells[0] and cells[0] != "Key"}


_TABLE_ROWS = """(key) => {
  const row = [...document.querySelectorAll('tr')].find(tr => tr.children.length === 3
      && tr.children[0].innerText.trim() === key);
  if (!row) return [];
  return [...row.children[2].querySelectorAll('tr')]
      .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))
      .filter(cells => cells.length);
}"""


def _preview_rows(page, key: str, timeout_ms: int = 30_000) -> list[list[str]]:
    """The rows of the markdown table a metadata entry shows (header excluded), once the UI has
    rendered them (the markdown renders after the plain entries; [] if it never does)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"(key) => ({_TABLE_ROWS})(key).length > 0", arg=key, timeout=timeout_ms)
    except PlaywrightTimeout:
        pass  # the caller's assertion says what is missing
    return page.evaluate(_TABLE_ROWS, key)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_staff_see_the_lineage_launch_sync_people_and_read_what_it_did(
        page, dagster_stack: DagsterStack, sandbox: Sandbox, engine, tmp_path, church, sandbox_url):
    ui = dagster_stack.url

    # 1. The lineage around church/people: PCO people and merges (pco_extract) feed church people
    #    (church_load), which feeds the church loads that need people.
    page.goto(f"{ui}/assets/church/people?view=lineage")
    wanted = {(EXTRACT_GROUP, "people"): (LOAD_GROUP, "people"),
              (EXTRACT_GROUP, "person_mergers"): (LOAD_GROUP, "people"),
              (LOAD_GROUP, "people"): (LOAD_GROUP, "families")}
    nodes, edges = _graph_when_drawn(page, {EXTRACT_GROUP, LOAD_GROUP}, wanted)
    for upstream, downstream in wanted.items():
        assert any(_connects(e, nodes[upstream], nodes[downstream]) for e in edges), (upstream, downstream, edges)
    pco_people, church_people = nodes[(EXTRACT_GROUP, "people")], nodes[(LOAD_GROUP, "people")]
    assert not any(_connects(e, church_people, pco_people) for e in edges)  # lineage has a direction

    page.goto(f"{ui}/asset-groups")
    for group in (EXTRACT_GROUP, LOAD_GROUP):
        page.locator(f"[data-svg-viewport] svg [data-tooltip='{group}']").first.wait_for()

    page.goto(f"{ui}/automation")
    for name in ("nightly_full_sync", "incremental_sync", "apply_webhooks_sensor"):
        page.get_by_text(name, exact=True).wait_for()

    # 2. Launch sync_people from its Launchpad, with the defaults it offers.
    page.goto(f"{ui}/locations/pco_pipeline/jobs/sync_people/playground")
    page.get_by_text("No errors").wait_for()
    page.get_by_role("button", name="Launch Run").click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]+$"))
    run_url = page.url
    status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    status.wait_for(timeout=RUN_SECONDS * 1000)
    assert status.inner_text() == "Success", f"run {run_url} ended {status.inner_text()}:\n{dagster_stack.log_tail()}"

    pco_people_count = sandbox.store.count("people/people")
    local_people = len(church.local["people"])
    with engine.connect() as conn:
        church_people_rows = conn.execute(sa.text("SELECT count(*) FROM people")).scalar_one()
    assert church_people_rows > local_people  # the run really loaded PCO's people

    # 3. What the run did, on the asset pages.
    page.goto(f"{ui}/assets/pco/people")
    page.get_by_text("records_fetched", exact=True).wait_for()
    extracted = _metadata(page)
    assert int(extracted["records_fetched"]) == pco_people_count
    people_requests = int(extracted["requests_used"])
    assert people_requests >= -(-pco_people_count // 100)  # at least one request per 100 people
    preview = _preview_rows(page, "preview")
    assert preview, "no preview table"
    names = {r.id: r.attributes["name"] for r in sandbox.store.all("people/people")}
    # A live row names the PCO person; a removed one is a church link to an id PCO does not have.
    assert all(row[0] not in names if row[4] == "yes" else row[1] == names[row[0]] for row in preview), preview

    page.goto(f"{ui}/assets/pco/person_mergers")
    page.get_by_text("requests_used", exact=True).wait_for()
    merger_requests = int(_metadata(page)["requests_used"])
    served = sandbox.controls.counters()["requests"]
    assert people_requests + merger_requests == served  # the UI's count is what PCO (the sandbox) served

    page.goto(f"{ui}/assets/church/people")
    page.get_by_text("matched_by_pco_id", exact=True).wait_for()
    loaded = _metadata(page)
    assert int(loaded["created"]) == church_people_rows - local_people

    # The picture for the README: the same lineage, now materialized.
    page.goto(f"{ui}/assets/church/people?view=lineage")
    page.locator("[data-svg-viewport] svg [data-tooltip='person_mergers']").wait_for()
    page.get_by_text("Hide navigation").click()
    page.get_by_text("Materialized").first.wait_for()
    shot = tmp_path / "asset-graph.png"
    page.screenshot(path=str(shot))
    assert _png_size(shot) == (1400, 900)
    if os.environ.get("PCO_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, SCREENSHOT)
