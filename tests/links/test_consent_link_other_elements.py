"""The owner's page of a consent link names the instance's element (Box, not Dropbox)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from instances.elements.models import ListedElement
from instances.links import services as links
from tests.links.link_helpers import path

pytestmark = pytest.mark.django_db


def test_a_box_link_asks_for_the_box_account(client, make_instance, operator):
    ListedElement.objects.create(key="box", name="Box", listed_at=timezone.now())
    box = make_instance("Legal Box", element_key="box")
    link = links.make_link(instance=box, actor=operator, note="")

    body = client.get(path(link)).content.decode()

    assert "connect your Box account to" in body
    assert "Continue to Box</button>" in body and "never sees your Box password" in body
    assert "Dropbox" not in body and "Connected apps" not in body


def test_a_dropbox_link_keeps_its_words(client, link):
    body = client.get(path(link)).content.decode()

    assert "the files and folders in that Dropbox account" in body
    assert "under <em>Connected apps</em>" in body and "Continue to Dropbox</button>" in body
