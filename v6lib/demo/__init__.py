"""The demo federation behind ``v6 demo``: a server, three nodes and a federated average."""

from __future__ import annotations

from .federation import DemoFederation as DemoFederation
from .federation import DemoOptions as DemoOptions
from .federation import DemoReport as DemoReport

__all__ = ["DemoFederation", "DemoOptions", "DemoReport"]
