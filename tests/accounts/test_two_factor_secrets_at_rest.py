"""A database backup does not hand over anyone's second factor: the TOTP seed is encrypted with
the field keys (and rotated with them), recovery codes are kept as keyed hashes, and devices made
before this are moved there by the migration. Read with raw SQL, as a backup would be."""

from __future__ import annotations

import re
from base64 import b32encode

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils.crypto import salted_hmac

from instances.accounts.models import Authenticator, RecoveryCodes
from tests.conftest import PASSWORD
from tests.two_factor_helpers import VERIFY, enrol, log_in, totp_code


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _everything_stored() -> str:
    tables = [
        "accounts_authenticator",
        "accounts_recoverycodes",
        "accounts_recoverycode",
        "otp_totp_totpdevice",
        "otp_static_staticdevice",
        "otp_static_statictoken",
    ]
    return repr([_rows(f"SELECT * FROM {table}") for table in tables])  # noqa: S608


@pytest.mark.django_db
def test_no_seed_nor_recovery_code_is_readable_in_the_database(client, operator, settings):
    client.force_login(operator)
    device, codes = enrol(client)
    seed_hex = device.key
    seed_b32 = b32encode(device.bin_key).decode()

    stored = _everything_stored()

    assert seed_hex not in stored and seed_b32 not in stored
    assert not any(code in stored for code in codes)
    [(raw_key,)] = _rows("SELECT key FROM accounts_authenticator")
    assert raw_key.startswith("gAAAAA")  # a Fernet token
    # They still work: a code from the app, then a recovery code, once.
    client.logout()
    log_in(client, "alice", PASSWORD)
    assert (
        client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})["Location"] == "/instances/"
    )
    client.logout()
    log_in(client, "alice", PASSWORD)
    assert client.post(VERIFY, {"code": codes[3]})["Location"] == "/instances/"
    # rotate_field_keys re-encrypts the seed with the newest key; it still verifies.
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    call_command("rotate_field_keys")
    [(rotated,)] = _rows("SELECT key FROM accounts_authenticator")
    assert rotated != raw_key
    assert Authenticator.objects.get().key == seed_hex


@pytest.mark.django_db(transaction=True)
def test_devices_made_before_move_encrypted_and_hashed(django_user_model):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [("accounts", None)]
    try:
        MigrationExecutor(connection).migrate(before)
        from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
        from django_otp.plugins.otp_totp.models import TOTPDevice

        user = django_user_model.objects.create_user("early", password="x")
        old = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
        static = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        StaticToken.objects.create(device=static, token="abcd2345")
        seed = old.key
    finally:
        MigrationExecutor(connection).migrate(latest)

    stored = _everything_stored()
    assert seed not in stored and "abcd2345" not in stored
    moved = Authenticator.objects.get(user=user)
    assert (moved.key, moved.name, moved.confirmed) == (seed, "Phone", True)
    codes = RecoveryCodes.objects.get(user=user)
    digest = salted_hmac("instances.accounts.recovery-code", "abcd2345", algorithm="sha256")
    assert list(codes.codes.values_list("digest", flat=True)) == [digest.hexdigest()]
    assert codes.verify_token("abcd2345") and not codes.verify_token("abcd2345")
    assert re.fullmatch(r"[0-9a-f]{40}", seed)
