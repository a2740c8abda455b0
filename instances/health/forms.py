from __future__ import annotations

from django import forms
from django.utils import timezone


class AcknowledgeForm(forms.Form):
    reason = forms.CharField(max_length=500, error_messages={"required": "say why."})
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_until(self):
        until = self.cleaned_data["until"]
        if until and until < timezone.localdate():
            raise forms.ValidationError("the date is in the past.")
        return until


class QuietPeriodForm(forms.Form):
    hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=24 * 365,
        error_messages={"min_value": "at least 1 hour.", "max_value": "at most a year."},
    )
