"""Encrypted model fields (Fernet, keyed by FIELD_ENCRYPTION_KEYS, not by SECRET_KEY)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any of FIELD_ENCRYPTION_KEYS."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def get_fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return get_fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return get_fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # Never fall back to returning the ciphertext: it would be shown or sent as the secret.
        raise DecryptionError(
            "A stored secret could not be decrypted: FIELD_ENCRYPTION_KEYS does not hold the "
            "key it was encrypted with."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a stored value with the first key."""
    try:
        return get_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored secret could not be decrypted for rotation.") from None


class EncryptedTextField(models.TextField):
    """A text field stored as a Fernet token. The empty string is stored as is (no secret)."""

    description = "Text encrypted at rest"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_lookup(self, lookup_name):
        # Ciphertexts are randomised, so only emptiness can be looked up.
        if lookup_name not in {"isnull", "exact"}:
            return None
        return super().get_lookup(lookup_name)
