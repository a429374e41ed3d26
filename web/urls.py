from django.urls import path

from web.views import accounts, devices, labelling, memory, progress, record, search, transfer, workouts

urlpatterns = [
    path("", workouts.journal, name="journal"),
    path("workouts/<uuid:recording_id>/", workouts.workout, name="workout"),
    path("workouts/<uuid:recording_id>/signal.svg", workouts.signal_svg, name="workout-signal"),
    path("workouts/<uuid:recording_id>/notes", workouts.notes, name="workout-notes"),
    path("workouts/<uuid:recording_id>/live/", workouts.live, name="live"),
    path("live/", workouts.live, name="live-newest"),
    path("record/", record.record, name="record"),
    path("sets/<int:set_id>/edit", workouts.edit_set, name="set-edit"),
    path("sets/<int:set_id>/name", workouts.name_set, name="set-name"),
    path("sets/<int:set_id>/split", workouts.split_set, name="set-split"),
    path("sets/<int:set_id>/merge", workouts.merge_set, name="set-merge"),
    path("sets/<int:set_id>/delete", workouts.delete_set, name="set-delete"),
    path("search/", search.search, name="search"),
    path("progress/", progress.progress, name="progress"),
    path("memory/", memory.memory, name="memory"),
    path("memory/reset", memory.reset, name="memory-reset"),
    path("devices/", devices.devices, name="devices"),
    path("devices/<int:device_id>/rename", devices.rename, name="device-rename"),
    path("devices/<int:device_id>/revoke", devices.revoke, name="device-revoke"),
    path("import/", transfer.import_recording, name="import"),
    path("export.csv", transfer.export_csv, name="export"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("label/<uuid:recording_id>/", labelling.label, name="label"),
    path("label/models/<int:version_id>/confusion.png", labelling.model_confusion, name="model-confusion"),
]
