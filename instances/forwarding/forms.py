"""A destination's settings, and a replay's window: the rules the pages, the admin and the API
share."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from instances.forms import validate_callback_url
from instances.forwarding.models import Destination
from instances.forwarding.replay import WHICH
from instances.models import ElementInstance

SPLIT = re.compile(r"[,\s]+")
EVENT_TYPE = re.compile(r"^[A-Z][A-Z_]{0,31}$")
ELEMENT_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_INSTANCES = 1_000


def _words(value: str) -> list[str]:
    return list(dict.fromkeys(word for word in SPLIT.split(value or "") if word))


class DestinationForm(forms.ModelForm):
    element_keys = forms.CharField(
        label="Elements",
        required=False,
        help_text="Element keys, e.g. dropbox, box. Empty: every element.",
    )
    tags = forms.CharField(
        required=False,
        help_text="Instances with any of these tags (comma-separated). Empty: every tag.",
    )
    event_types = forms.CharField(
        label="Event types",
        required=False,
        help_text="Cloud Elements' eventType, e.g. CREATED, UPDATED, DELETED. Empty: every type.",
    )
    instance_list = forms.CharField(
        label="Instances",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "Only these instances: their dashboard ids (uuid), Cloud Elements ids or exact "
            f"names, one per line (at most {MAX_INSTANCES:,}). Empty: every instance."
        ),
    )

    class Meta:
        model = Destination
        fields = ("name", "url", "max_in_flight")
        help_texts = {
            "url": "Your app's address: https://, or http:// on this machine. Each event is "
            "POSTed as JSON, signed per Standard Webhooks.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["max_in_flight"].help_text = (
            "At most this many deliveries to it at once (1–100; default "
            f"{settings.DESTINATION_MAX_IN_FLIGHT})."
        )
        if self.instance.pk and not self.is_bound:
            self.initial.update(
                element_keys=", ".join(self.instance.element_keys),
                tags=", ".join(self.instance.tags),
                event_types=", ".join(self.instance.event_types),
                instance_list="\n".join(
                    str(u) for u in self.instance.instances.values_list("uuid", flat=True)
                ),
            )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        validate_callback_url(url)
        if "@" in url.split("//", 1)[-1].split("/", 1)[0]:
            raise forms.ValidationError("Put no user name or password in the URL.")
        return url

    def clean_element_keys(self) -> list[str]:
        keys = [word.lower() for word in _words(self.cleaned_data["element_keys"])]
        wrong = [key for key in keys if not ELEMENT_KEY.match(key)]
        if wrong:
            raise forms.ValidationError(f"Not an element key: {', '.join(wrong[:5])}.")
        return keys

    def clean_tags(self) -> list[str]:
        names = [" ".join(raw.split()).lower() for raw in self.cleaned_data["tags"].split(",")]
        return list(dict.fromkeys(name for name in names if name))

    def clean_event_types(self) -> list[str]:
        types = [word.upper() for word in _words(self.cleaned_data["event_types"])]
        wrong = [value for value in types if not EVENT_TYPE.match(value)]
        if wrong:
            raise forms.ValidationError(f"Not an event type: {', '.join(wrong[:5])}.")
        return types

    def clean_instance_list(self) -> list[int]:
        lines = [line.strip() for line in self.cleaned_data["instance_list"].splitlines()]
        lines = list(dict.fromkeys(line for line in lines if line))
        if len(lines) > MAX_INSTANCES:
            raise forms.ValidationError(f"At most {MAX_INSTANCES:,} instances.")
        found, unknown = resolve_instances(lines)
        if unknown:
            shown = ", ".join(f"“{value[:60]}”" for value in unknown[:5])
            raise forms.ValidationError(f"No such instance: {shown}.")
        return found

    def save(self, commit: bool = True) -> Destination:
        destination = super().save(commit=False)
        destination.element_keys = self.cleaned_data["element_keys"]
        destination.tags = self.cleaned_data["tags"]
        destination.event_types = self.cleaned_data["event_types"]
        if commit:
            destination.save()
            destination.instances.set(self.cleaned_data["instance_list"])
        return destination


def resolve_instances(values: list[str]) -> tuple[list[int], list[str]]:
    """Instance ids for uuids, Cloud Elements ids or exact names; and the values matching
    none (or a name matching several)."""
    if not values:
        return [], []
    uuids, numbers = [], []
    for value in values:
        try:
            uuids.append(uuid.UUID(value))
        except ValueError:
            if value.isdecimal():
                numbers.append(int(value))
    rows = ElementInstance.objects.exclude(status=ElementInstance.Status.DELETED).filter(
        Q(uuid__in=uuids) | Q(remote_id__in=numbers) | Q(name__in=values)
    )
    by_value: dict[str, set[int]] = {}
    for pk, row_uuid, remote_id, name in rows.values_list("pk", "uuid", "remote_id", "name"):
        for key in {str(row_uuid), name, *([str(remote_id)] if remote_id else [])}:
            by_value.setdefault(key, set()).add(pk)
    found, unknown = [], []
    for value in values:
        key = str(uuid.UUID(value)) if _is_uuid(value) else value
        matched = by_value.get(key, set())
        if len(matched) == 1:
            found.append(next(iter(matched)))
        else:
            unknown.append(value)
    return list(dict.fromkeys(found)), unknown


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    which = forms.ChoiceField(
        choices=list(WHICH.items()), initial="failed", widget=forms.RadioSelect
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            now = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("since", (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
            self.initial.setdefault("until", now.strftime("%Y-%m-%dT%H:%M"))

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            raise forms.ValidationError("“From” must be before “Until”.")
        return data
