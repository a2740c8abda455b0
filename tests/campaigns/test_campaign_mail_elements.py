"""A campaign's e-mail names the accounts' service: Box for Box instances, none when mixed."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone

from instances.campaigns import mail
from instances.campaigns.models import Campaign
from instances.elements.models import ListedElement

pytestmark = pytest.mark.django_db


def _recipient(name: str, element_key: str) -> SimpleNamespace:
    link = SimpleNamespace(
        get_absolute_url=lambda: f"https://dash.example.com/connect/{name}",
        expires_at=datetime(2026, 12, 24, 12, 0, tzinfo=UTC),
    )
    return SimpleNamespace(instance=SimpleNamespace(name=name, element_key=element_key), link=link)


def _compose(*recipients):
    campaign = SimpleNamespace(purpose=Campaign.Purpose.REAUTHORIZE, message="")
    mailing = SimpleNamespace(name="Bob", round=0, email="bob@customer.example")
    return mail.compose(campaign, mailing, list(recipients))


def test_the_mail_names_the_service_of_its_accounts(settings):
    settings.CONSENT_ORGANIZATION_NAME = "Acme"
    ListedElement.objects.create(key="box", name="Box", listed_at=timezone.now())

    one = _compose(_recipient("Legal Box", "box"))
    assert one.subject == "Acme: please reconnect your Box account"
    assert "reconnect your Box account." in one.body and "continue to Box and" in one.body

    two = _compose(_recipient("Legal Box", "box"), _recipient("HR Box", "box"))
    assert two.subject == "Acme: please reconnect your 2 Box accounts"

    mixed = _compose(_recipient("Legal Box", "box"), _recipient("Finance", "dropbox"))
    assert mixed.subject == "Acme: please reconnect your 2 accounts"
    assert "reconnect these 2 accounts." in mixed.body
    assert "continue to the service and allow access" in mixed.body
    assert "Dropbox" not in mixed.body
