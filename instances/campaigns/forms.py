"""The campaign form, the owner form and the owners' CSV upload."""

from __future__ import annotations

import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from instances.campaigns.models import Campaign

MAX_DAYS = 90


class CampaignForm(forms.Form):
    name = forms.CharField(
        max_length=200, help_text="For your reference, e.g. “Dropbox app secret rotated”."
    )
    purpose = forms.ChoiceField(choices=Campaign.Purpose.choices, widget=forms.RadioSelect)
    message = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to every owner above their links (plain text).",
    )
    expires_in_days = forms.IntegerField(
        label="Links expire after (days)", min_value=1, max_value=MAX_DAYS
    )
    reminders = forms.CharField(
        label="Remind after (days)",
        required=False,
        max_length=50,
        help_text="Owners who have not completed get a reminder on these days, e.g. “3, 6”. "
        "Leave blank for none.",
    )
    delivery = forms.ChoiceField(
        choices=Campaign.Delivery.choices, widget=forms.RadioSelect, initial="email"
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                "name": f"Re-consent {timezone.now():%Y-%m-%d}",
                "purpose": Campaign.Purpose.REAUTHORIZE,
                "expires_in_days": settings.CONSENT_LINK_DAYS,
                "reminders": "3, 6" if settings.CONSENT_LINK_DAYS > 6 else "",
                "delivery": Campaign.Delivery.EMAIL,
            },
        )
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        value = " ".join(self.cleaned_data["name"].split())
        if "<" in value or ">" in value:
            raise forms.ValidationError("A name cannot contain < or >.")
        return value

    def clean_reminders(self) -> list[int]:
        value = self.cleaned_data["reminders"].strip()
        if not value:
            return []
        parts = [p for p in re.split(r"[,\s]+", value) if p]
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise forms.ValidationError("Write whole days separated by commas, e.g. “3, 6”.")
        days = sorted({int(p) for p in parts})
        if len(days) > 5:
            raise forms.ValidationError("At most 5 reminders.")
        if days[0] < 1:
            raise forms.ValidationError("A reminder comes at least 1 day after the e-mail.")
        return days

    def clean(self) -> dict:
        data = super().clean()
        days, expiry = data.get("reminders") or [], data.get("expires_in_days")
        if expiry and days and days[-1] >= expiry:
            self.add_error(
                "reminders", f"Every reminder must come before the links expire (day {expiry})."
            )
        return data

    def expires_at(self):
        return timezone.now() + timedelta(days=self.cleaned_data["expires_in_days"])


class OwnersCsvForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="One instance per row: Cloud Elements id or name, owner name, owner e-mail.",
    )

    MAX_BYTES = 20 * 1024 * 1024

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB; split it.")
        return upload
