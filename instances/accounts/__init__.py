"""Signing in (two steps, two-factor, throttling), sudo mode and revealing a secret."""
