from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "instances.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox (offline Cloud Elements and Dropbox)"
    default_auto_field = "django.db.models.BigAutoField"
