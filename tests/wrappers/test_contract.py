"""The container contract: writing and reading the environment, and the run layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from v6lib.errors import ConfigurationError, DataError
from v6lib.wrappers.contract import (
    CONTRACT_VARIABLES,
    ContainerEnv,
    DatabaseSpec,
    contract_environment,
    database_env,
    database_env_names,
    get_env_var,
    run_paths,
)

BASE_ENV = {"INPUT_FILE": "/mnt/in", "OUTPUT_FILE": "/mnt/out", "TOKEN_FILE": "/mnt/token"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    def make(**extra: str) -> ContainerEnv:
        for key in ("TEMPORARY_FOLDER", "HOST", "PORT", "API_PATH", "PKG_NAME",
                    "USER_REQUESTED_DATABASE_LABELS"):
            monkeypatch.delenv(key, raising=False)
        for key, value in {**BASE_ENV, **extra}.items():
            monkeypatch.setenv(key, value)
        return ContainerEnv.from_environ()

    return make


def test_paths_and_defaults(env) -> None:
    parsed = env()
    assert parsed.input_file == Path("/mnt/in")
    assert parsed.output_file == Path("/mnt/out")
    assert parsed.token_file == Path("/mnt/token")
    assert parsed.temporary_folder is None
    assert parsed.api_path == "/api"
    assert parsed.user_requested_database_labels == []
    assert parsed.databases() == []
    assert parsed.server_url() is None


def test_labels_are_split_on_commas_in_order(env) -> None:
    parsed = env(USER_REQUESTED_DATABASE_LABELS=" second, first ,,third",
                 TEMPORARY_FOLDER="/mnt/tmp", PKG_NAME="average", PORT="7654")
    assert parsed.user_requested_database_labels == ["second", "first", "third"]
    assert parsed.temporary_folder == Path("/mnt/tmp")
    assert parsed.pkg_name == "average"
    assert parsed.port == 7654


@pytest.mark.parametrize(
    ("host", "port", "api_path", "url"),
    [
        ("172.18.0.1", "7654", "/api", "http://172.18.0.1:7654/api"),
        ("http://proxy/", "80", "api/", "http://proxy:80/api"),
        ("https://proxy.example", None, "/", "https://proxy.example"),
    ],
)
def test_server_url(env, host: str, port: str | None, api_path: str, url: str) -> None:
    extra = {"HOST": host, "API_PATH": api_path}
    if port:
        extra["PORT"] = port
    assert env(**extra).server_url() == url


def test_databases_read_per_label_variables(env, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = env(USER_REQUESTED_DATABASE_LABELS="beta,alpha")
    monkeypatch.setenv("ALPHA_DATABASE_URI", "/data/a.csv")
    monkeypatch.setenv("ALPHA_DATABASE_TYPE", "CSV")
    monkeypatch.setenv("BETA_DATABASE_URI", "sqlite:///b.db")
    monkeypatch.setenv("BETA_DATABASE_TYPE", "sql")
    monkeypatch.setenv("BETA_QUERY", "SELECT * FROM t")
    assert parsed.databases() == [
        DatabaseSpec(label="beta", uri="sqlite:///b.db", type="sql", query="SELECT * FROM t"),
        DatabaseSpec(label="alpha", uri="/data/a.csv", type="csv", query=None),
    ]


def test_databases_from_explicit_mapping(env) -> None:
    parsed = env(USER_REQUESTED_DATABASE_LABELS="default")
    environ = {"DEFAULT_DATABASE_URI": "/d.parquet", "DEFAULT_DATABASE_TYPE": "parquet"}
    assert parsed.databases(environ) == [DatabaseSpec("default", "/d.parquet", "parquet")]


@pytest.mark.parametrize("missing", ["DEFAULT_DATABASE_URI", "DEFAULT_DATABASE_TYPE"])
def test_missing_database_variable_names_label_and_variable(env, missing: str) -> None:
    parsed = env(USER_REQUESTED_DATABASE_LABELS="default")
    environ = {"DEFAULT_DATABASE_URI": "/d.csv", "DEFAULT_DATABASE_TYPE": "csv"}
    del environ[missing]
    with pytest.raises(DataError) as info:
        parsed.databases(environ)
    assert "'default'" in str(info.value)
    assert missing in str(info.value)


def test_database_env_is_the_inverse_of_databases(env) -> None:
    specs = [DatabaseSpec("Mixed", "/x.csv", "csv"), DatabaseSpec("q", "db://", "sql", "SELECT 1")]
    environ: dict[str, str] = {}
    for spec in specs:
        environ.update(database_env(spec))
    assert database_env_names("Mixed") == ("MIXED_DATABASE_URI", "MIXED_DATABASE_TYPE",
                                           "MIXED_QUERY")
    assert "Q_QUERY" in environ and "MIXED_QUERY" not in environ
    parsed = env(USER_REQUESTED_DATABASE_LABELS="Mixed,q")
    assert parsed.databases(environ) == specs


def test_missing_variables_are_all_named() -> None:
    environ = {"OUTPUT_FILE": "/mnt/out", "TOKEN_FILE": "", "PORT": "80a"}  # "" is unset
    with pytest.raises(ConfigurationError) as info:
        ContainerEnv.from_environ(environ)
    message = str(info.value)
    assert message.startswith("the container environment is incomplete or invalid (")
    assert "INPUT_FILE: is required" in message and "TOKEN_FILE: is required" in message
    assert "PORT: must be a whole number, got '80a'" in message
    assert "OUTPUT_FILE" not in message


def test_names_are_matched_case_insensitively_and_others_ignored() -> None:
    parsed = ContainerEnv.from_environ({"input_file": "/i", "Output_File": "/o",
                                       "TOKEN_FILE": "/t", "Host": "proxy", "UNRELATED": "x"})
    assert (parsed.input_file, parsed.output_file, parsed.host) == (Path("/i"), Path("/o"),
                                                                    "proxy")
    assert parsed.server_url() == "http://proxy/api"


# ------------------------------------------------------------------ writing, then reading

DATABASES = [
    DatabaseSpec("site", "/mnt/data/site/site.csv", "csv"),
    DatabaseSpec("Remote", "postgresql://db.example/x", "sql", "SELECT * FROM t"),
]
#: every variable of the contract, and a database variable of each kind, as a node's
#: extra environment might (wrongly) carry them, in other cases too
HOSTILE_EXTRA = {
    **dict.fromkeys(CONTRACT_VARIABLES, "from-extra"),
    "input_file": "/evil", "Port": "1", "proxy_socket": "/evil.sock",
    "SITE_DATABASE_URI": "/evil.csv", "site_database_type": "sql", "SITE_QUERY": "x",
    "REMOTE_QUERY": "DROP TABLE t", "remote_database_uri": "sqlite:///evil.db",
    "HOME": "/tmp", "OTHER_DATABASE_URI": "/not/requested.csv",
}


def _write(**overrides: object) -> dict[str, str]:
    values: dict[str, object] = {
        "input_file": Path("/mnt/input"), "output_file": "/mnt/output/output",
        "token_file": Path("/mnt/token"), "temporary_folder": Path("/mnt/tmp"),
        "host": "http://127.0.0.1", "port": 7654, "api_path": "/api/v2",
        "proxy_socket": Path("/mnt/proxy/proxy.sock"), "databases": DATABASES,
        "pkg_name": "v6_average", "extra": HOSTILE_EXTRA,
    }
    values.update(overrides)
    return contract_environment(**values)  # type: ignore[arg-type]


def test_written_environment_reads_back_as_the_same_typed_values() -> None:
    environ = _write()
    env = ContainerEnv.from_environ(environ)

    assert env == ContainerEnv(
        input_file=Path("/mnt/input"), output_file=Path("/mnt/output/output"),
        token_file=Path("/mnt/token"), temporary_folder=Path("/mnt/tmp"),
        host="http://127.0.0.1", port=7654, api_path="/api/v2",
        proxy_socket=Path("/mnt/proxy/proxy.sock"),
        user_requested_database_labels=["site", "Remote"], pkg_name="v6_average",
    )
    assert env.databases(environ) == DATABASES
    assert env.server_url() == "http://127.0.0.1:7654/api/v2"


def test_extras_cannot_override_the_contract_but_others_pass() -> None:
    environ = _write()

    assert "from-extra" not in environ.values()
    assert not [name for name in environ if name.upper() in CONTRACT_VARIABLES
                and name != name.upper()]
    assert environ["SITE_DATABASE_URI"] == "/mnt/data/site/site.csv"
    assert environ["SITE_DATABASE_TYPE"] == "csv"
    assert "SITE_QUERY" not in environ and "site_database_type" not in environ
    assert environ["REMOTE_QUERY"] == "SELECT * FROM t"
    assert "remote_database_uri" not in environ
    assert environ["HOME"] == "/tmp"
    assert environ["OTHER_DATABASE_URI"] == "/not/requested.csv"  # not the run's label


def test_optional_variables_left_out_read_back_as_their_defaults() -> None:
    environ = _write(temporary_folder=None, host=None, port=None, proxy_socket=None,
                     pkg_name=None, databases=[], extra={"PROXY_SOCKET": "/evil.sock"})
    env = ContainerEnv.from_environ(environ)

    assert set(environ) == {"INPUT_FILE", "OUTPUT_FILE", "TOKEN_FILE", "API_PATH",
                            "USER_REQUESTED_DATABASE_LABELS"}
    assert (env.temporary_folder, env.host, env.port, env.proxy_socket, env.pkg_name) == (
        None, None, None, None, None)
    assert env.user_requested_database_labels == []
    assert env.databases(environ) == []


@pytest.mark.parametrize("labels", [["a,b"], [""], ["site", "SITE"]])
def test_labels_the_list_cannot_carry_are_refused(labels: list[str]) -> None:
    with pytest.raises(ConfigurationError, match="database labels"):
        _write(databases=[DatabaseSpec(label, "/d.csv", "csv") for label in labels])


def test_run_paths_keep_a_run_folder_and_a_job_temporary_folder(tmp_path: Path) -> None:
    paths = run_paths(tmp_path, job_id=4, run_id=9)

    assert paths.run_dir == tmp_path / "jobs" / "4" / "9"
    assert (paths.input_file, paths.output_file, paths.token_file) == (
        paths.run_dir / "input", paths.run_dir / "output" / "output", paths.run_dir / "token")
    assert paths.output_dir == paths.run_dir / "output"
    assert paths.temporary_folder == tmp_path / "jobs" / "4" / "tmp"
    assert paths.job_dir == tmp_path / "jobs" / "4"


@pytest.mark.parametrize(("value", "as_type", "expected"), [
    ("plain text", "str", "plain text"),
    ("ABCDEFGH", "str", "ABCDEFGH"),  # valid base32, yet the node's value is plain text
    ("42", "int", 42),
    ("yes", "bool", True),
    ("F", "bool", False),
])
def test_get_env_var_converts(monkeypatch: pytest.MonkeyPatch, value: str, as_type: str,
                              expected: object) -> None:
    monkeypatch.setenv("MY_SETTING", value)
    assert get_env_var("MY_SETTING", as_type=as_type) == expected


def test_get_env_var_default_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_SETTING", raising=False)
    assert get_env_var("MY_SETTING") is None
    assert get_env_var("MY_SETTING", "7", as_type="int") == 7
    monkeypatch.setenv("MY_SETTING", "maybe")
    with pytest.raises(ConfigurationError, match="MY_SETTING is 'maybe'; use true or false"):
        get_env_var("MY_SETTING", as_type="bool")
    with pytest.raises(ConfigurationError, match="not a whole number"):
        get_env_var("MY_SETTING", as_type="int")
    with pytest.raises(ConfigurationError, match="as_type must be"):
        get_env_var("MY_SETTING", as_type="float")
