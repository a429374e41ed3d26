"""The REST API: each user sees and changes only their own rows; corrections become labels;
filters answer the athlete's questions; the schema and its docs page work without a CDN."""

import uuid
from datetime import date, datetime, timezone

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from ingest.models import Device, Recording
from journal.models import Exercise, ExerciseSet, Workout

pytestmark = pytest.mark.django_db


def workout_with_sets(owner, day: date, sets: list[tuple[str, int]]) -> Workout:
    started = datetime(day.year, day.month, day.day, 18, tzinfo=timezone.utc)
    recording = Recording.objects.create(id=uuid.uuid4(), owner=owner, rate_hz=50, channels=["gyr_x", "gyr_y", "gyr_z"],
                                         started_at=started)
    workout = Workout.objects.create(recording=recording, owner=owner, date=day, started_at=started, duration_s=600)
    Exercise.ensure({exercise for exercise, _ in sets})
    for ordinal, (exercise, reps) in enumerate(sets):
        ExerciseSet.objects.create(workout=workout, ordinal=ordinal, exercise_id=exercise, start_s=60 * ordinal,
                                   end_s=60 * ordinal + 30, reps=reps, confidence=0.9, closed=True, model_version="m@1")
    return workout


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
    assert {"/api/sets/", "/api/workouts/", "/api/devices/"} <= set(schema["paths"])
    page = api.get("/api/docs/").content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower() and "https://" not in page
