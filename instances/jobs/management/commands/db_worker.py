"""`manage.py db_worker`: django-tasks-db's worker, which survives a database outage.

The jobs app comes before django_tasks_db in INSTALLED_APPS, so this command is the one
`db_worker` runs (Procfile, README). Its options are django-tasks-db's.
"""

from __future__ import annotations

from django_tasks_db.management.commands import db_worker

from instances.jobs.outage import CONNECTION_ERRORS, wait_for_database


class ResilientWorker(db_worker.Worker):
    def run(self) -> None:
        while True:
            try:
                return super().run()
            except CONNECTION_ERRORS as error:
                if not wait_for_database(
                    error, who="task worker", keep_waiting=lambda: self.running
                ):
                    return None


class Command(db_worker.Command):
    help = "Run a database background worker (and wait out database outages)."

    def handle(self, *args, **options) -> None:
        original = db_worker.Worker
        db_worker.Worker = ResilientWorker
        try:
            super().handle(*args, **options)
        finally:
            db_worker.Worker = original
