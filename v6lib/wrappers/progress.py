"""``progress(fraction, message)``: tell the researcher how far the run is, live.

Why: a long run otherwise looks the same from its first second to its last. The report
goes to the node (through its proxy, with the run's container token; on a MockNetwork
to the mock's store), which reduces it by :mod:`v6lib.rules.progress` (whole percent,
never down, a message only when the node operator allows one) and forwards at most one
per second. Progress never fails a run: a node that cannot be reached is ignored.

NOTE: imported by every algorithm run, so the sender uses ``urllib`` (standard library,
loaded on the first report only), not ``requests``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from v6lib.rules.progress import ProgressReport, progress_report

from .context import current_context

__all__ = ["ProgressSink", "progress", "proxy_sender"]

#: Where a run's progress goes: ``(fraction, message)``, already checked.
ProgressSink = Callable[[float, str], None]


def progress(fraction: float, message: str = "") -> None:
    """Report the run's progress: ``fraction`` from 0 to 1, ``message`` a short text
    such as ``"iteration 4/10"`` (shown only where the node allows messages).

    Raises:
        ValidationError: ``fraction`` is not a number or ``message`` is not text.
        AlgorithmError: no run is in progress in this thread.
    """
    progress_report(fraction, message, messages_allowed=True)  # the algorithm's mistakes
    current_context().report_progress(float(fraction), message or "")


def proxy_sender(url: str, token: str, timeout: float = 5.0) -> ProgressSink:
    """A sink that POSTs each new report to the node proxy's ``/progress``.

    Reports that round to what was sent last are not sent again; a failure to deliver is
    written to standard error once and otherwise ignored.
    """
    last: list[ProgressReport] = []
    warned: list[bool] = []

    def send(fraction: float, message: str) -> None:
        report = progress_report(fraction, message, messages_allowed=True)
        if last and last[0] == report:
            return
        import urllib.request

        request = urllib.request.Request(
            f"{url}/progress", method="POST",
            data=json.dumps({"progress": fraction, "message": message}).encode("utf-8"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        # NOTE: no proxies from the environment: the node proxy is local
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout):
                pass
        except OSError as exc:  # URLError and HTTPError are OSErrors
            if not warned:
                warned.append(True)
                print(f"v6lib: progress could not be reported to the node: {exc}",
                      file=sys.stderr, flush=True)
            return
        last[:] = [report]

    return send
