"""The push engine's contract for a push declared to it (what the two-way issue's pushes will be):
a kind that only plans operations and says how one unit is pushed gets the dry run, the lock, the
worker loop, per-record refusals in the quarantine and the abort mapping from the engine alone."""

from collections.abc import Iterator

import pytest

from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.sync.push import PlannedWrite, PushAborted, PushSession
from pco_pipeline.sync.push_engine import Operation, PushKind, exclusive, run_push, send
from pco_pipeline_tests.outbound.conftest import open_quarantine, pco_children, writes


def email_kind(people: dict[str, str]) -> PushKind:
    """A toy push: one email per PCO person id (local key = the person's name), two units a batch."""

    def plan(session: PushSession) -> Iterator[list[Operation]]:
        ops = []
        for name, pco_id in people.items():
            sent = {"address": f"{name}@example.org", "location": "Home"}
            ops.append(Operation("create", "Email", "toy_emails", name, None, f"toy {name}",
                                 f"/people/v2/people/{pco_id}/emails", resource_body("Email", sent), sent))
            session.report.plan.add(PlannedWrite("create", "Email", f"toy {name}", tuple(sent.items())))
        yield from (ops[i:i + 2] for i in range(0, len(ops), 2))

    def pusher(session: PushSession, client: PCOClient):
        def push(op: Operation) -> None:
            if send(session, client, op, lost="the answer was lost") is not None:
                session.counts.add(op.resource, "created")
        return push

    return PushKind("toy", plan, pusher)


@pytest.fixture
def people(sandbox) -> dict[str, str]:
    return {name: sandbox.controls.create_person(first_name=name, last_name="Toy").id
            for name in ("ann", "bo", "cy", "di", "ed")}


def test_a_declared_push_gets_dry_run_refusals_and_counts_from_the_engine(engine, client, sandbox, people):
    kind = email_kind(people)
    planned = run_push(kind, engine, None, dry_run=True)
    assert planned.plan.counts() == {"create Email": 5} and writes(sandbox) == []

    sandbox.controls.inject_fault("error", status=422, method="POST", path_prefix=f"/people/v2/people/{people['cy']}/")
    report = run_push(kind, engine, client, run_id="toy-1", workers=2)

    assert report.counts.totals() == {"created": 4, "updated": 0, "deleted": 0, "adopted": 0, "skipped": 0, "failed": 1}
    assert [len(pco_children(sandbox, "people/emails", pco_id)) for pco_id in people.values()] == [1, 1, 0, 1, 1]
    [(code, reason)] = open_quarantine(engine, "push_toy_emails").values()
    assert code == "refused_by_pco" and reason.startswith("PCO refused the Email (422)")


def test_a_connection_error_stops_a_declared_push_and_a_second_run_waits_for_the_first(engine, client, sandbox,
                                                                                        people):
    kind = email_kind(people)
    with exclusive(engine, "toy"), pytest.raises(PushAborted, match="another toy push is running"):
        run_push(kind, engine, client)
    assert writes(sandbox) == []

    sandbox.controls.inject_fault("error", status=403, method="POST")
    with pytest.raises(PushAborted, match="push_toy stopped: PCO refused access"):
        run_push(kind, engine, client, workers=1)
    assert len(writes(sandbox)) == 1   # the first refusal stopped the queued ones
    assert open_quarantine(engine, "push_toy_emails") == {}
