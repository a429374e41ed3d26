"""The recorder page (/record/): a phone streams its own motion over protocol v1. In Chromium,
against the real stack, a real recording is replayed as the browser's `devicemotion` events,
the phone goes offline midway and comes back, and the archive must hold every sample once; a
page reloaded before it could send sends what it kept in IndexedDB."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from classifier.channels import SENSOR_CHANNELS
from classifier.gymformat import read_gym_csv
from ingest.models import Device, Recording
from tests.conftest import shared_data
from tests.browser import PHONE, logged_in
from web.views.record import phone_name

pytestmark = pytest.mark.django_db(transaction=True)

PREACHER_CURLS = "gym/applewatch_gym_sensorlogger/sessions/2024-11-27T15-30-47_preacher_curl_S1.csv.gz"
STANDARD_GRAVITY = 9.80665
PAGE_RATE_HZ = 50
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.0.0 Mobile Safari/537.36")

# Dispatches readings as the browser would, each with the time it was taken: the page grids by
# `event.timeStamp`, which a synthetic event cannot be given but through its own property.
DISPATCH = """([readings, firstMs, stepMs]) => readings.forEach(([ax, ay, az, gx, gy, gz], i) => {
    const event = new DeviceMotionEvent("devicemotion", {accelerationIncludingGravity: {x: ax, y: ay, z: az},
        rotationRate: {alpha: gz, beta: gx, gamma: gy}, interval: stepMs});
    Object.defineProperty(event, "timeStamp", {value: firstMs + i * stepMs});
    window.dispatchEvent(event);
})"""

FRAMES_KEPT_ON_THE_PHONE = """() => new Promise((resolve) => {
    const open = indexedDB.open("journal-recorder");
    open.onsuccess = () => { const count = open.result.transaction("frames").objectStore("frames").count();
                             count.onsuccess = () => resolve(count.result); };
})"""


def browser_readings(samples: np.ndarray) -> list[list[float]]:
    """The journal's samples (g, deg/s) as a browser reports them: acceleration in m/s²."""
    readings = samples.astype(np.float64)
    readings[:, :3] *= STANDARD_GRAVITY
    return readings.tolist()


def test_record_needs_login_and_one_tap_makes_the_phone_a_device(client, user):
    assert client.get(reverse("record")).status_code == 302
    client.force_login(user)
    page = client.get(reverse("record"), HTTP_USER_AGENT=ANDROID_CHROME)
    assert page.status_code == 200 and 'value="This phone (Chrome on Android)"' in page.content.decode()

    response = client.post(reverse("record"), {"name": "This phone (Chrome on Android)"})
    device = Device.objects.get()
    assert device.owner == user and device.name == "This phone (Chrome on Android)"
    token = response.context["new_device"]["token"]
    assert device.token_prefix == token[:8] and 'id="new-device"' in response.content.decode()


@pytest.mark.parametrize(("user_agent", "name"), [
    (ANDROID_CHROME, "This phone (Chrome on Android)"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "This phone (Safari on iPhone)"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
     "Chrome/121.0.0.0 Mobile Safari/537.36", "This phone (Samsung Internet on Android)"),
    ("", "This phone (a browser)"),
])
def test_a_phone_is_named_after_its_browser_and_system(user_agent, name):
    assert phone_name(user_agent) == name


def test_a_phone_records_a_workout_through_a_dropped_connection(user, browser, web_server, celery, static_files):
    celery.start_worker()
    recording = read_gym_csv(shared_data(PREACHER_CURLS))
    assert recording.channels == list(SENSOR_CHANNELS) and recording.rate_hz == 100
    readings = browser_readings(recording.samples)
    step_ms = 1000 / recording.rate_hz
    second = int(recording.rate_hz)

    page = logged_in(browser, web_server.http_url, "athlete", "pw-athlete-1", viewport=PHONE, then="/record/")
    page.get_by_role("button", name="Create device").click()
    page.wait_for_selector("#recorder:not([hidden])")
    device = Device.objects.get(owner=user)
    assert device.name.startswith("This phone")
    page.reload()  # the phone keeps its device
    assert page.locator("#device-name").inner_text() == device.name

    page.get_by_role("button", name="Start").click()
    page.wait_for_selector("#uplink:has-text('connected')")
    offline_at, online_at = 30 * second, 40 * second
    for first in range(0, len(readings), second):  # a second of signal every ⅛ s: eight times real time
        if first == offline_at:
            page.context.set_offline(True)
            page.wait_for_selector("#uplink:has-text('reconnecting')")
        if first == online_at:
            assert page.locator("#waiting").inner_text() != "0 s", "the frames made offline wait on the phone"
            page.context.set_offline(False)
        page.evaluate(DISPATCH, [readings[first:first + second], 1000 + first * step_ms, step_ms])
        time.sleep(1 / 8)

    # While the phone still records, the pipeline's sets show on the page.
    page.wait_for_selector("#live tr.live-set", timeout=90_000)
    page.wait_for_selector("#waiting:has-text('0 s')", timeout=30_000)
    if folder := os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(folder) / "record.png"), full_page=True)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_selector("#uplink:has-text('saved')", timeout=30_000)
    assert page.evaluate(FRAMES_KEPT_ON_THE_PHONE) == 0

    stored = Recording.objects.get(owner=user)
    assert stored.device == device and stored.status == Recording.Status.ENDED
    assert stored.rate_hz == PAGE_RATE_HZ
    archived = stored.read_samples()
    # The page's 50 Hz grid starts at the first reading and falls on every other one of the 100 Hz recording.
    replayed = recording.samples[::2]
    assert archived.shape == replayed.shape == (math.ceil(len(readings) / 2), 6)  # nothing lost, nothing twice
    np.testing.assert_allclose(archived, replayed, atol=1e-4)


def test_what_a_reloaded_page_kept_is_sent_when_it_opens_again(user, browser, web_server, static_files):
    readings = browser_readings(read_gym_csv(shared_data(PREACHER_CURLS)).samples[:1000])  # 10 s at 100 Hz
    page = logged_in(browser, web_server.http_url, "athlete", "pw-athlete-1", viewport=PHONE, then="/record/")
    server_answers = False  # until the page is reloaded, its connections reach a server that never answers
    page.route_web_socket("**/ws/ingest/**", lambda connection: connection.connect_to_server() if server_answers else None)
    page.get_by_role("button", name="Create device").click()
    page.get_by_role("button", name="Start").click()
    page.evaluate(DISPATCH, [readings, 1000, 10])
    page.wait_for_selector("#waiting:has-text('10 s')")

    server_answers = True
    page.reload()  # the athlete reloads the page (or the phone's browser restarts it) before any of it was sent
    page.wait_for_selector("#uplink:has-text('saved')", timeout=30_000)
    assert page.evaluate(FRAMES_KEPT_ON_THE_PHONE) == 0
    stored = Recording.objects.get(owner=user)
    assert stored.status == Recording.Status.ENDED and stored.read_samples().shape == (500, 6)
