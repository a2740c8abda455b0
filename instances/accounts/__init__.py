"""Signing in: login throttling, two-factor authentication and their pages."""
