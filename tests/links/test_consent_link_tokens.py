"""A consent link's token: 256 random bits, stored only as a hash (and encrypted), never logged.

Every link gets a new token, and a new link revokes the instance's open one; a link expires after
CONSENT_LINK_DAYS. Only oauth2 instances that can still be authorized get a link. The token is
redacted from any log line that carries the link's path.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from instances.lib.logging import RedactSecretsFilter
from instances.links import services as links
from instances.links.models import ConsentLink
from tests.links.link_helpers import Status, path

pytestmark = pytest.mark.django_db


# --- The token --------------------------------------------------------------------------------


def test_the_token_has_256_bits_and_only_its_hash_finds_the_link(link):
    token = link.token
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert links.find_link(token).pk == link.pk
    with pytest.raises(links.LinkGone) as error:
        links.find_link(link.token_hash)
    assert error.value.status == 404


def test_no_column_holds_the_token_in_clear(link):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM instances_consentlink WHERE id = %s", [link.pk])
        row = cursor.fetchone()
    assert all(link.token not in str(value) for value in row)
    # Encrypted (for "Copy link again"), not merely absent.
    assert ConsentLink.objects.get(pk=link.pk).token == link.token


def test_every_link_gets_a_new_token(draft, operator):
    tokens = {links.make_link(instance=draft, actor=operator).token for _ in range(3)}
    assert len(tokens) == 3


def test_a_new_link_revokes_the_old_one(draft, operator, link):
    newer = links.make_link(instance=draft, actor=operator)

    assert ConsentLink.objects.get(pk=link.pk).revoked_at is not None
    assert list(draft.consent_links.open()) == [newer]
    with pytest.raises(links.LinkGone) as error:
        links.find_link(link.token)
    assert (error.value.reason, error.value.status) == ("revoked", 410)


def test_the_link_expires_after_the_configured_days(settings, draft, operator):
    settings.CONSENT_LINK_DAYS = 3
    link = links.make_link(instance=draft, actor=operator)
    assert abs(link.expires_at - (timezone.now() + timedelta(days=3))) < timedelta(minutes=1)


def test_an_api_key_instance_or_an_unknown_one_gets_no_link(make_instance, operator):
    api_key = make_instance("Key", authentication_type="apiKey", api_key="k" * 20)
    unknown = make_instance("Unknown", status=Status.UNKNOWN)
    for instance in (api_key, unknown):
        with pytest.raises(links.ActionError):
            links.make_link(instance=instance, actor=operator)
    assert not ConsentLink.objects.exists()


# --- Logs -----------------------------------------------------------------------------------------


def test_the_token_never_reaches_a_log_line(link):
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" 200 1234',
        (f"GET {path(link)} HTTP/1.1",),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert link.token not in record.getMessage()
    assert "/connect/[redacted]/" in record.getMessage()
