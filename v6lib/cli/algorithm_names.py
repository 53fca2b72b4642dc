"""The rule an algorithm's package name must follow, checked before anything is written.

The template's own hook refuses the same names, but only after cookiecutter has started
and with a traceback; ``v6 algorithm new`` asks here first so a bad name costs one line.
"""

from __future__ import annotations

import keyword

__all__ = ["SHADOWED_NAMES", "package_name_problem"]

# Names whose import the algorithm's own package would hide, in tests and in the image.
SHADOWED_NAMES = frozenset({"v6lib", "test", "tests", "pandas", "numpy"})


def package_name_problem(package_name: str) -> str | None:
    """Why ``package_name`` cannot name an algorithm package, or None if it can."""
    if not package_name.isidentifier() or keyword.iskeyword(package_name):
        return (
            f"package name {package_name!r} is not a valid Python package name: it must be "
            "letters, digits and underscores, not start with a digit and not be a Python "
            "keyword; choose a --name such as 'Fast statistics' (spaces become underscores)"
        )
    if package_name in SHADOWED_NAMES:
        return (
            f"package name {package_name!r} would hide the package of that name; choose "
            "another --name"
        )
    return None
