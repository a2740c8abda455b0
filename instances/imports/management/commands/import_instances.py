"""Import every instance of the Cloud Elements account that is not here yet."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from instances.imports import scan
from instances.jobs import engine
from instances.jobs.models import Job


class Command(BaseCommand):
    help = (
        "Import from Cloud Elements: read every instance of the account (page by page) and "
        "create a local row for each one not known here. Runs here and prints the result; "
        "--queue leaves it to the task worker instead. Nothing is sent to Cloud Elements."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--queue", action="store_true", help="Queue the job for the worker and return."
        )

    def handle(self, *args, queue: bool, **options) -> None:
        job = scan.start(kind=Job.Kind.IMPORT, actor=None, enqueue=queue)
        if queue:
            self.stdout.write(f"Queued job {job.pk}: {job.get_absolute_url()}")
            return
        outcome = engine.run_job(job.pk)
        job.refresh_from_db()
        summary = job.summary
        line = (
            f"Job {job.pk} {job.get_status_display().lower()}: {summary.get('listed', 0)} at "
            f"Cloud Elements, {summary.get('imported', 0)} imported, {summary.get('known', 0)} "
            f"already here, {summary.get('skipped', 0)} skipped."
        )
        if outcome == "not claimed":
            raise CommandError(f"Job {job.pk} is already running in a worker; see its page.")
        if job.status == Job.Status.FAILED:
            raise CommandError(f"{line} {job.error}")
        self.stdout.write(line)
