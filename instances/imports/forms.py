from __future__ import annotations

from django import forms

from instances.models import ElementInstance


class SecretsForm(forms.Form):
    """What Cloud Elements showed masked, entered here; blank fields keep what is kept."""

    oauth_api_key = forms.CharField(label="OAuth client id", max_length=200, required=False)
    oauth_api_secret = forms.CharField(
        label="OAuth client secret", required=False, widget=forms.PasswordInput(render_value=False)
    )
    api_key = forms.CharField(
        label="API key", required=False, widget=forms.PasswordInput(render_value=False)
    )
    signature_key = forms.CharField(
        label="Callback Notification Signature Key",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
    )

    def __init__(self, *args, instance: ElementInstance, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if instance.authentication_type == ElementInstance.AuthenticationType.OAUTH2:
            del self.fields["api_key"]
        else:
            del self.fields["oauth_api_key"], self.fields["oauth_api_secret"]
        for field in self.fields.values():
            field.strip = True

    def clean(self):
        data = super().clean()
        if not any(data.get(name) for name in self.fields):
            raise forms.ValidationError("Enter at least one value; blank fields change nothing.")
        return data
