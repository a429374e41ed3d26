"""Real browsers (Debian's Chromium driven by Playwright) against the real stack — uvicorn, a
Celery worker, PostgreSQL, Redis. The athlete's day: sign up, add a watch, stream a real
recording with the watch simulator and watch its sets appear live, correct a set, search,
export. The labeller's: fix a set and its reps, meet a concurrent save, mark the recording
labelled. Screenshots of the pages land in $SCREENSHOT_DIR when it is set (docs/screenshots)."""

from __future__ import annotations

import asyncio
import csv
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from classifier.gymformat import read_gym_csv
from ingest.models import Recording
from ingest.recordings import import_gym_recording
from ingest.simulator import Watch, run_watches, summarize
from journal import pipeline
from journal.labels import export_labels, labelled_recordings
from journal.models import AthleteMemory, ExerciseSet, Workout
from tests.browser import DESKTOP, PHONE, logged_in, screenshot
from tests.test_gym_csv import EXERMOTE

pytestmark = pytest.mark.django_db(transaction=True)

def unlabelled_controls(page) -> list[str]:
    """Form controls a screen reader could not name."""
    return page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML.slice(0, 80))""")


def stream_in_background(url: str, token: str, path: Path) -> tuple[threading.Thread, dict]:
    recording = read_gym_csv(path)
    watch = Watch(url=url, token=token, samples=recording.samples, channels=recording.channels, rate_hz=recording.rate_hz,
                  frame_size=10, speed=8)  # five minutes of training in under 40 s
    result = {}
    thread = threading.Thread(target=lambda: result.update(summarize(asyncio.run(run_watches([watch]))), session=watch.session))
    thread.start()
    return thread, result


def test_an_athletes_day_in_the_browser(browser, web_server, celery, static_files, tmp_path):
    celery.start_worker()
    base = web_server.http_url
    page = browser.new_page(viewport=PHONE, accept_downloads=True)
    page.set_default_timeout(30_000)

    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("runner")
    page.get_by_label("Password:", exact=True).fill("a-long-passphrase-9")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-9")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base}/devices/")
    assert "No watch yet" in page.content()

    page.get_by_label("Arm:", exact=True).select_option("right")  # Exermote's phone: an armband on the right upper arm
    page.get_by_label("Worn on the:", exact=True).select_option("upper_arm")
    page.get_by_label("Name").fill("Armband phone")
    page.keyboard.press("Enter")  # the keyboard alone adds a watch
    token = page.locator("#new-token").input_value()
    assert len(token) > 30 and "only this once" in page.content()
    assert page.locator("#push-url").input_value() == f"{base}/ingest/sensor-logger/?token={token}"
    screenshot(page, "devices")
    assert unlabelled_controls(page) == []

    thread, streamed = stream_in_background(web_server.ws_url, token, EXERMOTE[0])
    page.goto(f"{base}/live/")
    page.wait_for_url("**/workouts/*/live/", timeout=30_000)  # the waiting page opens the workout once it starts
    page.wait_for_selector("#connection:has-text('live')")
    page.wait_for_selector("tr.live-set", timeout=60_000)  # a set shows while the recording still streams
    assert thread.is_alive(), "the set should have appeared before the recording ended"
    screenshot(page, "live")
    thread.join(timeout=120)
    assert streamed["ended"] == 1
    page.wait_for_selector(".activity:has-text('Finished')", timeout=120_000)
    live_sets = page.locator("tr.live-set").count()
    assert live_sets >= 3

    page.get_by_role("link", name="Workout page").click()
    page.wait_for_url(f"**/workouts/{streamed['session']}/")
    assert page.locator("table.sets tbody tr[id^=set-]").count() == live_sets
    first = page.locator("table.sets tbody tr[id^=set-]").first
    first.locator("summary").click()
    editor = page.locator("tr.set-editor-row").first  # the set's forms, on a row of their own under it
    editor.get_by_label("Reps").fill("12")
    editor.get_by_label("Weight (kg)").fill("20")
    editor.get_by_role("button", name="Save set 1").click()
    page.wait_for_selector(".messages li:has-text('corrected')")
    assert page.locator("table.sets tbody tr[id^=set-]").first.locator(".badge.you").count() == 1
    corrected_exercise = page.locator("table.sets tbody tr[id^=set-] summary").first.inner_text()
    assert unlabelled_controls(page) == []
    screenshot(page, "workout")

    page.get_by_role("link", name="Search").click()
    page.get_by_label("Exercise").select_option(label=corrected_exercise)
    page.get_by_label("at least").fill("12")
    page.get_by_role("button", name="Search").click()
    assert "exercise=" in page.url and "reps_min=12" in page.url  # a URL to share or bookmark
    assert page.locator("[role=status]").inner_text().startswith("1 set")
    screenshot(page, "search")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export these as CSV").click()
    rows = list(csv.DictReader(download.value.path().open()))
    assert [(row["reps"], row["weight_kg"], row["source"]) for row in rows] == [("12", "20.0", "labelled")]

    page.get_by_role("link", name="Journal", exact=True).click()
    assert corrected_exercise in page.locator(".summary").first.inner_text()
    screenshot(page, "journal")
    page.get_by_role("link", name="Progress").click()
    assert page.locator("svg.chart").count() == 1
    screenshot(page, "progress")
    assert unlabelled_controls(page) == []


@pytest.fixture
def processed_recording(user) -> Recording:
    """A real recording with the machine's sets (made before the browser's event loop starts)."""
    recording, _ = import_gym_recording(read_gym_csv(EXERMOTE[0]), owner=user, started_at=timezone.now())
    pipeline.final_pass(recording.pk)
    return recording


def test_a_labeller_fixes_a_set_in_the_browser(processed_recording, browser, web_server, static_files, tmp_path):
    recording = processed_recording
    labeller = get_user_model().objects.create_user("labeller", password="pw-labeller-12", is_staff=True)
    machine = list(ExerciseSet.objects.filter(workout_id=recording.pk).order_by("ordinal"))
    base = web_server.http_url
    page = logged_in(browser, base, "labeller", "pw-labeller-12", viewport=DESKTOP, then=f"/label/{recording.pk}/")
    page.wait_for_selector(f"#label-status:has-text('{len(machine)} sets')")
    assert unlabelled_controls(page) == []

    page.locator("tbody[data-list=sets] tr").first.click()
    page.get_by_label("Exercise", exact=True).fill("squat")
    page.get_by_label("Reps", exact=True).fill("12")
    page.get_by_label("Reps", exact=True).press("Tab")
    page.locator("canvas").focus()
    page.keyboard.press("a")  # a new set at the view's centre …
    assert page.locator("tbody[data-list=sets] tr").count() == len(machine) + 1
    page.locator("canvas").focus()
    page.keyboard.press("Control+z")  # … and undone
    assert page.locator("tbody[data-list=sets] tr").count() == len(machine)
    assert page.locator("tbody[data-list=sets] tr").first.inner_text().split("\t")[1:3] == ["Squat", "12"]

    # the mouse: drag the first set's right edge 40 px to the right, and undo it
    canvas = page.locator("canvas").bounding_box()
    duration = recording.read_samples().shape[0] / recording.rate_hz
    edge_x = canvas["x"] + machine[0].end_s / duration * canvas["width"]
    page.mouse.move(edge_x, canvas["y"] + canvas["height"] / 2)
    page.mouse.down()
    page.mouse.move(edge_x + 40, canvas["y"] + canvas["height"] / 2, steps=5)
    page.mouse.up()
    dragged_end = float(page.locator("tbody[data-list=sets] tr").first.inner_text().split("\t")[4])
    assert dragged_end == pytest.approx(machine[0].end_s + 40 / canvas["width"] * duration, abs=1.0)
    page.locator("canvas").focus()
    page.keyboard.press("Control+z")
    assert float(page.locator("tbody[data-list=sets] tr").first.inner_text().split("\t")[4]) == pytest.approx(machine[0].end_s, abs=0.1)

    Workout.objects.filter(pk=recording.pk).update(sets_version=F("sets_version") + 1)  # someone else saved meanwhile
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("#label-status.error:has-text('Not saved')")
    assert ExerciseSet.objects.filter(workout_id=recording.pk, source="labelled").count() == 0  # nothing overwritten
    page.reload()
    page.wait_for_selector(f"#label-status:has-text('{len(machine)} sets')")
    page.locator("tbody[data-list=sets] tr").first.click()
    page.get_by_label("Exercise", exact=True).fill("squat")
    page.get_by_label("Reps", exact=True).fill("12")
    page.get_by_label("Reps", exact=True).press("Tab")
    page.get_by_role("button", name="Save and mark labelled").click()
    page.wait_for_selector("#label-status:has-text('marked labelled')")
    screenshot(page, "label")

    workout = Workout.objects.get(pk=recording.pk)
    first = workout.sets.order_by("ordinal").first()
    assert workout.labelled_by == labeller and (first.exercise_id, first.reps, first.source) == ("squat", 12, "labelled")
    export_labels(tmp_path, labelled_recordings())
    rows = list(csv.DictReader((tmp_path / "sets.csv").open()))
    assert (rows[0]["exercise"], rows[0]["reps"], rows[0]["reps_source"]) == ("squat", "12", "labelled")
    assert len(rows) == len(machine)


@pytest.fixture
def lifters_first_curls(user):
    """A real lifter's preacher curls, which no model knows, with the machine's sets (before the browser's loop starts)."""
    from tests.test_athlete_memory import TAUGHT, imported

    workout = imported(user, TAUGHT)
    return workout, max(ExerciseSet.objects.filter(workout=workout), key=lambda s: s.duration_s)


def test_an_athlete_teaches_the_journal_an_exercise_no_model_knows_in_the_browser(
        lifters_first_curls, token, browser, web_server, celery, static_files):
    from tests.test_athlete_memory import LATER, LIFTER

    celery.start_worker()
    workout, longest = lifters_first_curls
    base = web_server.http_url
    page = logged_in(browser, base, "athlete", "pw-athlete-1", viewport=PHONE, then=f"/workouts/{workout.pk}/")
    assert "learned from" not in page.content()
    page.locator(f"#set-{longest.pk} summary").click()
    editor = page.locator(f"#edit-set-{longest.pk}")
    editor.get_by_label("Exercise").fill("Preacher curl")  # a name no model knows
    editor.get_by_role("button", name=f"Save set {longest.ordinal + 1}").click()
    page.wait_for_selector(".messages li:has-text('corrected')")

    page.locator("details.account summary").click()
    page.get_by_role("link", name="What the journal learned").click()
    for _ in range(600):  # the worker rebuilds the memory and measures it a few seconds after the save
        if AthleteMemory.objects.filter(owner__username="athlete").exclude(gain={}).exists():
            break
        page.wait_for_timeout(200)
        page.reload()
    assert "Preacher curl" in page.locator("table.sets").inner_text()
    screenshot(page, "memory")

    thread, streamed = stream_in_background(web_server.ws_url, token, LIFTER / "sessions" / f"{LATER}.csv.gz")
    thread.join(timeout=120)
    assert streamed["ended"] == 1
    page.goto(f"{base}/workouts/{streamed['session']}/live/")
    page.wait_for_selector(".activity:has-text('Finished')", timeout=120_000)
    assert "learned from 1 of your sets" in page.locator("table.sets").inner_text()
    page.get_by_role("link", name="Workout page").click()
    row = page.locator("table.sets tbody tr[id^=set-]", has_text="Preacher curl")
    assert "learned from 1 of your sets" in row.inner_text()
    assert unlabelled_controls(page) == []
    screenshot(page, "workout-memory")


def test_an_athlete_imports_a_sensor_logger_export_in_the_browser(user, browser, web_server, celery, static_files):
    from tests.test_sensor_logger import STARTED_AT, watch_export

    celery.start_worker()
    base = web_server.http_url
    page = logged_in(browser, base, "athlete", "pw-athlete-1", viewport=PHONE, then="/import/")
    page.get_by_label("File").set_input_files(
        {"name": "2024-11-27_15-30-47.zip", "mimeType": "application/zip", "buffer": watch_export()})
    assert unlabelled_controls(page) == []
    screenshot(page, "import")
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector(".messages li:has-text('minutes imported')")
    page.wait_for_selector(".activity:has-text('Finished')", timeout=120_000)
    recording = Recording.objects.get(owner=user)
    assert abs(recording.started_at - STARTED_AT).total_seconds() < 0.01  # the export's own time, not the upload's
    page.get_by_role("link", name="Workout page").click()
    rows = page.locator("table.sets tbody tr[id^=set-]")
    assert rows.count() >= 1 and ExerciseSet.objects.filter(workout_id=recording.pk).exists()
    screenshot(page, "workout-sensor-logger")


def test_a_pushed_workout_with_a_lost_message_shows_its_gap_in_the_browser(user, token, browser, web_server, celery,
                                                                           static_files):
    """Sensor Logger pushes a real lift to the running server, one message lost on the way: the
    beat's sweep gives it up once the app is quiet, and the workout page names the gap."""
    from tests.test_sensor_logger_push import URL, messages, wrist_readings

    celery.env["PIPELINE_QUIET_SECONDS"] = "5"  # the app's silence that ends a pushed recording
    celery.start_worker().start_beat()
    sent = messages(wrist_readings())
    lost = len(sent) // 2
    with httpx.Client(base_url=web_server.http_url, timeout=30) as client:
        for message in sent:
            if message["messageId"] != lost:
                assert client.post(f"{URL}?token={token}", json=message).status_code == 200
    recording = Recording.objects.get(owner=user)
    page = logged_in(browser, web_server.http_url, "athlete", "pw-athlete-1", viewport=PHONE,
                     then=f"/workouts/{recording.pk}/")
    for _ in range(60):  # the hold (5 s), then the sweep (every 2 s here) and the final pass
        page.reload()
        if page.locator("p.banner:has-text('missing at')").count() and not page.locator(".badge:has-text('still being processed')").count():
            break
        time.sleep(2)
    assert not page.locator(".badge:has-text('still being processed')").count()  # the final pass ran
    assert page.locator("table.sets tbody tr[id^=set-]").count() == 1  # the lift, whole across the gap
    assert abs(ExerciseSet.objects.get(workout_id=recording.pk).reps - 11) <= 1  # the lifter logged 11
    recording.refresh_from_db()
    minute, second = divmod(int(recording.gaps[0]["at_s"]), 60)
    assert f"1 s missing at {minute}:{second:02d}" in page.locator("p.banner").inner_text()
    screenshot(page, "workout-pushed")
