"""What an operator may add to a consent link."""

from __future__ import annotations

from django import forms

from instances.forms import validate_callback_url


class ConsentLinkForm(forms.Form):
    """What the operator may add to a consent link; every field is optional."""

    note = forms.CharField(
        label="For",
        max_length=200,
        required=False,
        help_text="Who the link is for (an e-mail address or a customer name), for your "
        "reference only; the owner never sees it.",
    )
    success_url = forms.CharField(
        label="After consent, send the owner to",
        max_length=500,
        required=False,
        validators=[validate_callback_url],
        help_text="Optional https:// address; without it the owner reads “Connected”.",
    )
    error_url = forms.CharField(
        label="After a refusal, send the owner to",
        max_length=500,
        required=False,
        validators=[validate_callback_url],
        help_text="Optional https:// address; without it the owner reads what happened.",
    )
