"""Clients for researchers and administrators (UserClient) and for algorithms."""

from __future__ import annotations

__all__: list[str] = []
