"""Record the answers this package was made with, so `v6 algorithm update` can render the
template again with the same answers (v6lib adds the checksums of the files it made).

Also drop any __pycache__ folder: pip compiles the template's modules when it installs
the v6lib wheel that carries the template, and those caches are no part of the package."""

import json
import shutil
from pathlib import Path

CONTEXT = json.loads(r'''{{ cookiecutter | jsonify }}''')
ANSWERS = {key: value for key, value in CONTEXT.items() if not key.startswith("_")}

Path(".v6-template.json").write_text(json.dumps({"answers": ANSWERS}, indent=2) + "\n",
                                     encoding="utf-8")
for cache in sorted(Path(".").rglob("__pycache__"), reverse=True):
    shutil.rmtree(cache)
