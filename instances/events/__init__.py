"""Event notifications: the receiver, their storage, pages, search, chart and retention."""
