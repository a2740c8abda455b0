from __future__ import annotations

from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "instances.imports"
    label = "imports"
    verbose_name = "Import from Cloud Elements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The job engine runs account scans through this package's runner (the engine cannot
        # import it: this package builds on the jobs one).
        from instances.imports import scan
        from instances.jobs import engine
        from instances.jobs.models import Job

        engine.RUNNERS[Job.Kind.IMPORT] = scan.run_scan
        engine.RUNNERS[Job.Kind.DISCOVER] = scan.run_scan
