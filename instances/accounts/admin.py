"""Two-factor devices in the admin: a superuser resets a lost authenticator by deleting it; no
page shows a seed or a recovery code (they are encrypted and hashed anyway)."""

from __future__ import annotations

import contextlib

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from instances.accounts.models import Authenticator, RecoveryCodes

# django-otp's own devices keep secrets in clear: none is made any more (their rows moved to
# the encrypted ones), and the admin does not offer to add one.
for model in (TOTPDevice, StaticDevice):
    with contextlib.suppress(NotRegistered):
        admin.site.unregister(model)


class DeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "confirmed")
    list_filter = ("confirmed",)
    search_fields = ("user__username", "name")
    fields = ("user", "name", "confirmed")
    readonly_fields = ("user", "name", "confirmed")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Authenticator)
class AuthenticatorAdmin(DeviceAdmin):
    pass


@admin.register(RecoveryCodes)
class RecoveryCodesAdmin(DeviceAdmin):
    list_display = (*DeviceAdmin.list_display, "unused")
    fields = (*DeviceAdmin.fields, "unused")
    readonly_fields = (*DeviceAdmin.readonly_fields, "unused")

    @admin.display(description="unused codes")
    def unused(self, obj: RecoveryCodes) -> int:
        return obj.codes.count()
