from __future__ import annotations

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "instances.events"
    label = "events"
    verbose_name = "Event notifications"
    default_auto_field = "django.db.models.BigAutoField"
