"""Re-consent campaigns: consent links for many instances at once, e-mailed to their owners."""
