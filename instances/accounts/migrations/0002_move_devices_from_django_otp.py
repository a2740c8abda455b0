"""Existing devices move to the encrypted ones: each TOTP seed is encrypted on the way (the field
does it), each recovery code becomes its keyed hash, and the clear rows are deleted."""

from django.db import migrations
from django.utils.crypto import salted_hmac

RECOVERY_SALT = "instances.accounts.recovery-code"  # as in instances/accounts/models.py


def move(apps, schema_editor):
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    StaticDevice = apps.get_model("otp_static", "StaticDevice")
    Authenticator = apps.get_model("accounts", "Authenticator")
    RecoveryCodes = apps.get_model("accounts", "RecoveryCodes")
    RecoveryCode = apps.get_model("accounts", "RecoveryCode")
    throttling = ("throttling_failure_timestamp", "throttling_failure_count")
    for old in TOTPDevice.objects.all():
        Authenticator.objects.create(
            user_id=old.user_id,
            name=old.name,
            confirmed=old.confirmed,
            key=old.key,
            step=old.step,
            t0=old.t0,
            digits=old.digits,
            tolerance=old.tolerance,
            drift=old.drift,
            last_t=old.last_t,
            **{field: getattr(old, field) for field in throttling},
        )
    for old in StaticDevice.objects.all():
        new = RecoveryCodes.objects.create(
            user_id=old.user_id,
            name=old.name,
            confirmed=old.confirmed,
            **{field: getattr(old, field) for field in throttling},
        )
        tokens = apps.get_model("otp_static", "StaticToken").objects.filter(device=old)
        RecoveryCode.objects.bulk_create(
            RecoveryCode(
                device=new,
                digest=salted_hmac(RECOVERY_SALT, t.token, algorithm="sha256").hexdigest(),
            )
            for t in tokens
        )
    TOTPDevice.objects.all().delete()
    StaticDevice.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_encrypted_two_factor_devices"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(move, migrations.RunPython.noop)]
