"""{{ cookiecutter.algorithm_name }}: {{ cookiecutter.description }}

The public functions of this package are the methods a task can name.
"""

from __future__ import annotations

from {{ cookiecutter.package_name }}.central import central_statistics as central_statistics
from {{ cookiecutter.package_name }}.partial import partial_statistics as partial_statistics

__all__ = ["central_statistics", "partial_statistics"]
