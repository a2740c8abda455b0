from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "instances.jobs"
    label = "jobs"
    verbose_name = "Jobs and schedules"
    default_auto_field = "django.db.models.BigAutoField"
