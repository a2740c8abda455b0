"""Shared pieces that know no domain: encrypted fields, paging, pages, hosts, logging."""
