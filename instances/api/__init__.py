"""The dashboard's own API (`/api/v1/`): tokens, and the same services as the pages, over JSON."""
