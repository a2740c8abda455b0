"""The Cloud Elements platform API: its client (the only HTTP to Cloud Elements) and types."""
