"""The REST API: each user sees and changes only their own rows; corrections become labels;
filters answer the athlete's questions; the schema and its docs page work without a CDN."""

import os
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from ingest.models import Device
from journal.models import Exercise, ExerciseSet
from tests.conftest import workout_with_sets

pytestmark = pytest.mark.django_db


@pytest.fixture
def athletes():
    users = get_user_model().objects
    mine, theirs = users.create_user("me", password="pw-me-12345"), users.create_user("them", password="pw-them-12345")
    return mine, theirs


@pytest.fixture
def api(athletes):
    client = APIClient()
    client.force_authenticate(athletes[0])
    return client


def test_another_users_rows_answer_404_and_never_appear(api, athletes):
    me, them = athletes
    mine = workout_with_sets(me, date(2026, 10, 3), [("pull_up", 8)])
    theirs = workout_with_sets(them, date(2026, 10, 3), [("pull_up", 12)])
    their_set = theirs.sets.get()
    their_device, _ = Device.create_with_token(owner=them, name="Their watch")
    Device.create_with_token(owner=me, name="My watch")

    assert [w["recording"] for w in api.get("/api/workouts/").json()["results"]] == [str(mine.pk)]
    assert [s["reps"] for s in api.get("/api/sets/").json()["results"]] == [8]
    assert [d["name"] for d in api.get("/api/devices/").json()["results"]] == ["My watch"]
    assert api.get("/api/devices/", {"revoked": "true"}).json()["count"] == 0
    for url in (f"/api/workouts/{theirs.pk}/", f"/api/sets/{their_set.pk}/", f"/api/devices/{their_device.pk}/"):
        assert api.get(url).status_code == 404
        assert api.patch(url, {"notes": "x", "reps": 1, "name": "x"}, format="json").status_code == 404
    assert api.post(f"/api/devices/{their_device.pk}/revoke/").status_code == 404
    assert api.get("/api/sets/", {"exercise": "pull_up", "reps_min": 10}).json()["count"] == 0  # theirs has 12


def test_a_correction_becomes_a_label(api, athletes):
    workout = workout_with_sets(athletes[0], date(2026, 10, 3), [("squat", 9)])
    the_set = workout.sets.get()
    Exercise.ensure({"front_squat"})
    answer = api.patch(f"/api/sets/{the_set.pk}/", {"exercise": "front_squat", "reps": 10}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["source"] == "labelled" and answer.json()["exercise_name"] == "Front squat"
    the_set.refresh_from_db()
    assert (the_set.exercise_id, the_set.reps, the_set.source) == ("front_squat", 10, ExerciseSet.Source.LABELLED)
    assert api.patch(f"/api/sets/{the_set.pk}/", {"exercise": "no_such_lift"}, format="json").status_code == 400


def test_filters_answer_pull_ups_with_at_least_8_reps_in_october(api, athletes):
    me = athletes[0]
    workout_with_sets(me, date(2026, 9, 30), [("pull_up", 9)])
    workout_with_sets(me, date(2026, 10, 3), [("pull_up", 8), ("pull_up", 6), ("squat", 10)])
    workout_with_sets(me, date(2026, 10, 20), [("pull_up", 10)])
    found = api.get("/api/sets/", {"exercise": "pull_up", "reps_min": 8, "date_after": "2026-10-01",
                                   "date_before": "2026-10-31"}).json()
    assert found["count"] == 2 and sorted(s["reps"] for s in found["results"]) == [8, 10]
    assert api.get("/api/workouts/", {"date_after": "2026-10-01"}).json()["count"] == 2


def test_a_device_is_added_with_its_token_shown_once_renamed_and_revoked(api):
    created = api.post("/api/devices/", {"name": "Left wrist"}, format="json")
    assert created.status_code == 201 and len(created.json()["token"]) > 30
    device = f"/api/devices/{created.json()['id']}/"
    assert "token" not in api.get(device).json()
    assert api.patch(device, {"name": "Right wrist"}, format="json").json()["name"] == "Right wrist"
    worn = api.patch(device, {"side": "left", "placement": "upper_arm"}, format="json").json()
    assert (worn["side"], worn["placement"]) == ("left", "upper_arm")
    assert api.patch(device, {"side": "middle"}, format="json").status_code == 400
    assert api.post(f"{device}revoke/").json()["revoked_at"] is not None


def test_token_authentication_and_anonymous_refusal(athletes):
    client = APIClient()
    assert client.get("/api/workouts/").status_code in (401, 403)
    token = client.post("/api/token/", {"username": "me", "password": "pw-me-12345"}, format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/workouts/").status_code == 200


def test_the_schema_and_its_docs_page_need_no_cdn(api, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"/api/sets/", "/api/workouts/", "/api/devices/", "/api/stats/", "/api/stats/{slug}/"} <= set(schema["paths"])
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)  # every view described
    page = api.get("/api/docs/").content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower() and "https://" not in page


def test_sets_split_merge_and_delete_through_the_api(api, athletes):
    workout = workout_with_sets(athletes[0], date(2026, 10, 3), [("squat", 10), ("squat", 8)])
    first, second = workout.sets.order_by("ordinal")
    halves = api.post(f"/api/sets/{first.pk}/split/", {"at_s": 15}, format="json")
    assert halves.status_code == 200 and [h["reps"] for h in halves.json()] == [5, 5]
    assert api.post(f"/api/sets/{first.pk}/split/", {"at_s": 400}, format="json").status_code == 400
    merged = api.post(f"/api/sets/{first.pk}/merge/")
    assert merged.status_code == 200 and (merged.json()["reps"], merged.json()["end_s"]) == (10, 30)
    assert api.post(f"/api/sets/{second.pk}/merge/").json() == {"detail": "this is the workout's last set: there is nothing after it to merge with"}
    assert api.delete(f"/api/sets/{second.pk}/").status_code == 204
    workout.refresh_from_db()
    assert workout.dismissed == [[60.0, 90.0]] and workout.sets.count() == 1


def test_stats_list_the_exercises_and_their_weeks(api, athletes):
    workout_with_sets(athletes[0], date.today(), [("squat", 10), ("squat", 8)])
    workout_with_sets(athletes[1], date.today(), [("squat", 20), ("muscle_up", 5)])  # theirs: never counted
    assert api.get("/api/stats/").json()["results"] == [{"exercise": "squat", "name": "Squat", "sets": 2, "reps": 18,
                                                         "last": date.today().isoformat()}]
    # Another athlete's own exercise answers exactly as a name nobody uses: its existence does not leak.
    theirs, nobodys = api.get("/api/stats/muscle_up/"), api.get("/api/stats/no_such_exercise/")
    assert theirs.status_code == nobodys.status_code == 404 and theirs.json() == nobodys.json()
    workout_with_sets(athletes[0], date(2025, 1, 6), [("squat", 5)])
    this_year = api.get("/api/stats/", {"date_after": date.today().replace(month=1, day=1).isoformat()}).json()["results"]
    assert [(t["exercise"], t["sets"]) for t in this_year] == [("squat", 2)]
    assert api.get("/api/stats/").json()["results"][0]["sets"] == 3
    assert api.get("/api/stats/", {"reps_min": "many"}).status_code == 400
    squat = api.get("/api/stats/squat/").json()
    assert [(w["sets"], w["reps"]) for w in squat["weeks"]] == [(2, 18)] and squat["records"][0]["value"] == "10"
    assert api.get("/api/stats/squat/", {"weeks": "x"}).status_code == 400
    assert api.get("/api/stats/squat/", {"weeks": 10**9}).status_code == 400
    assert api.get("/api/stats/no_such_exercise/").status_code == 404
