"""Fill the sandbox account with demo instances (then import them: Import from Cloud Elements)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from instances.sandbox.seed import seed


class Command(BaseCommand):
    help = (
        "Add N instances (several per customer, tagged, some invalid, disabled or sending "
        "events elsewhere) and M events to the sandbox's Cloud Elements account."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--instances", type=int, required=True, metavar="N")
        parser.add_argument("--events", type=int, default=0, metavar="M")
        parser.add_argument(
            "--seed", type=int, default=20, dest="random_seed", help="Random seed (default 20)."
        )

    def handle(self, *args, instances: int, events: int, random_seed: int, **options) -> None:
        if instances < 0 or events < 0:
            raise CommandError("--instances and --events must be 0 or more.")
        made, logged = seed(instances=instances, events=events, seed=random_seed)
        self.stdout.write(
            f"The sandbox account now has {made} more instances and {logged} more events. "
            "Import them with Import from Cloud Elements (or manage.py import_instances)."
        )
