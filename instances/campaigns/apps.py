from __future__ import annotations

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "instances.campaigns"
    label = "campaigns"
    verbose_name = "Re-consent campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The job engine runs a campaign through this package's runner, and the consent links
        # tell it what their owners do (neither lower package may import this one).
        from instances.campaigns import run, tracking
        from instances.jobs import engine
        from instances.jobs.models import Job
        from instances.links.signals import link_event

        engine.RUNNERS[Job.Kind.CAMPAIGN] = run.run_campaign
        link_event.connect(tracking.on_link_event, dispatch_uid="campaigns.tracking")
