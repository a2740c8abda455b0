"""The instance form at /instances/new/ is the documented Dropbox parameter table.

Labels, API names, descriptions and defaults come from the user's documentation; invalid input
is answered with a 400 and field-level messages, and nothing is saved or sent anywhere.
"""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser

import pytest

from instances import forms, parameters
from instances.cloud_elements import client as cloud_elements
from instances.forms import InstanceForm
from instances.models import ElementInstance

NEW = "/instances/new/"
P = parameters.PARAMETERS

# (form field, documented API parameter, documented label)
DOCUMENTED_FIELDS = [
    ("name", "name", "Name"),
    ("element_key", "key", "key"),
    ("authentication_type", "authentication.type", "authentication.type"),
    ("oauth_callback_url", "oauth.callback.url", "oauth.callback.url"),
    ("oauth_api_key", "oauth.api.key", "oauth.api.key"),
    ("oauth_api_secret", "oauth.api.secret", "oauth.api.secret"),
    ("events_enabled", "event.notification.enabled", "Events Enabled"),
    ("event_callback_url", "event.notification.callback.url", "Event Notification Callback URL"),
    (
        "signature_key",
        "event.notification.signature.key",
        "Callback Notification Signature Key",
    ),
    ("tags", "tags", "tags"),
]
OPTIONAL_FIELDS = {"events_enabled", "signature_key", "tags"}
CLIENT_SECRET = "app-secret-never-echoed-4567"
SIGNATURE_KEY = "signature-key-never-echoed-8910"


# --- Reading the page ----------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, {name: value for name, value in attrs}))


def elements(page: str, tag: str, **attrs: str) -> list[dict]:
    """Attributes of every `tag` element whose attributes include `attrs`."""
    parser = _Tags()
    parser.feed(page)
    return [
        found
        for name, found in parser.found
        if name == tag and all(found.get(key) == value for key, value in attrs.items())
    ]


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row(page: str, field: str) -> str:
    """The HTML of one field's form row: label cell, widget, errors and help text."""
    start = re.search(rf'class="form-row field-{field}( errors)?"', page)
    assert start, f"no form row for {field}"
    end = page.find('class="form-row ', start.end())
    return page[start.start() : end if end != -1 else page.index("</form>", start.end())]


def label_of(page: str, field: str) -> str:
    cell = row(page, field)
    found = re.search(
        r'<label for="id_[^"]+"[^>]*>(.*?)</label>|<span class="label[^"]*"[^>]*>(.*?)</span>', cell
    )
    assert found, f"no label for {field}"
    return text(found.group(1) or found.group(2))


def codes_of(page: str, field: str) -> list[str]:
    return [text(code) for code in re.findall(r"<code[^>]*>(.*?)</code>", row(page, field))]


def help_of(page: str, field: str) -> str:
    found = re.search(r'<div class="help"[^>]*>(.*?)</div>', row(page, field), re.S)
    return text(found.group(1)) if found else ""


def value_of(page: str, name: str) -> str | None:
    (found,) = elements(page, "input", name=name)
    return found.get("value")


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_test_setup(settings):
    # The cast's passwords are hashed on every test; a fast hasher keeps the file quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A closed loopback port: a call that escaped the fakes fails at once, and nowhere else.
    settings.CLOUD_ELEMENTS_BASE_URL = "http://127.0.0.1:9/elements/api-v2"


@pytest.fixture
def remote_calls(monkeypatch) -> list[tuple[str, dict]]:
    """Every call the dashboard makes to Cloud Elements, faked at the client's seam."""
    calls: list[tuple[str, dict]] = []

    def get_oauth_url(**arguments) -> cloud_elements.OAuthUrl:
        calls.append(("get_oauth_url", arguments))
        return cloud_elements.OAuthUrl(
            element="dropbox",
            oauth_url="https://consent.example/authorize?state=" + arguments["state"],
        )

    def create_instance(payload) -> cloud_elements.Instance:
        calls.append(("create_instance", payload))
        return cloud_elements.Instance(
            id=58992, name=payload["name"], element_key="dropbox", token="token-0123456789abc"
        )

    monkeypatch.setattr(cloud_elements, "get_oauth_url", get_oauth_url)
    monkeypatch.setattr(cloud_elements, "create_instance", create_instance)
    return calls


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def new_page(operator_client) -> str:
    response = operator_client.get(NEW)
    assert response.status_code == 200
    return response.text


def valid_data(**overrides) -> dict:
    data = {
        "instance_uuid": str(uuid.uuid4()),
        "name": "Finance Dropbox",
        "element_key": "dropbox",
        "authentication_type": "oauth2",
        "oauth_callback_url": forms.oauth_callback_url(),
        "oauth_api_key": "app-key-123",
        "oauth_api_secret": CLIENT_SECRET,
        "api_key": "",
        "event_callback_url": "",
        "signature_key": "",
        "tags": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def assert_rejected(response, field: str, message: str, calls: list, *, saved: int = 0) -> None:
    """A 400 naming the field, with nothing saved and nothing sent to Cloud Elements."""
    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors.get(field, []))
    assert f'class="form-row field-{field} errors"' in response.text
    assert message in text(row(response.text, field))
    assert ElementInstance.objects.count() == saved
    assert calls == []


# --- The documented table ------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_each_field_carries_its_documented_label(new_page, field, parameter, label):
    assert label_of(new_page, field) == label


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_each_api_name_is_shown_in_code_formatting(new_page, field, parameter, label):
    # The documentation: "API parameters are in code formatting".
    assert parameter in codes_of(new_page, field)


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_each_field_shows_the_documented_description(new_page, field, parameter, label):
    assert P[parameter].description in help_of(new_page, field)


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_only_the_documented_optional_fields_say_optional(new_page, field, parameter, label):
    assert ("Optional" in text(row(new_page, field))) == (field in OPTIONAL_FIELDS)


def test_the_undocumented_api_key_names_the_parameter_it_is_sent_as(new_page):
    assert label_of(new_page, "api_key") == "API key"
    assert parameters.API_KEY_PARAMETER in codes_of(new_page, "api_key")
    assert "does not name this parameter" in help_of(new_page, "api_key")


def test_tags_explain_how_to_separate_them(new_page):
    assert "Separate tags with commas or new lines." in help_of(new_page, "tags")


def test_the_element_key_defaults_to_dropbox(new_page):
    assert value_of(new_page, "element_key") == "dropbox"


def test_oauth2_is_the_default_authentication_type(new_page):
    (oauth2,) = elements(new_page, "input", name="authentication_type", value="oauth2")
    (api_key,) = elements(new_page, "input", name="authentication_type", value="apiKey")
    assert "checked" in oauth2
    assert "checked" not in api_key


def test_events_are_off_by_default(new_page):
    (checkbox,) = elements(new_page, "input", name="events_enabled")
    assert checkbox["type"] == "checkbox"
    assert "checked" not in checkbox


def test_the_callback_urls_are_prefilled_from_site_url(operator_client, settings):
    settings.SITE_URL = "https://dashboard.example.com"
    page = operator_client.get(NEW, HTTP_HOST="127.0.0.1").text

    instance_uuid = value_of(page, "instance_uuid")
    assert uuid.UUID(instance_uuid)
    assert value_of(page, "oauth_callback_url") == (
        "https://dashboard.example.com/instances/oauth/callback/"
    )
    assert value_of(page, "event_callback_url") == (
        f"https://dashboard.example.com/webhooks/{instance_uuid}/"
    )


def test_the_instance_uuid_is_hidden_and_new_for_every_form(operator_client):
    first = operator_client.get(NEW).text
    second = operator_client.get(NEW).text
    (hidden,) = elements(first, "input", name="instance_uuid")
    assert hidden["type"] == "hidden"
    assert value_of(first, "instance_uuid") != value_of(second, "instance_uuid")


def test_a_button_generates_a_strong_signature_key(new_page):
    (button,) = elements(new_page, "button", **{"class": "button generate-key"})
    assert button["type"] == "button"  # it fills the field, it does not submit
    assert button["data-target"] == "id_signature_key"
    assert "Generate a strong key" in text(row(new_page, "signature_key"))


def test_secrets_are_password_fields(new_page):
    for name in ("oauth_api_secret", "api_key", "signature_key"):
        (field,) = elements(new_page, "input", name=name)
        assert field["type"] == "password"
        assert "value" not in field


# --- Validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["oauth_callback_url", "oauth_api_key", "oauth_api_secret"])
def test_oauth2_needs_the_client_id_secret_and_callback_url(operator_client, remote_calls, field):
    response = operator_client.post(NEW, valid_data(**{field: ""}))
    assert_rejected(response, field, "required for oauth2 authentication", remote_calls)


def test_api_key_authentication_needs_the_api_key(operator_client, remote_calls):
    data = valid_data(
        authentication_type="apiKey",
        oauth_callback_url="",
        oauth_api_key="",
        oauth_api_secret="",
        api_key="",
    )
    response = operator_client.post(NEW, data)
    assert_rejected(response, "api_key", "required for apiKey authentication", remote_calls)
    # The OAuth fields belong to oauth2 only.
    assert set(response.context["form"].errors) == {"api_key"}


def test_events_enabled_needs_a_callback_url(operator_client, remote_calls):
    response = operator_client.post(NEW, valid_data(events_enabled="on", event_callback_url=""))
    assert_rejected(response, "event_callback_url", "needs a URL to send events to", remote_calls)


@pytest.mark.parametrize("field", ["oauth_callback_url", "event_callback_url"])
@pytest.mark.parametrize(
    "url",
    [
        "/instances/oauth/callback/",
        "dashboard.example.com/hook",
        "ftp://dashboard.example.com/hook",
        "javascript:alert(1)",
        "https://",
    ],
)
def test_a_url_that_is_not_absolute_http_is_rejected(operator_client, remote_calls, field, url):
    response = operator_client.post(NEW, valid_data(events_enabled="on", **{field: url}))
    assert_rejected(response, field, "Enter an absolute URL", remote_calls)


@pytest.mark.parametrize("field", ["oauth_callback_url", "event_callback_url"])
def test_plain_http_is_rejected_for_another_machine(operator_client, remote_calls, field):
    data = valid_data(events_enabled="on", **{field: "http://example.com"})
    response = operator_client.post(NEW, data)
    assert_rejected(response, field, "Use https://", remote_calls)


@pytest.mark.parametrize("field", ["oauth_callback_url", "event_callback_url"])
@pytest.mark.parametrize(
    "url", ["http://localhost:8000/x", "http://127.0.0.1/x", "https://example.com/x"]
)
def test_local_http_and_any_https_url_are_accepted(operator_client, remote_calls, field, url):
    data = valid_data(events_enabled="on", event_callback_url="https://example.com/hook")
    data[field] = url
    response = operator_client.post(NEW, data)

    assert response.status_code == 302
    instance = ElementInstance.objects.select_related("webhook").get()
    saved = {
        "oauth_callback_url": instance.oauth_callback_url,
        "event_callback_url": instance.webhook.callback_url,
    }
    assert saved[field] == url


def test_tags_are_split_trimmed_and_deduplicated_whatever_their_case(db):
    form = InstanceForm(valid_data(tags="a, b\nA , c"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tags"] == ["a", "b", "c"]


def test_the_saved_instance_carries_the_cleaned_tags(operator_client, remote_calls):
    response = operator_client.post(NEW, valid_data(tags="a, b\nA , c"))
    assert response.status_code == 302
    assert ElementInstance.objects.get().tag_names() == ["a", "b", "c"]


def test_an_active_instance_with_the_same_name_is_flagged(
    operator_client, remote_calls, make_instance
):
    make_instance("Finance Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=58992)
    response = operator_client.post(NEW, valid_data(name="  FINANCE   dropbox "))
    assert_rejected(response, "name", "already exists", remote_calls, saved=1)


@pytest.mark.parametrize(
    "existing",
    [
        {"status": ElementInstance.Status.FAILED},
        {"status": ElementInstance.Status.DELETED, "remote_id": 58992},
        {"status": ElementInstance.Status.ACTIVE, "remote_id": 58992, "element_key": "box"},
    ],
    ids=["failed", "deleted", "other-element"],
)
def test_a_name_is_free_unless_an_active_instance_of_the_element_has_it(
    operator_client, remote_calls, make_instance, existing
):
    make_instance("Finance Dropbox", **existing)
    response = operator_client.post(NEW, valid_data(name="finance dropbox"))
    assert response.status_code == 302
    assert ElementInstance.objects.count() == 2


def test_a_submitted_secret_is_never_sent_back_and_must_be_typed_again(
    operator_client, remote_calls
):
    data = valid_data(
        oauth_callback_url="",
        events_enabled="on",
        event_callback_url="https://example.com/hook",
        signature_key=SIGNATURE_KEY,
    )
    response = operator_client.post(NEW, data)

    assert response.status_code == 400
    assert CLIENT_SECRET not in response.text
    assert SIGNATURE_KEY not in response.text
    retype = re.search(r'<p class="errornote retype">(.*?)</p>', response.text, re.S)
    assert retype, "the page does not ask to type the secrets again"
    assert "oauth.api.secret" in text(retype.group(1))
    assert "Callback Notification Signature Key" in text(retype.group(1))
    assert "again" in text(retype.group(1))
    # What is not secret is kept, so that nothing typed is lost.
    assert value_of(response.text, "name") == "Finance Dropbox"
    assert value_of(response.text, "oauth_api_key") == "app-key-123"
    assert value_of(response.text, "instance_uuid") == data["instance_uuid"]
    assert remote_calls == []


def test_a_form_can_only_be_submitted_once(operator_client, remote_calls):
    data = valid_data()
    assert operator_client.post(NEW, data).status_code == 302
    response = operator_client.post(NEW, data)
    assert response.status_code == 400
    assert "already submitted" in str(response.context["form"].errors["instance_uuid"])
    assert ElementInstance.objects.count() == 1
    assert len(remote_calls) == 1


# --- Who may use it ------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, db, remote_calls):
    response = client.get(NEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    response = client.post(NEW, valid_data())
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not ElementInstance.objects.exists()
    assert remote_calls == []


def test_a_non_staff_user_is_sent_to_the_login_page(client, outsider, remote_calls):
    client.force_login(outsider)
    response = client.get(NEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_non_staff_user_can_never_create_an_instance(client, outsider, remote_calls):
    client.force_login(outsider)
    for response in (client.get(NEW), client.post(NEW, valid_data())):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert not ElementInstance.objects.exists()
    assert remote_calls == []


def test_a_view_only_user_is_forbidden_to_open_the_form(client, viewer):
    client.force_login(viewer)
    assert client.get(NEW).status_code == 403


def test_a_view_only_user_is_forbidden_to_submit_the_form(client, viewer, remote_calls):
    client.force_login(viewer)
    response = client.post(NEW, valid_data())
    assert response.status_code == 403
    assert not ElementInstance.objects.exists()
    assert remote_calls == []


def test_the_admin_add_page_leads_to_the_form(operator_client):
    response = operator_client.get("/admin/instances/elementinstance/add/")
    assert response.status_code == 302
    assert response["Location"] == NEW
