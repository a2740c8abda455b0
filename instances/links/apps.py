from __future__ import annotations

from django.apps import AppConfig


class LinksConfig(AppConfig):
    name = "instances.links"
    label = "links"
    verbose_name = "Consent links"
    default_auto_field = "django.db.models.BigAutoField"
