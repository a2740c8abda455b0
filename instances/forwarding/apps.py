from __future__ import annotations

from django.apps import AppConfig


class ForwardingConfig(AppConfig):
    name = "instances.forwarding"
    label = "forwarding"
    verbose_name = "Forwarding to your app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The job engine runs a replay through this package's runner (the engine cannot import
        # it: this package builds on the jobs one).
        from instances.forwarding import replay
        from instances.jobs import engine
        from instances.jobs.models import Job

        engine.RUNNERS[Job.Kind.REPLAY] = replay.run_replay
