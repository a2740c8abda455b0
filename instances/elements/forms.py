"""Form fields from an element's spec: what the instance form shows for its parameters."""

from __future__ import annotations

from django import forms

from instances.elements.spec import BOOLEAN, CHOICE, SECRET, ElementSpec, Field


def form_field(spec_field: Field) -> forms.Field:
    """One parameter as a Django form field: its label, description, default, required mark
    and kind (a secret is never echoed back into the page)."""
    common = {
        "label": spec_field.label,
        "help_text": spec_field.description,
        "required": spec_field.required and spec_field.kind != BOOLEAN,
        "initial": spec_field.default,
    }
    if spec_field.kind == BOOLEAN:
        return forms.BooleanField(**common)
    if spec_field.kind == CHOICE:
        choices = list(spec_field.choices)
        if not spec_field.required:
            choices.insert(0, ("", "—"))
        return forms.ChoiceField(choices=choices, **common)
    if spec_field.kind == SECRET:
        widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
        return forms.CharField(max_length=spec_field.max_length, widget=widget, **common)
    return forms.CharField(max_length=spec_field.max_length, **common)


def form_fields(spec: ElementSpec) -> dict[str, forms.Field]:
    """The element's parameters in their order: the connection's, then the event section's
    (only when the element sends events)."""
    return {f.key: form_field(f) for f in [*spec.connection_fields(), *spec.event_fields()]}
