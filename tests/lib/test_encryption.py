"""Secrets at rest: ciphertext only, rotation, and loud failure on a wrong key."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from instances.lib.fields import DecryptionError
from instances.models import ElementInstance

SECRET = "app-secret-plaintext-0042"
SIGNING = "signing-key-plaintext-0043"
TOKEN = "instance-token-plaintext-0044"


def raw_row(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def stored(make_instance) -> ElementInstance:
    instance = make_instance(oauth_api_secret=SECRET, remote_token=TOKEN)
    instance.webhook.signature_key = SIGNING
    instance.webhook.save()
    return instance


def test_encrypted_columns_hold_no_plaintext(stored):
    secret = raw_row("instances_elementinstance", "oauth_api_secret", stored.pk)
    token = raw_row("instances_elementinstance", "remote_token", stored.pk)
    signing = raw_row("instances_webhooksettings", "signature_key", stored.webhook.pk)
    for raw, plain in [(secret, SECRET), (token, TOKEN), (signing, SIGNING)]:
        assert raw.startswith("gAAAAA")
        assert plain not in raw


def test_secrets_read_back_as_plaintext(stored):
    fresh = ElementInstance.objects.select_related("webhook").get(pk=stored.pk)
    assert fresh.oauth_api_secret == SECRET
    assert fresh.remote_token == TOKEN
    assert fresh.webhook.signature_key == SIGNING


def test_a_new_first_key_still_decrypts_rows_written_with_the_old_one(stored, settings):
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    assert ElementInstance.objects.get(pk=stored.pk).oauth_api_secret == SECRET


def test_a_wrong_key_fails_loudly_and_never_returns_ciphertext(stored, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
        ElementInstance.objects.get(pk=stored.pk)


def test_rotation_re_encrypts_so_the_old_key_can_be_dropped(stored, settings):
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    new = Fernet.generate_key().decode()
    before = raw_row("instances_elementinstance", "oauth_api_secret", stored.pk)
    settings.FIELD_ENCRYPTION_KEYS = [new, *old]
    call_command("rotate_field_keys", stdout=io.StringIO())
    after = raw_row("instances_elementinstance", "oauth_api_secret", stored.pk)
    assert after != before
    settings.FIELD_ENCRYPTION_KEYS = [new]
    fresh = ElementInstance.objects.select_related("webhook").get(pk=stored.pk)
    assert (fresh.oauth_api_secret, fresh.remote_token, fresh.webhook.signature_key) == (
        SECRET,
        TOKEN,
        SIGNING,
    )


def test_empty_secrets_stay_empty(make_instance):
    instance = make_instance(oauth_api_secret="")
    assert raw_row("instances_elementinstance", "oauth_api_secret", instance.pk) == ""
    assert ElementInstance.objects.get(pk=instance.pk).oauth_api_secret == ""


def test_rotation_never_overwrites_a_secret_changed_meanwhile(stored, settings, monkeypatch):
    from instances.management.commands import rotate_field_keys

    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    real_rotate = rotate_field_keys.rotate

    def rotate_while_an_operator_saves(token):
        fresh = ElementInstance.objects.get(pk=stored.pk)
        fresh.oauth_api_secret = "changed-during-rotation"
        fresh.save(update_fields=["oauth_api_secret"])
        return real_rotate(token)

    monkeypatch.setattr(rotate_field_keys, "rotate", rotate_while_an_operator_saves)
    call_command("rotate_field_keys", stdout=io.StringIO())
    assert ElementInstance.objects.get(pk=stored.pk).oauth_api_secret == "changed-during-rotation"
