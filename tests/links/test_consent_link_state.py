"""The OAuth state of a consent link is bound to the owner's browser and to the link's flow.

A state issued by a link completes only in the browser that started it, only through the link
flow, and the operator's state only through the operator's flow, which still needs a login at
the callback.
"""

from __future__ import annotations

import pytest
from django.test import Client

from instances import oauth
from instances.links import services as links
from instances.models import OAuthState
from tests.links.link_helpers import CALLBACK, Status, continue_to_dropbox, reloaded

pytestmark = pytest.mark.django_db


# --- The state's binding ------------------------------------------------------------------------


def test_a_link_state_from_one_browser_cannot_complete_in_another(client, link, remote):
    state = continue_to_dropbox(client, link, remote)
    stored = OAuthState.objects.get(state_hash=OAuthState.digest(state))
    assert stored.consent_link_id == link.pk
    assert stored.session_hash == OAuthState.digest(client.session.session_key)

    other = Client()
    response = other.get(CALLBACK, {"state": state, "code": "code-1"})

    assert response.status_code == 403
    assert b"another browser" in response.content
    assert remote.payloads == []
    assert reloaded(link.instance).status == Status.AUTHORIZING


def test_a_link_state_is_not_accepted_by_the_operators_flow(link):
    state = oauth.issue_state(
        instance=link.instance, session_key="s1", purpose=link.purpose, consent_link=link
    )
    with pytest.raises(oauth.StateError) as error:
        oauth.consume_state(state=state, session_key="s1")
    assert error.value.reason == "wrong_flow"


def test_the_operators_state_is_not_accepted_by_the_link_flow(draft):
    state = oauth.issue_state(instance=draft, session_key="s1", purpose="create")
    with pytest.raises(oauth.StateError) as error:
        oauth.consume_state(state=state, session_key="s1", by_link=True)
    assert error.value.reason == "wrong_flow"
    with pytest.raises(oauth.StateError):
        links.complete(state=state, session_key="s1", params={"code": "c"})


def test_an_operator_state_still_needs_a_login_at_the_callback(client, draft):
    state = oauth.issue_state(instance=draft, session_key="s1", purpose="create")
    response = client.get(CALLBACK, {"state": state, "code": "code-1"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
