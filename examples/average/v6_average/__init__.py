"""Federated average: each organization shares a sum and a count, the central part combines.

The methods a researcher can name in a task's input are the public functions of this
package: ``central_average`` (fans out and combines) and ``partial_average`` (runs on one
organization's data).
"""

from __future__ import annotations

from v6_average.central import central_average as central_average
from v6_average.partial import partial_average as partial_average

__all__ = ["central_average", "partial_average"]
