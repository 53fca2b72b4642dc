"""``v6 algorithm build`` and ``v6 algorithm run`` as a developer uses them, on Docker.

One package is generated with ``v6 algorithm new``, given a dependency (``tabulate``)
that a new module uses, and built once for the whole module. Its image must carry that
dependency and v6lib's database extras at this environment's versions, and a task on the
local Docker federation must return exactly what the MockNetwork returns on the same data
(CSV, Parquet and Excel files), DataFrame included.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
import requests

from v6lib import serialization
from v6lib.client import Client
from v6lib.demo.data import write_sites
from v6lib.image.lock import ImageMismatchWarning
from v6lib.mock import MockNetwork

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # makes ``tests.docker_support`` importable
    sys.path.insert(0, str(ROOT))

from tests.docker_support import BASE_IMAGE, docker_client  # noqa: E402

__all__ = ["docker_client"]

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

TAG = "v6-algorithm-build:test"
PACKAGE = "table_stats"
TABLE_MODULE = '''"""Per-organization tables, rendered with tabulate (a dependency)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from tabulate import tabulate

from v6lib.wrappers import algorithm_client, data, from_argument


@data(1, columns=from_argument("column"))
def partial_table(df: pd.DataFrame, column: str) -> dict[str, Any]:
    """Count and sum of ``column``, as a frame and as text."""
    values = df[column].dropna()
    frame = pd.DataFrame({"count": [int(values.size)], "sum": [float(values.sum())]})
    return {"frame": frame, "text": tabulate(frame, headers="keys")}


@algorithm_client
def central_table(client: Any, column: str) -> dict[str, Any]:
    """Every organization's frame, stacked under its id, and the table as text."""
    organizations = [org["id"] for org in client.organization.list()]
    task = client.task.create(
        input_={"method": "partial_table", "kwargs": {"column": column}},
        organizations=organizations, name="partial table")
    parts = client.wait_for_results(task["id"])
    frame = pd.concat([part["frame"] for part in parts], keys=organizations,
                      names=["organization", "row"])
    return {"frame": frame, "text": tabulate(frame, headers="keys"),
            "texts": [part["text"] for part in parts]}
'''
# Reads one small SQL, Excel and SPARQL database each with v6lib's readers.
SOURCES_PROBE = '''
import json, os, sqlite3, tempfile
import pandas as pd
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources import load_data
folder = tempfile.mkdtemp()
db = os.path.join(folder, "a.sqlite")
with sqlite3.connect(db) as con:
    con.execute("create table t (age real)")
    con.execute("insert into t values (30), (50)")
workbook = os.path.join(folder, "a.xlsx")
pd.DataFrame({"age": [30.0, 50.0]}).to_excel(workbook, index=False)
graph = os.path.join(folder, "a.ttl")
with open(graph, "w") as fh:
    fh.write("@prefix ex: <http://example.org/> .\\nex:a ex:age 30 .\\nex:b ex:age 50 .\\n")
frames = [load_data(DatabaseSpec("s", f"sqlite:///{db}", "sql", "select age from t")),
          load_data(DatabaseSpec("x", workbook, "excel")),
          load_data(DatabaseSpec("r", graph, "sparql",
                                 "SELECT ?age WHERE { ?p <http://example.org/age> ?age }"))]
print(json.dumps([sorted(float(v) for v in frame["age"]) for frame in frames]))
'''


@dataclass(frozen=True)
class Built:
    package: Path
    output: subprocess.CompletedProcess[str]


def _v6(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``v6 ARGS`` in a subprocess, with this checkout's v6lib first on the path."""
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-c", "from v6lib.cli import main; main(prog_name='v6')", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _add_tabulate(package: Path) -> None:
    pyproject = package / "pyproject.toml"
    text = pyproject.read_text()
    assert 'dependencies = ["v6lib", "pandas>=2.1"]' in text
    pyproject.write_text(text.replace('dependencies = ["v6lib", "pandas>=2.1"]',
                                      'dependencies = ["v6lib", "pandas>=2.1", "tabulate"]'))
    (package / PACKAGE / "table.py").write_text(TABLE_MODULE)
    with (package / PACKAGE / "__init__.py").open("a") as handle:
        handle.write(f"from {PACKAGE}.table import central_table as central_table\n"
                     f"from {PACKAGE}.table import partial_table as partial_table\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Built]:
    """The generated package with tabulate, built once as ``TAG``; removed afterwards."""
    docker_client.images.get(BASE_IMAGE)
    folder = tmp_path_factory.mktemp("algorithm-build")
    created = _v6("algorithm", "new", "--name", "Table stats", "--directory", str(folder),
                  "--no-input", cwd=folder)
    assert created.returncode == 0, created.stderr
    package = folder / PACKAGE
    _add_tabulate(package)
    ci_wheels = ROOT / ".ci" / "wheels" / "deps"  # there after .ci/images.sh
    links = ["--find-links", str(ci_wheels)] if ci_wheels.is_dir() else []
    output = _v6("algorithm", "build", "--tag", TAG, "--base-image", BASE_IMAGE,
                 "--wheelhouse", str(folder / "wheels"), *links, cwd=package)
    assert output.returncode == 0, output.stdout + output.stderr
    yield Built(package, output)
    docker_client.images.remove(TAG, force=True)


def _in_image(*args: str, volumes: dict[str, str] | None = None) -> str:
    mounts = [arg for host, inside in (volumes or {}).items()
              for arg in ("-v", f"{host}:{inside}:ro")]
    done = subprocess.run(["docker", "run", "--rm", "--network", "none", *mounts, TAG, *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_image_has_the_package_s_dependency_at_this_environment_s_version(
        built: Built) -> None:
    lock = (built.package / "v6-image.lock").read_text()

    assert f"tabulate=={metadata.version('tabulate')}\n" in lock
    assert _in_image("python3", "-c", "import tabulate; print(tabulate.__version__)"
                     ).strip() == metadata.version("tabulate")


def test_the_image_is_labelled_with_this_environment_s_versions(
        built: Built, docker_client: Any) -> None:
    image = docker_client.images.get(TAG)

    for package in ("v6lib", "pandas", "numpy", "pyarrow"):
        assert image.labels[f"org.v6lib.version.{package}"] == metadata.version(package)
        assert f"{package} {metadata.version(package)}" in built.output.stderr
    assert "WARNING" not in built.output.stderr
    assert image.attrs["Config"]["Cmd"] == ["python3", "-m", "v6lib.wrappers"]
    assert f"PKG_NAME={PACKAGE}" in image.attrs["Config"]["Env"]


def test_sql_excel_and_sparql_databases_open_in_the_image(
        built: Built, tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(SOURCES_PROBE)

    read = _in_image("python3", "/probe.py", volumes={str(probe): "/probe.py"})

    assert json.loads(read) == [[30.0, 50.0]] * 3


def _sites_of_three_kinds(folder: Path) -> list[Path]:
    """The demo's three patient tables as CSV, Parquet and Excel: every reader is used."""
    csv, second, third = write_sites(folder, seed=6)
    parquet, excel = second.with_suffix(".parquet"), third.with_suffix(".xlsx")
    pd.read_csv(second).to_parquet(parquet)
    pd.read_csv(third).to_excel(excel, index=False)
    return [csv, parquet, excel]


def test_run_on_docker_gives_what_the_mock_network_gives(built: Built, tmp_path: Path) -> None:
    sites = _sites_of_three_kinds(tmp_path / "sites")
    output = tmp_path / "results.v6"
    done = _v6("algorithm", "run", "--image", TAG, "--method", "central_table",
               "--kwargs", json.dumps({"column": "age"}), "--output", str(output),
               *[arg for site in sites for arg in ("--data", str(site))], cwd=built.package)
    assert done.returncode == 0, done.stdout + done.stderr
    [federated] = serialization.loads(output.read_bytes())

    sys.path.insert(0, str(built.package))
    try:
        module = importlib.import_module(PACKAGE)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the image's labels match this environment
            with MockNetwork(module, sites,
                             organization_ids=federated["frame"].index.levels[0].tolist(),
                             image=TAG) as network:
                [mocked] = network.run("central_table", kwargs={"column": "age"})
    finally:
        sys.path.remove(str(built.package))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]

    pd.testing.assert_frame_equal(federated["frame"], mocked["frame"], check_exact=True)
    assert federated["frame"]["count"].tolist() == [1200, 450, 1900]
    assert (federated["text"], federated["texts"]) == (mocked["text"], mocked["texts"])
    assert "organization " in done.stdout and "count" in done.stdout


def test_the_mock_reports_an_image_of_other_versions_with_both(
        built: Built, docker_client: Any, tmp_path: Path) -> None:
    # Only a label differs: a build that adds no layer.
    other = "v6-algorithm-build:other-pandas"
    (tmp_path / "Dockerfile").write_text(f"FROM {TAG}\nLABEL org.v6lib.version.pandas=1.0.0\n")
    docker_client.images.build(path=str(tmp_path), tag=other, rm=True)
    try:
        with pytest.warns(ImageMismatchWarning,
                          match=rf"image {other}.*pandas: image 1\.0\.0, local {pd.__version__}"):
            MockNetwork(ModuleType("any_algorithm"), [pd.DataFrame({"a": [1]})],
                        image=other).close()
    finally:
        docker_client.images.remove(other, force=True)


def _sqlite_sites(folder: Path) -> tuple[list[Path], list[pd.DataFrame]]:
    """The demo's three patient tables as SQLite files (table ``patients``)."""
    paths, frames = [], []
    for csv in write_sites(folder, seed=6):
        frame = pd.read_csv(csv)
        path = csv.with_suffix(".sqlite")
        with sqlite3.connect(path) as connection:
            frame.to_sql("patients", connection, index=False)
        paths.append(path)
        frames.append(frame)
    return paths, frames


def _kept(stderr: str) -> tuple[int, str, Path]:
    """Port, researcher password and stop script that ``--keep`` printed."""
    port = re.search(r"server  http://127\.0\.0\.1:(\d+)/api", stderr)
    password = re.search(r"researcher password: (\S+)\)", stderr)
    stop = re.search(r"Stop it and delete everything:  sh (\S+)", stderr)
    assert port and password and stop, stderr
    return int(port.group(1)), password.group(1), Path(stop.group(1))


def test_sqlite_data_with_a_query_and_a_kept_federation_for_more_tasks(
        built: Built, tmp_path: Path) -> None:
    sites, frames = _sqlite_sites(tmp_path / "sites")
    query = "SELECT * FROM patients"
    data = [arg for site in sites for arg in ("--data", str(site))]
    refused = _v6("algorithm", "run", "--image", TAG, "--method", "central_table", *data,
                  cwd=built.package, timeout=120)  # SQL data without its query
    assert refused.returncode != 0 and "--query" in refused.stderr + refused.stdout
    done = _v6("algorithm", "run", "--image", TAG, "--method", "central_table", "--kwargs",
               json.dumps({"column": "age"}), "--query", query, "--keep", *data,
               "--output", str(tmp_path / "results.v6"), cwd=built.package)
    assert done.returncode == 0, done.stdout + done.stderr
    port, password, stop = _kept(done.stderr)
    try:
        [federated] = serialization.loads((tmp_path / "results.v6").read_bytes())
        expected = [(int(f["age"].dropna().size), float(f["age"].dropna().sum()))
                    for f in frames]
        got = list(zip(federated["frame"]["count"], federated["frame"]["sum"], strict=True))
        assert got == expected  # the SQL rows are the CSV rows, to the last bit
        # the federation is still up: a second task, from a client as a researcher would
        client = Client("http://127.0.0.1", port, "/api", trust_file=None)
        client.authenticate("researcher", password)
        organizations = [int(o) for o in federated["frame"].index.levels[0]]
        task = client.task.create(
            collaboration=client.collaboration.list(all_pages=True)[0]["id"],
            organizations=organizations, name="again", image=TAG,
            input_={"method": "partial_table", "kwargs": {"column": "age"}},
            databases=[{"label": "default", "query": f"{query} WHERE sex = 'F'"}])
        parts = client.wait_for_results(task["id"], timeout=120)
        assert [int(p["frame"]["count"][0]) for p in parts] == \
            [int(f[f["sex"] == "F"]["age"].dropna().size) for f in frames]
    finally:
        subprocess.run(["sh", str(stop)], check=False, timeout=60)
    assert not stop.parent.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
