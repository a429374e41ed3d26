"""The recorder: a phone in an armband or in the hand streams its own motion to the journal,
as a watch would (protocol v1, web/static/web/record.js). The page makes the phone a device
with one tap; its token goes to the page's script once, which keeps it on the phone."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ingest.models import Device, Placement
from web.forms import DeviceForm
from web.views.devices import ingest_url

# Checked in this order: Edge, Samsung's and Firefox's user agents also name Chrome or Safari.
BROWSERS = (("EdgA?/", "Edge"), ("SamsungBrowser/", "Samsung Internet"), ("Firefox/|FxiOS/", "Firefox"),
            ("Chrome/|CriOS/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
           ("Mac OS X", "macOS"), ("Linux", "Linux"))


def phone_name(user_agent: str) -> str:
    """A device name the athlete recognises on the Devices page: "This phone (Chrome on Android)"."""
    browser = next((name for pattern, name in BROWSERS if re.search(pattern, user_agent)), "a browser")
    system = next((name for pattern, name in SYSTEMS if pattern in user_agent), None)
    return f"This phone ({browser} on {system})" if system else f"This phone ({browser})"


@login_required
def record(request):
    context = {"ingest_url": ingest_url(request)}
    if request.method == "POST":
        form = DeviceForm(request.POST)
        if form.is_valid():
            # Rendered, not redirected: the token must not travel in a URL; the script stores it on the phone.
            device, token = Device.create_with_token(owner=request.user, **form.cleaned_data)
            context.update(new_device={"name": device.name, "token": token})
    else:
        form = DeviceForm(initial={"name": phone_name(request.headers.get("User-Agent", "")), "placement": Placement.UPPER_ARM})
    return render(request, "web/record.html", {**context, "form": form})
