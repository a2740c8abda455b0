from __future__ import annotations

from django.apps import AppConfig


class ElementsConfig(AppConfig):
    name = "instances.elements"
    label = "elements"
    verbose_name = "Elements"
    default_auto_field = "django.db.models.BigAutoField"
