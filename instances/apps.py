from __future__ import annotations

from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = "Cloud Elements"
    default_auto_field = "django.db.models.BigAutoField"
