"""Typed server and node configuration read from YAML, with environment overrides.

Why: a typo in a config file must fail loudly at start-up with the file and key named
(``node.yaml: databases.default.type: must be one of csv, parquet, sql, omop, sparql, excel``),
not surface as a confusing error mid-task. Unknown keys are rejected, except the vantage6
keys listed in ``_VANTAGE6_*`` (accepted for compatibility, ignored when unused here). The
vantage6 ``application:``/``environments:`` wrappers, the list form of ``databases`` and the
top-level ``allowed_images`` are accepted and normalized.

Precedence: keyword overrides given to the loader > environment (``V6_SERVER_`` /
``V6_NODE_`` prefix, ``__`` between nested keys, e.g. ``V6_NODE_ENCRYPTION__ENABLED=true``;
values starting with ``[`` or ``{`` are parsed as JSON) > YAML file > defaults. Environment
variables that do not name a known top-level field are ignored (the prefix is shared with
other tools); unknown keys in the file are errors. Relative paths in a file are resolved
against the file's directory.
"""

from __future__ import annotations

from v6lib.config.common import LoggingConfig as LoggingConfig
from v6lib.config.common import user_data_dir as user_data_dir
from v6lib.config.loader import load_node_config as load_node_config
from v6lib.config.loader import load_server_config as load_server_config
from v6lib.config.node import ContainerLimits as ContainerLimits
from v6lib.config.node import DatabaseConfig as DatabaseConfig
from v6lib.config.node import DockerRegistry as DockerRegistry
from v6lib.config.node import EncryptionConfig as EncryptionConfig
from v6lib.config.node import NodeConfig as NodeConfig
from v6lib.config.node import NodePolicies as NodePolicies
from v6lib.config.server import PasswordPolicy as PasswordPolicy
from v6lib.config.server import ServerConfig as ServerConfig
from v6lib.config.server import SmtpConfig as SmtpConfig

__all__ = [
    "ContainerLimits",
    "DatabaseConfig",
    "DockerRegistry",
    "EncryptionConfig",
    "LoggingConfig",
    "NodeConfig",
    "NodePolicies",
    "PasswordPolicy",
    "ServerConfig",
    "SmtpConfig",
    "load_node_config",
    "load_server_config",
    "user_data_dir",
]
