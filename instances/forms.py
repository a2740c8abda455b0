"""The instance form: an element's parameters, field by field.

Built from the element's metadata (`instances.elements`): the documented parameters every
element shares (OAuth2, API key, event notifications) keep their own fields, with the element's
labels and descriptions; the element's other parameters follow as fields of their own. Without
a spec the form is the documented Dropbox parameter table.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.db.models import Q
from django.http import QueryDict
from django.urls import reverse
from django.utils.html import strip_tags

from instances import owners, parameters, search
from instances.elements.forms import form_field
from instances.elements.spec import BOOLEAN, SECRET, ElementSpec
from instances.elements.spec import Field as SpecField
from instances.models import ElementInstance

P = parameters.PARAMETERS
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
ACCEPTED_URLS = "https:// address, or http:// on localhost, 127.0.0.1 or [::1]"
TAG_SEPARATORS = re.compile(r"[,\n\r]+")
# The documented parameters every element shares, and the form field each one fills.
SHARED_PARAMETERS = {
    "oauth.callback.url": "oauth_callback_url",
    "oauth.api.key": "oauth_api_key",
    "oauth.api.secret": "oauth_api_secret",
    parameters.API_KEY_PARAMETER: "api_key",
    "event.notification.enabled": "events_enabled",
    "event.notification.callback.url": "event_callback_url",
    "event.notification.signature.key": "signature_key",
}
EVENT_FIELDS = ("events_enabled", "event_callback_url", "signature_key")
SUPPORTED_AUTHENTICATION = (parameters.OAUTH2, parameters.API_KEY)


def oauth_callback_url() -> str:
    return settings.SITE_URL + reverse("instances:oauth_callback")


def webhook_url(instance_uuid: uuid.UUID | str) -> str:
    """This dashboard's receiver for one instance's event notifications."""
    return settings.SITE_URL + reverse("events:receive", args=[instance_uuid])


def validate_callback_url(value: str) -> None:
    """Absolute http(s) URL; plain http only for this machine (as Dropbox requires)."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise forms.ValidationError(f"Enter an absolute {ACCEPTED_URLS}.")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise forms.ValidationError(
            f"Plain http:// is for this machine only: enter an {ACCEPTED_URLS}."
        )


def parse_tags(value: str) -> list[str]:
    """Split on commas and line breaks, trim, and drop duplicates whatever their case."""
    seen: dict[str, str] = {}
    for raw in TAG_SEPARATORS.split(value or ""):
        tag = " ".join(raw.split())
        if tag:
            seen.setdefault(tag.lower(), tag)
    return list(seen.values())


def as_cloud_elements_stores(value: str, what: str) -> str:
    """`value` if Cloud Elements stores it as typed; it removes markup from names and tags (the
    text is kept), so a value with markup is refused here with what it would become, rather
    than sent and later found renamed."""
    stored = " ".join(strip_tags(value).split())
    if stored != value:
        becomes = f"“{stored}”" if stored else "nothing"
        raise forms.ValidationError(
            f"Cloud Elements removes markup from {what}: “{value}” would be stored as {becomes}. "
            "Type it as it should be stored."
        )
    return value


class ParameterMixin:
    """Label, help text and API name of a field come from the parameter table."""

    def documented(self, field_name: str, parameter: str, *, label: str | None = None) -> None:
        field = self.fields[field_name]
        spec = P.get(parameter)
        field.label = label or (spec.label if spec else parameter)
        field.help_text = spec.description if spec else field.help_text
        field.api_name = parameter
        field.optional = bool(spec and spec.optional)
        # Shown beside the label; fields required only in some cases say which.
        field.required_note = "Required" if field.required else ""

    def secrets_not_kept(self) -> list[str]:
        """Names of secret fields that were filled in but are not sent back (never rendered)."""
        if not self.is_bound:
            return []
        return [name for name in getattr(self, "SECRET_FIELDS", ()) if self.data.get(name)]


class InstanceForm(ParameterMixin, forms.Form):
    """Everything a person supplies for `POST /instances`."""

    instance_uuid = forms.UUIDField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=200)
    element_key = forms.RegexField(
        regex=r"^[a-z][a-z0-9]*$",
        max_length=64,
        initial=parameters.DEFAULT_ELEMENT_KEY,
        error_messages={"invalid": "Use the element key: lowercase letters and digits."},
    )
    authentication_type = forms.ChoiceField(
        choices=ElementInstance.AuthenticationType.choices,
        initial=P["authentication.type"].default,
        widget=forms.RadioSelect,
    )
    oauth_callback_url = forms.CharField(max_length=500, required=False)
    oauth_api_key = forms.CharField(max_length=200, required=False)
    oauth_api_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="apiKey authentication only. The key Cloud Elements passes to Dropbox.",
    )
    events_enabled = forms.BooleanField(
        required=False, initial=P["event.notification.enabled"].default
    )
    event_callback_url = forms.CharField(max_length=500, required=False)
    signature_key = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "data-generate-key": "true"}
        ),
    )
    tags = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    OAUTH_FIELDS = ("oauth_callback_url", "oauth_api_key", "oauth_api_secret")
    SECRET_FIELDS = ("oauth_api_secret", "api_key", "signature_key")

    def __init__(self, *args, spec: ElementSpec | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.documented("name", "name")
        self.documented("element_key", "key")
        self.documented("authentication_type", "authentication.type")
        self.documented("oauth_callback_url", "oauth.callback.url")
        self.documented("oauth_api_key", "oauth.api.key")
        self.documented("oauth_api_secret", "oauth.api.secret")
        self.documented("api_key", parameters.API_KEY_PARAMETER, label="API key")
        self.documented("events_enabled", "event.notification.enabled")
        self.documented("event_callback_url", "event.notification.callback.url")
        self.documented("signature_key", "event.notification.signature.key")
        self.documented("tags", "tags")
        self.fields["api_key"].help_text = (
            "apiKey authentication only. The documentation does not name this parameter; "
            f"it is sent as {parameters.API_KEY_PARAMETER}."
        )
        self.fields["tags"].help_text += " Separate tags with commas or new lines."
        for name in self.OAUTH_FIELDS:
            self.fields[name].required_note = "Required for oauth2"
        self.fields["api_key"].required_note = "Required for apiKey"
        self.fields["event_callback_url"].required_note = "Required with Events Enabled"
        self.spec = spec
        self.extra_fields: dict[str, SpecField] = {}
        self.unsupported_authentication: list[str] = []
        if spec is not None:
            self._from_spec(spec)
        if not self.is_bound:
            new_uuid = uuid.uuid4()
            self.initial.setdefault("instance_uuid", new_uuid)
            self.initial.setdefault("oauth_callback_url", oauth_callback_url())
            self.initial.setdefault("event_callback_url", webhook_url(new_uuid))

    # --- Built from the element's metadata --------------------------------------------------

    def _from_spec(self, spec: ElementSpec) -> None:
        element = self.fields["element_key"]
        element.initial, element.disabled = spec.key, True
        offered = [t for t in spec.authentication_types if t in SUPPORTED_AUTHENTICATION]
        self.unsupported_authentication = [
            t for t in spec.authentication_types if t not in SUPPORTED_AUTHENTICATION
        ]
        authentication = self.fields["authentication_type"]
        authentication.choices = [(t, t) for t in offered]
        authentication.initial = offered[0] if offered else None
        either = " or ".join(offered)
        authentication.help_text = f"Identifies how you are authenticating with {spec.name}. " + (
            f"Either {either}." if len(offered) > 1 else f"Only {either}."
        )
        dropped = []
        if parameters.OAUTH2 not in offered:
            dropped += self.OAUTH_FIELDS
        if parameters.API_KEY not in offered or (
            spec.field(parameters.API_KEY_PARAMETER) is None
            and spec.key != parameters.DEFAULT_ELEMENT_KEY
        ):
            # An apiKey element whose metadata names its key entries otherwise fills those
            # (Dropbox's documentation offers apiKey without naming its parameter: kept).
            dropped.append("api_key")
        if not spec.events_supported:
            dropped += EVENT_FIELDS
        elif spec.field("event.notification.signature.key") is None:
            dropped.append("signature_key")  # a polling element signs nothing
        for name in dropped:
            del self.fields[name]
        for parameter, name in SHARED_PARAMETERS.items():
            found = spec.field(parameter)
            if found is not None and name in self.fields:
                field = self.fields[name]
                field.label, field.help_text = found.label, found.description
                field.optional = not found.required
        for found in [*spec.connection_fields(), *spec.event_fields()]:
            if found.key not in SHARED_PARAMETERS:
                self._add_extra(found)
        self.SECRET_FIELDS = tuple(
            name for name in self.fields if name in type(self).SECRET_FIELDS
        ) + tuple(name for name, found in self.extra_fields.items() if found.kind == SECRET)

    def _add_extra(self, found: SpecField) -> None:
        # Field names that say "secret" are hidden from error reports whatever the view marked.
        prefix = "secret_param_" if found.kind == SECRET else "param_"
        name = prefix + re.sub(r"\W", "_", found.key)
        while name in self.fields:
            name += "_"
        field = form_field(found)
        field.api_name = found.key
        field.optional = not found.required
        if found.is_event_setting:
            # Needed only when events are on (checked in clean).
            field.required = False
            field.required_note = "Required with Events Enabled" if found.required else ""
        else:
            field.required_note = "Required" if field.required else ""
        self.fields[name] = field
        self.extra_fields[name] = found

    def _section(self, names) -> list:
        return [self[name] for name in names if name in self.fields]

    def authentication_section(self) -> list:
        return self._section([*self.OAUTH_FIELDS, "api_key"])

    def connection_extras(self) -> list:
        return self._section(n for n, f in self.extra_fields.items() if not f.is_event_setting)

    def event_section(self) -> list:
        extras = [n for n, f in self.extra_fields.items() if f.is_event_setting]
        return self._section([*EVENT_FIELDS, *extras])

    @property
    def cannot_create(self) -> str:
        """Why no instance of this element can be made here ("" when one can)."""
        if self.spec is None or self.fields["authentication_type"].choices:
            return ""
        how = " or ".join(self.unsupported_authentication) or "no way its metadata names"
        return (
            f"{self.spec.name} authenticates with {how}"
            ", which this dashboard cannot create yet (it creates oauth2 and apiKey instances). "
            "Choose another element, or create this instance in Cloud Elements' console and "
            "import it."
        )

    @property
    def offers_oauth2(self) -> bool:
        return "oauth_callback_url" in self.fields

    @property
    def element_name(self) -> str:
        return self.spec.name if self.spec else "Dropbox"

    def _clean_extras(self, data: dict) -> None:
        """The other parameters as (key, value, secret), in the element's order; blank optional
        values are not sent, booleans always are."""
        extras = []
        events_on = bool(data.get("events_enabled"))
        for name, found in self.extra_fields.items():
            value = data.get(name)
            if found.is_event_setting and not events_on:
                continue  # event settings are sent only with events on
            if found.kind != BOOLEAN and value in (None, ""):
                if found.required and found.is_event_setting:
                    self.add_error(name, "This field is required with Events Enabled.")
                continue
            extras.append((found.key, value, found.kind == SECRET))
        data["extras"] = extras
        data["sends_events"] = self.spec.events_supported if self.spec else True

    def clean_name(self) -> str:
        return as_cloud_elements_stores(" ".join(self.cleaned_data["name"].split()), "a name")

    def clean_instance_uuid(self) -> uuid.UUID:
        value = self.cleaned_data["instance_uuid"]
        if ElementInstance.objects.filter(uuid=value).exists():
            raise forms.ValidationError("This form was already submitted; start a new one.")
        return value

    def clean_tags(self) -> list[str]:
        tags = [
            as_cloud_elements_stores(tag, "a tag") for tag in parse_tags(self.cleaned_data["tags"])
        ]
        if any(len(tag) > 100 for tag in tags):
            raise forms.ValidationError("A tag can be at most 100 characters long.")
        return tags

    def clean(self) -> dict:
        data = super().clean()
        required = "This field is required for {}."
        if data.get("authentication_type") == parameters.OAUTH2:
            for name in self.OAUTH_FIELDS:
                if not data.get(name):
                    self.add_error(name, required.format("oauth2 authentication"))
        elif (
            data.get("authentication_type") == parameters.API_KEY
            and "api_key" in self.fields
            and not data.get("api_key")
        ):
            self.add_error("api_key", required.format("apiKey authentication"))
        if data.get("events_enabled") and not data.get("event_callback_url"):
            self.add_error("event_callback_url", "Events Enabled needs a URL to send events to.")
        for name in ("oauth_callback_url", "event_callback_url"):
            if data.get(name):
                try:
                    validate_callback_url(data[name])
                except forms.ValidationError as error:
                    self.add_error(name, error)
        self._flag_duplicate(data)
        self._clean_extras(data)
        return data

    def _flag_duplicate(self, data: dict) -> None:
        if not data.get("name") or not data.get("element_key"):
            return
        duplicate = ElementInstance.objects.filter(
            element_key=data["element_key"],
            name__iexact=data["name"],
            status=ElementInstance.Status.ACTIVE,
        ).first()
        if duplicate:
            self.add_error(
                "name",
                f"An active {duplicate.element_key} instance named “{duplicate.name}” already "
                "exists. Choose another name, or re-authorize that instance instead.",
            )

    def secrets_to_retype(self) -> list[str]:
        """Labels of secrets the browser must send again (they are never rendered back)."""
        return [str(self.fields[name].label) for name in self.secrets_not_kept()]


class DraftForm(InstanceForm):
    """Every parameter of an instance Cloud Elements does not have yet; blank secrets keep."""

    instance_uuid = None  # the instance exists already

    def __init__(self, *args, instance: ElementInstance, **kwargs) -> None:
        self.instance = instance
        webhook = instance.webhook
        kwargs["initial"] = {
            "name": instance.name,
            "element_key": instance.element_key,
            "authentication_type": instance.authentication_type,
            "oauth_callback_url": instance.oauth_callback_url,
            "oauth_api_key": instance.oauth_api_key,
            "events_enabled": webhook.enabled,
            "event_callback_url": webhook.callback_url or webhook_url(instance.uuid),
            "tags": ", ".join(instance.tag_names()),
        }
        self.stored_extras = {key: value for key, value, _ in instance.extras}
        super().__init__(*args, **kwargs)
        stored = {
            "oauth_api_secret": instance.masked_oauth_api_secret,
            "api_key": instance.masked_api_key,
            "signature_key": webhook.masked_signature_key,
        }
        for name, found in self.extra_fields.items():
            if found.key not in self.stored_extras:
                continue  # not sent: the element's default is offered
            value = self.stored_extras[found.key]
            if found.kind == SECRET:
                stored[name] = parameters.mask(str(value))
                self.fields[name].required = False  # blank keeps the stored one
            else:
                self.initial[name] = value
        for name, masked in stored.items():
            if masked and name in self.fields:
                self.fields[name].help_text += f" Stored: {masked}. Leave blank to keep it."

    def _clean_extras(self, data: dict) -> None:
        # A secret left blank keeps the stored one.
        for name, found in self.extra_fields.items():
            if found.kind == SECRET and not data.get(name):
                data[name] = self.stored_extras.get(found.key, "")
        super()._clean_extras(data)

    def _stored_when_blank(self, name: str, stored: str) -> str:
        # Secrets are never rendered back, so a blank field means "keep what is stored".
        return self.cleaned_data.get(name) or stored

    def clean_oauth_api_secret(self) -> str:
        return self._stored_when_blank("oauth_api_secret", self.instance.oauth_api_secret)

    def clean_api_key(self) -> str:
        return self._stored_when_blank("api_key", self.instance.api_key)

    def clean_signature_key(self) -> str:
        return self._stored_when_blank("signature_key", self.instance.webhook.signature_key)


class OwnerForm(forms.Form):
    """The account's owner: whom a re-consent campaign writes to (kept here only)."""

    owner_name = forms.CharField(label="Owner's name", required=False, max_length=200)
    owner_email = forms.CharField(
        label="Owner's e-mail address",
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )

    def clean_owner_name(self) -> str:
        return _owner_value(owners.clean_name, self.cleaned_data["owner_name"])

    def clean_owner_email(self) -> str:
        return _owner_value(owners.clean_email, self.cleaned_data["owner_email"])

    def clean(self) -> dict:
        data = super().clean()
        if data.get("owner_name") and "owner_email" in data and not data["owner_email"]:
            self.add_error("owner_email", owners.EMAIL_NEEDED)
        return data


def _owner_value(clean, value: str) -> str:
    try:
        return clean(value)
    except owners.OwnerError as error:
        raise forms.ValidationError(str(error)) from None


class SettingsForm(ParameterMixin, OwnerForm):
    """What can change after creation: name, tags and the event notification settings (sent to
    Cloud Elements), and the owner (kept here)."""

    name = forms.CharField(max_length=200)
    tags = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    event_callback_url = forms.CharField(max_length=500)
    new_signature_key = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "data-generate-key": "true"}
        ),
    )

    SECRET_FIELDS = ("new_signature_key",)

    def __init__(self, *args, sends_events: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.documented("name", "name")
        self.documented("tags", "tags")
        self.fields["tags"].help_text += " Separate tags with commas or new lines."
        if not sends_events:
            # The element sends no events: nothing of the kind to change.
            del self.fields["event_callback_url"], self.fields["new_signature_key"]
            return
        self.documented("event_callback_url", "event.notification.callback.url")
        self.documented("new_signature_key", "event.notification.signature.key")
        self.fields["new_signature_key"].label = "New Callback Notification Signature Key"
        self.fields["new_signature_key"].help_text = (
            "Leave blank to keep the current key. After a change the previous key is still "
            "accepted for 72 hours, while Cloud Elements retries older deliveries."
        )

    clean_name = InstanceForm.clean_name
    clean_tags = InstanceForm.clean_tags

    def clean_event_callback_url(self) -> str:
        value = self.cleaned_data["event_callback_url"]
        validate_callback_url(value)
        return value


class InstanceFilterForm(forms.Form):
    """Search and filters of the instance list; every field optional."""

    q = forms.CharField(required=False, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status (not deleted)"), *ElementInstance.Status.choices]
    )
    events = forms.ChoiceField(
        required=False,
        choices=[("", "Events on or off"), ("on", "Events on"), ("off", "Events off")],
    )
    tag = forms.CharField(required=False)
    element = forms.CharField(required=False)
    disabled = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Enabled or disabled"),
            ("yes", "Disabled at Cloud Elements"),
            ("no", "Enabled at Cloud Elements"),
        ],
    )
    origin = forms.ChoiceField(
        required=False, choices=[("", "Created here or imported"), *ElementInstance.Origin.choices]
    )
    remote = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any state at Cloud Elements"),
            ("drifted", "Changed at Cloud Elements"),
            ("deleted", "Deleted at Cloud Elements"),
        ],
    )
    attention = forms.ChoiceField(
        required=False, choices=[("", "All"), ("reauthorize", "Needs re-authorization")]
    )
    owner = forms.ChoiceField(
        required=False,
        choices=[("", "With or without owner"), ("yes", "Owner recorded"), ("no", "No owner")],
    )
    # The health sweep's problems (instances.health): choices named here, so that the core
    # does not import the package above it.
    problem = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any health"),
            ("invalid", "Invalid at Cloud Elements"),
            ("disabled", "Disabled at Cloud Elements"),
            ("silent", "Silent"),
            ("deleted", "Deleted at Cloud Elements"),
            ("drifted", "Changed at Cloud Elements"),
            ("signatures", "Signature failures"),
            ("missing", "Deliveries missing here"),
        ],
    )

    def filter(self, queryset):
        if not self.is_valid():
            return queryset.exclude(status=ElementInstance.Status.DELETED)
        data = self.cleaned_data
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        else:
            queryset = queryset.exclude(status=ElementInstance.Status.DELETED)
        if data["events"]:
            queryset = queryset.filter(webhook__enabled=data["events"] == "on")
        if data["tag"]:
            queryset = search.with_tag(queryset, data["tag"])
        if data["element"]:
            queryset = queryset.filter(element_key=data["element"])
        if data["disabled"]:
            queryset = queryset.filter(remote_disabled=data["disabled"] == "yes")
        if data["origin"]:
            queryset = queryset.filter(origin=data["origin"])
        if data["remote"] == "drifted":
            queryset = queryset.filter(drifted=True)
        elif data["remote"] == "deleted":
            queryset = queryset.filter(remote_missing=True)
        if data["owner"]:
            has_owner = ~Q(owner_email="")
            queryset = queryset.filter(has_owner if data["owner"] == "yes" else ~has_owner)
        if data["attention"] == "reauthorize":
            queryset = queryset.filter(search.NEEDS_REAUTHORIZATION)
        if data["problem"]:
            # At most one open problem of a kind per instance: the join adds no duplicate.
            queryset = queryset.filter(
                problems__kind=data["problem"], problems__resolved_at__isnull=True
            )
        if data["q"]:
            queryset = search.search(queryset, data["q"])
        return queryset


def matching(query: str):
    """The instances a list filter (its query string) matches: what a job started from the
    filter runs on, read again by the worker."""
    return InstanceFilterForm(QueryDict(query)).filter(ElementInstance.objects.all())


def describe(query: str) -> list[str]:
    """A filter's query string as words ("Status: Active", "Tag: finance"), for a job's page."""
    form = InstanceFilterForm(QueryDict(query))
    if not form.is_valid():
        return []
    words = []
    for name, field in form.fields.items():
        value = form.cleaned_data.get(name)
        if not value:
            continue
        choices = dict(getattr(field, "choices", []))
        label = {"q": "Search"}.get(name, (field.label or name.capitalize()))
        words.append(f"{label}: {choices.get(value, value)}")
    return words or ["every instance not deleted"]
