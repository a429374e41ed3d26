"""The website on real PostgreSQL: every page shows only its user's rows (another user's object
answers 404), corrections become labels, search answers the athlete's questions, progress,
devices, import and export, accounts, and the live page's WebSocket. The same flows in a real
browser are in test_browser.py."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date

import numpy as np
import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction

from classifier.set_finder import FoundSet
from config.asgi import application
from ingest.models import Device, Recording, hash_token
from journal.models import ExerciseSet
from journal.notices import workout_group
from journal.set_changes import replace_machine_sets
from tests.conftest import workout_with_sets

pytestmark = pytest.mark.django_db


@pytest.fixture
def athletes():
    users = get_user_model().objects
    return users.create_user("me", password="pw-me-12345"), users.create_user("them", password="pw-them-12345")


@pytest.fixture
def me(client, athletes):
    client.force_login(athletes[0])
    return athletes[0]


def test_another_users_objects_answer_404_and_never_appear(client, me, athletes):
    them = athletes[1]
    workout_with_sets(me, date(2026, 10, 3), [("pull_up", 8)], notes="easy day")
    theirs = workout_with_sets(them, date(2026, 10, 3), [("muscle_up", 5), ("muscle_up", 4)], notes="secret plan")
    their_set = theirs.sets.first()
    their_device, _ = Device.create_with_token(owner=them, name="Their watch")
    Recording.objects.filter(pk=theirs.pk).update(status=Recording.Status.RECORDING)

    for url in (f"/workouts/{theirs.pk}/", f"/workouts/{theirs.pk}/signal.svg", f"/workouts/{theirs.pk}/live/"):
        assert client.get(url).status_code == 404, url
    for url, data in ((f"/workouts/{theirs.pk}/notes", {"notes": "x"}),
                      (f"/sets/{their_set.pk}/edit", {"exercise": "squat", "reps": 1}),
                      (f"/sets/{their_set.pk}/split", {"at_s": 10}), (f"/sets/{their_set.pk}/merge", {}),
                      (f"/sets/{their_set.pk}/delete", {}), (f"/devices/{their_device.pk}/rename", {"name": "x"}),
                      (f"/devices/{their_device.pk}/revoke", {})):
        assert client.post(url, data).status_code == 404, url
    theirs.refresh_from_db()
    their_device.refresh_from_db()
    assert theirs.notes == "secret plan" and theirs.sets.count() == 2 and their_device.revoked_at is None

    for url in ("/", "/search/", "/search/?q=secret", "/search/?exercise=muscle_up", "/progress/",
                "/progress/?exercise=muscle_up", "/devices/", "/export.csv", "/live/"):
        answer = client.get(url, follow=True)
        body = answer.content.decode() if not answer.streaming else b"".join(answer.streaming_content).decode()
        assert answer.status_code == 200, url
        for secret in ("secret plan", "Muscle up", "muscle_up\n", "Their watch", str(theirs.pk)):
            assert secret not in body, (url, secret)


@pytest.mark.parametrize("url", ["/", "/search/", "/progress/", "/devices/", "/import/", "/export.csv", "/live/"])
def test_pages_ask_strangers_to_log_in(client, url):
    answer = client.get(url)
    assert answer.status_code == 302 and answer.url.startswith("/accounts/login/?next=")


def test_journal_summarises_each_workout_and_marks_days_on_the_calendar(client, me):
    workout_with_sets(me, date(2026, 10, 3), [("squat", 10), ("squat", 10), ("squat", 8), ("pull_up", 6)])
    body = client.get("/?month=2026-10").content.decode()
    assert "Squat 3 × 10, 10, 8" in body and "Pull up 1 × 6" in body
    assert 'aria-label="3 October: 1 workout"' in body
    assert "No workouts yet" in client.get("/?date_after=2026-10-04&date_before=2026-10-04").content.decode()


def test_the_signal_drawing_is_sent_again_only_when_it_changed(client, me):
    workout = workout_with_sets(me, date(2026, 10, 3), [("squat", 10)])
    first = client.get(f"/workouts/{workout.pk}/signal.svg")
    assert first.status_code == 200 and first["Content-Type"] == "image/svg+xml" and "Squat × 10" in first.content.decode()
    assert client.get(f"/workouts/{workout.pk}/signal.svg", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    client.post(f"/sets/{workout.sets.get().pk}/edit", {"exercise": "squat", "reps": 11})
    again = client.get(f"/workouts/{workout.pk}/signal.svg", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and "Squat × 11" in again.content.decode()


def test_empty_pages_say_what_to_do_next(client, me):
    assert "add a watch" in client.get("/").content.decode().lower()
    assert "Nothing to show yet" in client.get("/progress/").content.decode()
    assert "No workout is being recorded" in client.get("/live/").content.decode()


def test_corrections_become_labels_split_merge_delete(client, me):
    workout = workout_with_sets(me, date(2026, 10, 3), [("squat", 9), ("squat", 4), ("lunge", 6)])
    first, second, third = workout.sets.order_by("ordinal")
    ExerciseSet.objects.filter(pk=first.pk).update(rep_times_s=[2.0, 5.0, 8.0, 11.0, 14.0, 17.0, 20.0, 23.0, 26.0])

    client.post(f"/sets/{first.pk}/edit", {"exercise": "Front squat", "reps": 9, "weight_kg": "60", "notes": "deep"})
    first.refresh_from_db()
    assert (first.exercise_id, first.exercise.name, first.weight_kg, first.notes, first.source) == \
        ("front_squat", "Front squat", 60.0, "deep", "labelled")

    client.post(f"/sets/{first.pk}/split", {"at_s": 12.5})
    halves = list(workout.sets.order_by("ordinal"))[:2]
    assert [(s.reps, s.start_s, s.end_s, s.source) for s in halves] == [(4, 0, 12.5, "labelled"), (5, 12.5, 30, "labelled")]
    assert halves[1].rep_times_s == [14.0, 17.0, 20.0, 23.0, 26.0]
    answer = client.post(f"/sets/{halves[0].pk}/split", {"at_s": 99}, follow=True)
    assert "not split" in answer.content.decode() and workout.sets.count() == 4

    client.post(f"/sets/{second.pk}/merge")
    merged = ExerciseSet.objects.get(pk=second.pk)
    assert (merged.reps, merged.start_s, merged.end_s, merged.source) == (10, 60, 150, "labelled")
    assert not ExerciseSet.objects.filter(pk=third.pk).exists()

    client.post(f"/sets/{halves[0].pk}/delete")
    workout.refresh_from_db()
    assert workout.dismissed == [[0.0, 12.5]]
    assert [s.ordinal for s in workout.sets.order_by("ordinal")] == [0, 1]

    answer = client.post(f"/sets/{merged.pk}/edit", {"exercise": "!!", "reps": -1}, follow=True)
    assert "not changed" in answer.content.decode()
    assert client.post(f"/sets/{merged.pk}/edit").status_code == 302  # empty form: an error message, nothing lost
    page = client.get(f"/workouts/{workout.pk}/").content.decode()
    assert "you</span>" in page and 'list="exercise-names"' in page


def test_a_set_the_watchs_arm_did_not_move_in_says_so_until_the_athlete_gives_the_count(client, me):
    workout = workout_with_sets(me, date(2026, 10, 3), [("squat", 9)])
    held_still = FoundSet(60.0, 90.0, "row", 0.8, True, (), arm_still=True)
    with transaction.atomic():
        replace_machine_sets(workout, [held_still], "m@1")
        workout.save()
    row = workout.sets.get(exercise_id="row")
    assert row.arm_still and row.reps == 0
    assert client.get(f"/api/sets/{row.pk}/").json()["arm_still"] is True
    page = client.get(f"/workouts/{workout.pk}/").content.decode()
    assert page.count("the watch's arm did not move — enter the count") == 1  # the squats above it have their count
    assert '<td class="num"><span class="arm-still"' in page  # "?" where the count would be, not 0
    assert "Row 1 × ?" in page  # the summary too,
    assert "Row 1 × ?" in client.get("/").content.decode()  # the journal's line for the workout,
    assert "Set 1: Row × ?" in client.get(f"/workouts/{workout.pk}/live/").content.decode()  # and the live page's timeline

    client.post(f"/sets/{row.pk}/name", {"exercise": "dumbbell_row"})  # named, still no count
    assert "the watch's arm did not move — enter the count" in client.get(f"/workouts/{workout.pk}/").content.decode()

    client.post(f"/sets/{row.pk}/edit", {"exercise": "dumbbell_row", "reps": 12})
    page = client.get(f"/workouts/{workout.pk}/").content.decode()
    assert "the watch's arm did not move" not in page and ">12</td>" in page
    assert client.get(f"/api/sets/{row.pk}/").json()["arm_still"] is False


def test_search_answers_pull_ups_with_at_least_8_reps_in_october_with_words_from_the_notes(client, me):
    workout_with_sets(me, date(2026, 9, 30), [("pull_up", 9)], notes="wide grip")
    workout_with_sets(me, date(2026, 10, 3), [("pull_up", 8), ("pull_up", 6), ("squat", 10)], notes="gripping hard")
    workout_with_sets(me, date(2026, 10, 20), [("pull_up", 10)], notes="tired")
    october = {"exercise": "pull_up", "reps_min": 8, "date_after": "2026-10-01", "date_before": "2026-10-31"}
    page = client.get("/search/", october)
    assert page.context["page"].paginator.count == 2
    assert [s.reps for s in client.get("/search/", {**october, "q": "grip"}).context["page"]] == [8]  # stemmed
    assert client.get("/search/", {**october, "q": "grip -hard"}).context["page"].paginator.count == 0
    exported = list(csv.DictReader(io.StringIO(b"".join(client.get("/export.csv", october).streaming_content).decode())))
    assert sorted(int(row["reps"]) for row in exported) == [8, 10]
    assert client.get("/search/", {"reps_min": "many"}).status_code == 200  # a bad value is an error on the form


def test_progress_shows_weeks_and_records(client, me):
    workout_with_sets(me, date.today(), [("bench_press", 8), ("bench_press", 6)])
    heavy = workout_with_sets(me, date.today(), [("bench_press", 5)])
    ExerciseSet.objects.filter(workout=heavy).update(weight_kg=80)
    answer = client.get("/progress/?exercise=bench_press")
    assert [(w.sets, w.reps, w.volume_kg) for w in answer.context["trained_weeks"]] == [(3, 19, 400.0)]
    records = {r.what: r.value for r in answer.context["records"]}
    assert records == {"Most reps in a set": "8", "Heaviest set": "80 kg × 5", "Biggest set volume": "400 kg"}
    assert "<svg" in answer.content.decode()


def test_a_new_device_shows_its_token_once(client, me):
    answer = client.post("/devices/", {"name": "Left wrist"})
    token = answer.context["token"]
    device = Device.objects.get(owner=me)
    assert device.token_hash == hash_token(token) and "/ws/ingest/" in answer.content.decode()
    assert f"/ingest/sensor-logger/?token={token}" in answer.content.decode()  # what Sensor Logger's URL field takes
    assert token not in client.get("/devices/").content.decode()
    client.post(f"/devices/{device.pk}/rename", {"name": "Right wrist", "side": "right", "placement": "wrist"})
    client.post(f"/devices/{device.pk}/revoke")
    device.refresh_from_db()
    assert (device.name, device.side, device.placement) == ("Right wrist", "right", "wrist") and device.revoked_at is not None
    assert "This field is required" in client.post("/devices/", {"name": ""}).content.decode()


def gym_csv(seconds: float, rate_hz: float = 50.0) -> bytes:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    columns = {"t": t, **{f"gyr_{axis}": 100 * np.sin(2 * np.pi * 0.5 * t + i) for i, axis in enumerate("xyz")}}
    lines = [",".join(columns)] + [",".join(f"{v:.4f}" for v in row) for row in zip(*columns.values())]
    return gzip.compress(("\n".join(lines) + "\n").encode())


@pytest.mark.django_db(transaction=True)  # the archive writes frames on its own connection
def test_import_a_recording_file(client, me):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("session.csv.gz", gym_csv(30))
    answer = client.post("/import/", {"file": upload, "side": "left", "placement": "wrist"})
    recording = Recording.objects.get(owner=me)
    assert answer.status_code == 302 and answer.url == f"/workouts/{recording.pk}/live/"
    assert recording.source == "import" and recording.next_seq == 30  # 1500 samples in frames of 50
    assert (recording.side, recording.placement) == ("left", "wrist")  # read as its mirror image
    again = client.post("/import/", {"file": SimpleUploadedFile("session.csv.gz", gym_csv(30))}, follow=True)
    assert "imported before" in again.content.decode() and Recording.objects.count() == 1

    bad = client.post("/import/", {"file": SimpleUploadedFile("notes.csv", b"a,b\n1,2\n")})
    assert "no &#x27;t&#x27; column" in bad.content.decode() and "notes.csv" in bad.content.decode()
    wrong_kind = client.post("/import/", {"file": SimpleUploadedFile("photo.jpg", b"\xff\xd8")})
    assert "Only gym-format .csv or .csv.gz files, or Sensor Logger .zip exports" in wrong_kind.content.decode()


def test_sign_up_log_out_log_in_change_and_reset_password(client):
    answer = client.post("/accounts/signup/", {"username": "new", "email": "new@example.com",
                                               "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"})
    assert answer.status_code == 302 and answer.url == "/devices/"
    assert client.get("/devices/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302
    assert client.post("/accounts/login/", {"username": "new", "password": "a-long-passphrase-9"}).status_code == 302
    client.post("/accounts/password_change/", {"old_password": "a-long-passphrase-9", "new_password1": "another-phrase-10",
                                               "new_password2": "another-phrase-10"})
    assert get_user_model().objects.get(username="new").check_password("another-phrase-10")
    client.post("/accounts/logout/")
    client.post("/accounts/password_reset/", {"email": "new@example.com"})
    assert len(mail.outbox) == 1 and "/accounts/reset/" in mail.outbox[0].body
    weak = client.post("/accounts/signup/", {"username": "x", "password1": "123", "password2": "123"})
    assert "too short" in weak.content.decode()


async def live_socket(client, recording_id) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return WebsocketCommunicator(application, f"/ws/workouts/{recording_id}/",
                                 headers=[(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_live_socket_sends_sets_to_their_owner_only(client, athletes):
    from asgiref.sync import sync_to_async

    me, them = athletes
    await sync_to_async(client.force_login)(me)
    mine = await sync_to_async(workout_with_sets)(me, date(2026, 10, 3), [("squat", 10)])
    theirs = await sync_to_async(workout_with_sets)(them, date(2026, 10, 3), [("squat", 7)])

    refused = await live_socket(client, theirs.pk)
    connected, code = await refused.connect()
    assert not connected and code == 4404

    socket = await live_socket(client, mine.pk)
    assert (await socket.connect())[0]
    first = await socket.receive_json_from(timeout=5)
    assert "Squat 1 × 10" in first["html"] and first["finalized"]
    await ExerciseSet.objects.filter(workout=mine).aupdate(reps=11)
    await get_channel_layer().group_send(workout_group(mine.pk), {"type": "sets.changed"})
    assert "Squat 1 × 11" in (await socket.receive_json_from(timeout=5))["html"]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_by_two_people_gives_each_their_own_recording(client, athletes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    for athlete in athletes:
        client.force_login(athlete)
        answer = client.post("/import/", {"file": SimpleUploadedFile("session.csv.gz", gym_csv(10))})
        assert client.get(answer.url).status_code == 200
    assert sorted(r.owner.username for r in Recording.objects.all()) == ["me", "them"]
