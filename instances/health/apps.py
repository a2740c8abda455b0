from __future__ import annotations

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "instances.health"
    label = "health"
    verbose_name = "Health"
    default_auto_field = "django.db.models.BigAutoField"
