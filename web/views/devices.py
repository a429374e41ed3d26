"""The athlete's watches: add one (its token shown once, with the WebSocket URL to give the
watch app), rename, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ingest.models import Device, Placement
from ingest.push_door import PUSH_PATH
from web.forms import SIDE_CHOICES, DeviceForm


def ingest_url(request) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/ingest/"


def push_url(request, token: str) -> str:
    """What Sensor Logger's HTTP Push field takes: the token rides in the URL."""
    return request.build_absolute_uri(f"/{PUSH_PATH}?token={token}")


@login_required
def devices(request):
    context = {"devices": Device.objects.filter(owner=request.user).order_by("revoked_at", "name"),
               "form": DeviceForm(), "ingest_url": ingest_url(request),
               "side_choices": SIDE_CHOICES, "placement_choices": Placement.choices}
    if request.method == "POST":
        form = DeviceForm(request.POST)
        if form.is_valid():
            # Rendered, not redirected: the token must not travel in a URL or be stored anywhere.
            device, token = Device.create_with_token(owner=request.user, **form.cleaned_data)
            context.update(new_device=device, token=token, push_url=push_url(request, token))
        else:
            context["form"] = form
    return render(request, "web/devices.html", context)


@login_required
@require_POST
def rename(request, device_id):
    device = get_object_or_404(Device, pk=device_id, owner=request.user)
    form = DeviceForm(request.POST, instance=device)
    if form.is_valid():
        form.save()
        messages.success(request, f"“{device.name}” saved: {device.get_placement_display().lower()}"
                                  f"{', ' + device.side + ' arm' if device.side else ', arm not said'}.")
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect("devices")


@login_required
@require_POST
def revoke(request, device_id):
    device = get_object_or_404(Device, pk=device_id, owner=request.user)
    if device.revoked_at is None:
        device.revoke()
    messages.success(request, f"“{device.name}” is revoked: its token no longer connects. Recordings it made stay.")
    return redirect("devices")
