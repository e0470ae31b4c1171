"""The internal API's read-only /api/pco/* listings over real HTTP (as a viewer token): mirrored rows
only, pages, filters, 400s, and 503 while the database is down."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa

T0 = datetime(2025, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def church(engine) -> dict[str, list[int]]:
    """A small mirrored church plus local-only rows the endpoints must not serve."""
    ids: dict[str, list[int]] = {}
    with engine.begin() as conn:
        def insert(table: str, rows: list[dict]) -> list[int]:
            columns = list(rows[0])
            statement = sa.text(f"INSERT INTO {table} ({', '.join(columns)}) "
                                f"VALUES ({', '.join(':' + c for c in columns)}) RETURNING id")
            return [conn.execute(statement, row).scalar_one() for row in rows]

        ids["people"] = insert("people", [
            {"pco_id": "p1", "first_name": "Ada", "last_name": "Ng"},
            {"pco_id": "p2", "first_name": "Bo", "last_name": "Li"}])
        ids["events"] = insert("events", [
            {"pco_id": f"e{i}", "source": "calendar", "name": f"Service {i}", "starts_at": T0 + timedelta(days=7 * i),
             "ends_at": T0 + timedelta(days=7 * i, hours=2), "pco_removed_at": None} for i in range(5)])
        ids["other_events"] = insert("events", [
            {"pco_id": None, "source": "local", "name": "Local picnic", "starts_at": T0,
             "ends_at": T0 + timedelta(hours=1), "pco_removed_at": None},
            {"pco_id": "gone", "source": "calendar", "name": "Cancelled", "starts_at": T0,
             "ends_at": T0 + timedelta(hours=1), "pco_removed_at": T0},
            {"pco_id": "check-ins:501", "source": "check-ins", "name": "Sunday check-in", "starts_at": None,
             "ends_at": None, "pco_removed_at": None}])
        ids["multi_day_event"] = insert("events", [{"pco_id": "camp", "source": "calendar", "name": "Camp",
                                                    "starts_at": T0 - timedelta(days=3), "ends_at": T0 + timedelta(days=1)}])
        ids["locations"] = insert("locations", [{"pco_id": "l-root", "name": "Kids", "kind": "folder"}])
        ids["locations"] += insert("locations", [
            {"pco_id": f"l{i}", "name": f"Room {i}", "kind": "room", "parent_id": ids["locations"][0]}
            for i in range(2)])
        ids["other_locations"] = insert("locations", [
            {"pco_id": None, "name": "Closet", "kind": "room", "pco_removed_at": None},
            {"pco_id": "l-gone", "name": "Old room", "kind": "room", "pco_removed_at": T0}])
        checkin_event = ids["other_events"][2]
        ids["checkins"] = insert("checkins", [
            {"pco_id": f"c{i}", "source": "pco", "person_id": ids["people"][i % 2],
             "event_id": ids["events"][i % 3] if i else checkin_event, "location_id": ids["locations"][1],
             "first_name": "Kid", "last_name": str(i), "checked_in_at": T0 + timedelta(hours=i)}
            for i in range(7)])
        ids["local_checkins"] = insert("checkins", [
            {"pco_id": None, "source": "local", "person_id": ids["people"][0], "first_name": "Walk",
             "last_name": "In", "checked_in_at": T0}])
        # The department is found by its pco_id: staff renamed it here.
        [pco_department] = insert("church_group", [{"pco_id": "pco_groups", "parent_id": None, "level": 1,
                                                    "name": "Groups (from PCO)"}])
        [other_department] = insert("church_group", [{"pco_id": None, "parent_id": None, "level": 1,
                                                      "name": "PCO Groups"}])
        ids["group_types"] = insert("church_group", [
            {"pco_id": f"group_type:{i}", "parent_id": pco_department, "level": 2, "name": name,
             "is_active": active, "pco_removed_at": removed}
            for i, (name, active, removed) in enumerate([("Small Groups", True, None), ("Classes", True, None),
                                                         ("Retired", False, None), ("Deleted", True, T0)])])
        insert("church_group", [{"pco_id": "group_type:none", "parent_id": pco_department, "level": 2,
                                 "name": "Other PCO groups"}])
        insert("church_group", [{"pco_id": None, "parent_id": other_department, "level": 2, "name": "Choir"}])
        insert("church_group", [
            {"pco_id": f"g{i}", "parent_id": ids["group_types"][0], "level": 3, "name": f"Group {i}",
             "pco_removed_at": T0 if i == 3 else None}
            for i in range(4)])
    return ids


def get(client: httpx.Client, path: str, **params) -> httpx.Response:
    return client.get(path, params=params)


def test_checkins_pages_through_every_mirrored_checkin_once_in_id_order(client, church):
    seen, url, pages = [], "/api/pco/checkins?limit=3", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"]["total_count"] == 7
        seen += [row["id"] for row in body["data"]]
        url, pages = body["links"]["next"], pages + 1
    assert pages == 3
    assert seen == church["checkins"]  # the local walk-in is not a PCO check-in


def test_checkin_rows_carry_local_and_pco_ids(client, church):
    [row] = get(client, "/api/pco/checkins", limit=1).json()["data"]
    assert row["pco_id"] == "c0"
    assert (row["person_id"], row["person_pco_id"]) == (church["people"][0], "p1")
    assert (row["event_id"], row["event_pco_id"]) == (church["other_events"][2], "501")  # PCO's check-in event id
    assert row["location_pco_id"] == "l0"
    assert datetime.fromisoformat(row["checked_in_at"]) == T0


def test_checkins_filters(client, church):
    def pco_ids(**params):
        return [row["pco_id"] for row in get(client, "/api/pco/checkins", **params).json()["data"]]

    assert pco_ids(since=(T0 + timedelta(hours=5)).isoformat()) == ["c5", "c6"]
    assert pco_ids(since="2025-01-05T10:00:00Z", until="2025-01-05T12:00:00Z") == ["c1", "c2"]
    assert pco_ids(event_id=church["events"][1]) == ["c1", "c4"]
    assert pco_ids(person_id=church["people"][1], event_id=church["events"][0]) == ["c3"]
    assert pco_ids(event_id=church["other_events"][2]) == ["c0"]
    assert pco_ids(location_id=church["locations"][2]) == []
    assert pco_ids(since="2025-01-06") == []


def test_a_plus_sign_lost_to_query_decoding_is_read_as_an_offset(client, church):
    response = client.get("/api/pco/checkins?since=2025-01-05T16:00:00+02:00")  # = 14:00 UTC
    assert response.status_code == 200, response.text
    assert [row["pco_id"] for row in response.json()["data"]] == ["c5", "c6"]


def test_calendar_events_window_includes_events_overlapping_it(client, church):
    def names(**params):
        return [row["name"] for row in get(client, "/api/pco/calendar-events", **params).json()["data"]]

    # Neither the local picnic nor the check-in event is a calendar event; the cancelled one is gone.
    assert names() == [f"Service {i}" for i in range(5)] + ["Camp"]
    assert names(include_removed="true") == [f"Service {i}" for i in range(5)] + ["Cancelled", "Camp"]
    assert names(**{"from": "2025-01-12", "to": "2025-01-26"}) == ["Service 1", "Service 2"]
    assert names(**{"from": "2025-01-05T12:00:00Z", "to": "2025-01-06"}) == ["Camp"]


def test_group_types_are_the_areas_under_the_pco_groups_department(client, church):
    body = get(client, "/api/pco/group-types").json()
    assert [(row["pco_id"], row["name"], row["group_count"]) for row in body["data"]] == [
        ("0", "Small Groups", 3), ("1", "Classes", 0), ("2", "Retired", 0)]
    with_removed = get(client, "/api/pco/group-types", include_removed="yes").json()["data"]
    assert [row["name"] for row in with_removed] == ["Small Groups", "Classes", "Retired", "Deleted"]
    assert with_removed[3]["pco_removed_at"] is not None
    assert [row["name"] for row in get(client, "/api/pco/group-types", active="false").json()["data"]] == ["Retired"]


def test_checkin_locations_filters(client, church):
    body = get(client, "/api/pco/checkin-locations").json()
    assert [row["pco_id"] for row in body["data"]] == ["l-root", "l0", "l1"]
    assert [row["pco_id"] for row in get(client, "/api/pco/checkin-locations",
                                         include_removed="true").json()["data"]] == ["l-root", "l0", "l1", "l-gone"]
    assert [row["pco_id"] for row in get(client, "/api/pco/checkin-locations", kind="room").json()["data"]] == ["l0", "l1"]
    children = get(client, "/api/pco/checkin-locations", parent_id=church["locations"][0]).json()["data"]
    assert [row["name"] for row in children] == ["Room 0", "Room 1"]


def test_empty_listing_has_no_next_link(client):
    body = get(client, "/api/pco/checkins").json()
    assert body["data"] == [] and body["meta"]["total_count"] == 0 and body["links"]["next"] is None


def test_offset_past_the_end_is_an_empty_page(client, church):
    body = get(client, "/api/pco/checkins", offset=50).json()
    assert body["data"] == [] and body["links"]["next"] is None and body["meta"]["offset"] == 50


@pytest.mark.parametrize("path, params, parameter, words", [
    ("/api/pco/checkins", {"limit": "0"}, "limit", "from 1 to 500"),
    ("/api/pco/checkins", {"limit": "501"}, "limit", "from 1 to 500"),
    ("/api/pco/checkins", {"limit": "ten"}, "limit", "'ten'"),
    ("/api/pco/checkins", {"limit": "²"}, "limit", "from 1 to 500"),
    ("/api/pco/checkins", {"offset": "9" * 5000}, "offset", "integer from 0"),
    ("/api/pco/checkins", {"person_id": "١٢"}, "person_id", "positive integer"),
    ("/api/pco/checkins", {"offset": "-1"}, "offset", "integer from 0"),
    ("/api/pco/checkins", {"since": "yesterday"}, "since", "ISO 8601"),
    ("/api/pco/checkins", {"event_id": "0"}, "event_id", "positive integer"),
    ("/api/pco/checkins", {"per_page": "10"}, "per_page", "accepts limit, offset, since"),
    ("/api/pco/checkins", {"since": "2025-02-01", "until": "2025-01-01"}, "until", "later than since"),
    ("/api/pco/calendar-events", {"from": "2025-02-01", "to": "2025-02-01"}, "to", "later than from"),
    ("/api/pco/calendar-events", {"since": "2025-02-01"}, "since", "is not a parameter"),
    ("/api/pco/group-types", {"active": "maybe"}, "active", "true or false"),
    ("/api/pco/checkin-locations", {"include_removed": "sometimes"}, "include_removed", "true or false"),
    ("/api/pco/checkin-locations", {"kind": " "}, "kind", "non-empty"),
])
def test_bad_query_parameter_is_400_naming_it(client, path, params, parameter, words):
    response = get(client, path, **params)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["source"] == {"parameter": parameter}
    assert error["detail"].startswith(parameter) and words in error["detail"]


def test_repeated_parameter_is_400(client):
    response = client.get("/api/pco/checkins?limit=1&limit=2")
    assert response.status_code == 400
    assert "more than once" in response.json()["errors"][0]["detail"]


def test_database_outage_is_503_not_401_and_reads_resume_after(client, engine, pg_server_url, church):
    """While the database refuses connections, even the token check cannot run: 503 (retry),
    never a 401 that would make a caller drop its valid token, nor a 500."""
    assert client.get("/api/pco/checkins").status_code == 200  # the pool is warm
    database = engine.url.database
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def allow_connections(allowed: bool) -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                             {"name": database})

    allow_connections(False)
    try:
        outage = client.get("/api/pco/checkins")
        assert outage.status_code == 503, outage.text
        assert "database cannot be reached" in outage.json()["errors"][0]["detail"]
        assert client.get("/healthz").status_code == 503
    finally:
        allow_connections(True)
        admin.dispose()
    assert client.get("/api/pco/checkins").json()["meta"]["total_count"] == 7
    assert client.get("/healthz").json() == {"status": "ok", "database": "reachable"}
