"""Consent links: made by an operator, used by an account owner without a login."""
