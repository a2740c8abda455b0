"""The parameter table sends the reader to "the API Provider Setup section": the form links it
to a page that says how to register the Dropbox app, with this dashboard's own redirect URI and
the webhook URI to enter. Issue 26, item 12."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_help_texts_that_name_the_setup_link_to_it(client, operator):
    client.force_login(operator)

    form = client.get(reverse("instances:new")).content.decode()

    link = f'<a href="{reverse("instances:setup")}" target="_blank" rel="noopener">'
    assert form.count("API Provider Setup") == form.count(link) >= 3


def test_the_setup_page_gives_the_addresses_to_register(client, operator, settings):
    settings.SITE_URL = "https://dash.example"
    settings.CLOUD_ELEMENTS_BASE_URL = "https://api.cloud-elements.com/elements/api-v2"
    client.force_login(operator)

    page = client.get(reverse("instances:setup")).content.decode()

    assert "https://dash.example/instances/oauth/callback/" in page
    assert "https://api.cloud-elements.com/elements/api-v2/events/dropbox" in page
    assert "App key and App secret" in page


def test_the_setup_page_is_for_signed_in_staff(client):
    response = client.get(reverse("instances:setup"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
