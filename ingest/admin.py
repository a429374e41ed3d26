from django.contrib import admin, messages
from django.db.models import Count, Max, Sum

from ingest.models import Device, Recording


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "token_prefix", "created_at", "last_seen_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "owner__username", "token_prefix"]
    readonly_fields = ["token_prefix", "created_at", "last_seen_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["owner", "name"] if obj is None else super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        device, token = Device.create_with_token(owner=obj.owner, name=obj.name)
        obj.pk = device.pk
        # The only time the token is shown: it is stored hashed.
        self.message_user(request, f"Token for {device.name} (copy it now, it is not shown again): {token}",
                          messages.WARNING)

    @admin.action(description="Revoke the selected devices' tokens")
    def revoke(self, request, queryset):
        for device in queryset.filter(revoked_at__isnull=True):
            device.revoke()


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "device", "started_at", "status", "source", "rate_hz", "frames", "samples", "next_seq"]
    list_filter = ["status", "source"]
    search_fields = ["id", "owner__username", "device__name"]
    date_hierarchy = "started_at"
    readonly_fields = ["id", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "device").annotate(
            frame_count=Count("frames"), sample_count=Sum("frames__n_samples"), last_seq=Max("frames__seq")
        )

    @admin.display(ordering="frame_count")
    def frames(self, recording):
        return recording.frame_count

    @admin.display(ordering="sample_count")
    def samples(self, recording):
        return recording.sample_count or 0

    @admin.display(description="next seq")
    def next_seq(self, recording):
        return 0 if recording.last_seq is None else recording.last_seq + 1
