"""Two-factor authentication with django-otp: one TOTP authenticator and recovery codes per user.

An enrolled user has a confirmed Authenticator (its seed encrypted) and RecoveryCodes (each code
kept as a keyed hash), both django-otp devices (models.py). Both keep django-otp's throttling:
each wrong code doubles the wait before the next try.
"""

from __future__ import annotations

import re
from base64 import b32encode
from dataclasses import dataclass

import segno
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticToken

from instances.accounts.models import Authenticator, RecoveryCode, RecoveryCodes

RECOVERY_CODE_COUNT = 10
TOTP_CODE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class CodeCheck:
    device: Device | None
    error: str = ""
    throttled: bool = False


def has_authenticator(user) -> bool:
    """Whether the user must give a code at sign-in (has a confirmed device)."""
    return user.is_authenticated and user_has_device(user, confirmed=True)


def start_enrolment(*, user) -> Authenticator:
    """Return the user's unconfirmed authenticator, creating it on first visit.

    The same secret is kept across reloads, so a QR code already scanned stays valid.
    """
    device = Authenticator.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or Authenticator.objects.create(user=user, name="Authenticator", confirmed=False)


def secret_text(device: Authenticator) -> str:
    """The TOTP secret in base32, in groups of four, for typing into an authenticator app."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_data_uri(device: Authenticator) -> str:
    """The otpauth:// URL as an SVG QR code in a data: URI (made here; no script, no CDN)."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def normalize(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def confirm_enrolment(*, user, device: Authenticator, code: str) -> tuple[CodeCheck, list[str]]:
    """Confirm the authenticator with a code it shows; return fresh recovery codes.

    Every other device of the user (an earlier authenticator, old recovery codes) is removed.
    """
    with transaction.atomic():
        device = Authenticator.objects.select_for_update().get(pk=device.pk, user=user)
        check = _check(device, normalize(code))
        if check.device is None:
            return check, []
        Authenticator.objects.filter(user=user).exclude(pk=device.pk).delete()
        RecoveryCodes.objects.filter(user=user).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = make_recovery_codes(user=user)
    return check, codes


def make_recovery_codes(*, user) -> list[str]:
    """Replace the user's recovery codes with new ones, returned once to be shown once."""
    RecoveryCodes.objects.filter(user=user).delete()
    device = RecoveryCodes.objects.create(user=user, name="Recovery codes", confirmed=True)
    # django-otp's own generator: eight base32 characters, typed without case.
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    device.add(codes)
    return codes


def verify_code(*, user, code: str) -> CodeCheck:
    """Check a sign-in code: six digits go to the authenticator, anything else is a recovery
    code. Only the device the code is meant for counts a failure, so that a mistyped recovery
    code does not slow down the authenticator."""
    code = normalize(code)
    model = Authenticator if TOTP_CODE.fullmatch(code) else RecoveryCodes
    with transaction.atomic():
        devices = [d for d in devices_for_user(user, for_verify=True) if isinstance(d, model)]
        if not devices:
            return CodeCheck(None, "That code is not valid.")
        checks = [_check(device, code) for device in devices]
    return next((c for c in checks if c.device), checks[0])


def remaining_recovery_codes(user) -> int:
    return RecoveryCode.objects.filter(device__user=user, device__confirmed=True).count()


def remove_authenticators(*, user) -> None:
    """Turn two-factor authentication off for the user (all devices and recovery codes)."""
    Authenticator.objects.filter(user=user).delete()
    RecoveryCodes.objects.filter(user=user).delete()


def _check(device: Device, code: str) -> CodeCheck:
    allowed, detail = device.verify_is_allowed()
    if not allowed:
        seconds = 1
        if detail and detail.get("locked_until"):
            seconds = max(1, int((detail["locked_until"] - timezone.now()).total_seconds()) + 1)
        return CodeCheck(
            None,
            f"Wait {seconds} second{'s' if seconds != 1 else ''} before the next code: each "
            "wrong code makes the wait longer.",
            throttled=True,
        )
    if device.verify_token(code):
        return CodeCheck(device)
    if isinstance(device, RecoveryCodes):
        return CodeCheck(
            None, "That recovery code is not valid: each one works once. Try another one."
        )
    return CodeCheck(None, "That code is not valid. Check your authenticator app and try again.")
