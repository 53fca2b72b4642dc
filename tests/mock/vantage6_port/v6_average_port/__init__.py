"""A federated average written as vantage6's algorithm documentation writes one.

Only the imports differ from the vantage6 original (``vantage6.algorithm.tools.util``,
``vantage6.algorithm.tools.decorators`` and ``vantage6.algorithm.client`` become
``v6lib.wrappers``): it is the fixture that keeps porting free of shims.
"""

from .central import central_average
from .partial import partial_average, partial_run_details

__all__ = ["central_average", "partial_average", "partial_run_details"]
