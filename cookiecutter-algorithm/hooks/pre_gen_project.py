"""Refuse a package name Python cannot import, before anything is written.

`v6 algorithm new` checks the same rule before it starts cookiecutter; this hook is the
guard for a template run through cookiecutter itself."""

import keyword
import sys

PACKAGE_NAME = "{{ cookiecutter.package_name }}"

if not PACKAGE_NAME.isidentifier() or keyword.iskeyword(PACKAGE_NAME):
    print(
        f"ERROR: package_name {PACKAGE_NAME!r} is not a valid Python package name: use "
        "letters, digits and underscores, not starting with a digit (e.g. 'my_algorithm'); "
        "choose an algorithm_name that yields one",
        file=sys.stderr,
    )
    sys.exit(1)
if PACKAGE_NAME in {"v6lib", "test", "tests", "pandas", "numpy"}:
    print(f"ERROR: package_name {PACKAGE_NAME!r} would shadow another package; pick another",
          file=sys.stderr)
    sys.exit(1)
