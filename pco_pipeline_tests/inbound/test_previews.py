"""The preview tables on the `pco/*` and `church/*` asset pages hold names as PCO sent them: a `|`
or a line break in a name stays inside its cell, every row keeps its columns."""

import re

from pco_pipeline_tests.inbound.conftest import materialized

CELL_BORDER = re.compile(r"(?<!\\)\|")  # a `|` not escaped as `\|`


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of each row of a markdown table (header and separator excluded)."""
    lines = markdown.splitlines()
    assert len(lines) >= 2 and set(lines[1]) <= set("|:- "), markdown
    return [[cell.strip() for cell in CELL_BORDER.split(line)[1:-1]] for line in lines[2:]]


def test_names_with_pipes_and_line_breaks_stay_in_their_cells(run_job, sandbox):
    person = sandbox.controls.create_person(first_name="Ada", last_name="Lovelace")
    sandbox.controls.update_record("people/people", person.id,
                                   {"first_name": "Ada | Ann", "last_name": "Love\nlace"})
    sandbox.controls.create_person(first_name="Grace", last_name="Hopper")

    result = run_job("sync_people")
    assert result.success
    assets = materialized(result)

    landed = table_rows(assets["pco/people"]["preview"])
    assert [len(row) for row in landed] == [5, 5]
    assert {row[0]: row[1] for row in landed}[person.id] == "Ada \\| Ann Love lace"

    church = table_rows(assets["church/people"]["preview"])
    header = assets["church/people"]["preview"].splitlines()[0]
    assert [cell.strip() for cell in CELL_BORDER.split(header)[1:-1]] == [
        "id", "pco_id", "first_name", "last_name", "birthdate", "status", "is_active"]
    assert [len(row) for row in church] == [7, 7]
    ada = next(row for row in church if row[1] == person.id)
    assert ada[2:4] == ["Ada \\| Ann", "Love lace"]
    assert ada[6] == "True"
