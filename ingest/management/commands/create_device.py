from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ingest.models import Device


class Command(BaseCommand):
    help = "Register a watch for a user and print its token (shown this once; stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of the owner")
        parser.add_argument("--name", required=True, help="a name for the watch, e.g. 'Left wrist'")

    def handle(self, *args, user, name, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {user!r}") from None
        device, token = Device.create_with_token(owner=owner, name=name)
        self.stdout.write(f"Device {device.name!r} (id {device.pk}) for {owner.username}.\n"
                          f"Token (copy it now, it is not shown again):\n{token}")
