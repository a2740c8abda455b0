"""Two-factor devices whose secrets a database backup does not give away.

django-otp's own TOTP device keeps the seed in clear and its static device the recovery codes as
typed. These are django-otp devices too (found by `devices_for_user`, throttled the same way),
but the seed is encrypted with FIELD_ENCRYPTION_KEYS (and rotated by `rotate_field_keys`) and
each recovery code is kept as a keyed hash (HMAC with SECRET_KEY, its fallbacks still accepted).
"""

from __future__ import annotations

import secrets
import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.models import Device, ThrottlingMixin
from django_otp.oath import TOTP

from instances.lib.fields import EncryptedTextField

SEED_BYTES = 20
RECOVERY_SALT = "instances.accounts.recovery-code"


def new_seed() -> str:
    return secrets.token_hex(SEED_BYTES)


class Authenticator(ThrottlingMixin, Device):
    """A TOTP authenticator app (RFC 6238: 30-second steps, six digits, SHA-1)."""

    key = EncryptedTextField(default=new_seed, help_text="The seed, hex, encrypted at rest.")
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    # The last time step a code was accepted for: a code works once.
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "authenticator"

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    @property
    def config_url(self) -> str:
        """The otpauth:// URL an authenticator app scans (shown once, as a QR code)."""
        issuer = settings.OTP_TOTP_ISSUER.replace(":", "")
        label = f"{issuer}:{self.user.get_username()}" if issuer else self.user.get_username()
        query = {
            "secret": b32encode(self.bin_key).decode(),
            "algorithm": "SHA1",
            "digits": self.digits,
            "period": self.step,
        }
        if issuer:
            query["issuer"] = issuer
        return f"otpauth://totp/{quote(label)}?{urlencode(query, quote_via=quote)}"

    def get_throttle_factor(self) -> int:
        return 1

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            number = int(token)
        except (TypeError, ValueError):
            number = None
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        if number is not None and totp.verify(number, self.tolerance, self.last_t + 1):
            self.last_t = totp.t()
            self.throttle_reset(commit=False)
            self.save()
            return True
        self.throttle_increment(commit=True)
        return False


def recovery_digest(code: str, *, secret: str | None = None) -> str:
    return salted_hmac(RECOVERY_SALT, code, secret=secret, algorithm="sha256").hexdigest()


class RecoveryCodes(ThrottlingMixin, Device):
    """Single-use recovery codes, each kept only as a keyed hash."""

    class Meta(Device.Meta):
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def get_throttle_factor(self) -> int:
        return 1

    def add(self, codes: list[str]) -> None:
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=self, digest=recovery_digest(code)) for code in codes
        )

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        candidates = [
            recovery_digest(str(token), secret=key)
            for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        ]
        for code in self.codes.all():
            if any(constant_time_compare(code.digest, digest) for digest in candidates):
                code.delete()  # single use
                self.throttle_reset()
                return True
        self.throttle_increment()
        return False


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodes, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"recovery code of {self.device}"
