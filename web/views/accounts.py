"""Sign up; log in, out and password changes are Django's own views (config/urls.py)."""

from django.contrib.auth import login
from django.shortcuts import redirect, render

from web.forms import SignupForm


def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect("devices")  # the next step: add a watch
    return render(request, "registration/signup.html", {"form": form})
