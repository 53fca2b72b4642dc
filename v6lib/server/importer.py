"""Batch import of organizations, users and collaborations from a YAML file.

The format is vantage6's ``vserver import`` file::

    organizations:
      - name: IKNL
        domain: iknl.nl
        address1: ...
        users:
          - {username: admin, firstname: a, lastname: b, password: ..., email: ...}
        public_key: <base64 PEM>
    collaborations:
      - name: ZEPPELIN
        encrypted: false
        participants:
          - {name: IKNL, api_key: <selector>.<secret>}   # optional
        tasks: ["hello-world"]   # accepted and ignored

Idempotent by name: an existing organization, user, collaboration or node is updated
(participants are added, a given API key replaces the node's key), never duplicated.
Imported users get the Root role, as in vantage6. Errors name the entry at fault.

Every user's password must meet the server's password policy, like a password set through
the API: the whole file is checked before anything is written, so a weak password leaves
the database untouched, and the error names the user, its place in the file and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from v6lib.config.server import PasswordPolicy
from v6lib.errors import ValidationError
from v6lib.server.auth.api_keys import parse_api_key
from v6lib.server.auth.passwords import DEFAULT_COST, KdfCost, check_password_policy, hash_secret
from v6lib.server.bootstrap import ensure_default_roles, ensure_rules
from v6lib.server.db.models import Collaboration, Node, Organization, User
from v6lib.server.permissions.roles import ROOT_ROLE
from v6lib.server.services.nodes import issue_api_key, set_api_key

__all__ = ["ImportFile", "ImportReport", "check_passwords", "import_data", "import_file"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportUser(_Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1)
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None


class ImportOrganization(_Strict):
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = None
    address1: str | None = None
    address2: str | None = None
    zipcode: str | int | None = None
    country: str | None = None
    public_key: str | None = None
    users: list[ImportUser] = Field(default_factory=list)


class ImportParticipant(_Strict):
    name: str
    api_key: str | None = None

    @field_validator("api_key")
    @classmethod
    def _key_format(cls, value: str | None) -> str | None:
        if value is not None and parse_api_key(value) is None:
            # NOTE: vantage6 files carry UUID keys; they cannot be found without storing a
            # digest of the secret, so they are refused rather than silently replaced.
            raise ValueError("a node API key has the form <selector>.<secret> (16 and at "
                             "least 32 URL-safe base64 characters); leave api_key out to "
                             "have a key generated and printed")
        return value


class ImportCollaboration(_Strict):
    name: str = Field(min_length=1, max_length=200)
    encrypted: bool = False
    participants: list[ImportParticipant] = Field(default_factory=list)
    tasks: list[Any] = Field(default_factory=list)


class ImportFile(_Strict):
    organizations: list[ImportOrganization] = Field(default_factory=list)
    collaborations: list[ImportCollaboration] = Field(default_factory=list)


@dataclass
class ImportReport:
    """What changed; ``api_keys`` holds keys generated for nodes the file gave none."""

    organizations: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    collaborations: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    api_keys: dict[str, str] = field(default_factory=dict)


def _organization(session: Session, spec: ImportOrganization) -> Organization:
    org = session.scalars(select(Organization).where(Organization.name == spec.name)).first()
    if org is None:
        org = Organization(name=spec.name)
        session.add(org)
    for key in ("domain", "address1", "address2", "country", "public_key"):
        value = getattr(spec, key)
        if value is not None:
            setattr(org, key, value)
    if spec.zipcode is not None:
        org.zipcode = str(spec.zipcode)
    session.flush()
    return org


def _user(session: Session, org: Organization, spec: ImportUser, root_role: Any,
          cost: KdfCost) -> User:
    user = session.scalars(select(User).where(User.username == spec.username)).first()
    if user is not None and user.organization_id != org.id:
        raise ValidationError(f"users: username {spec.username!r} already belongs to "
                              f"another organization")
    if user is None:
        user = User(username=spec.username, organization_id=org.id,
                    password_hash=hash_secret(spec.password, cost=cost), roles=[root_role])
        session.add(user)
    for key in ("firstname", "lastname", "email"):
        value = getattr(spec, key)
        if value is not None:
            setattr(user, key, value)
    session.flush()
    return user


def _collaboration(session: Session, spec: ImportCollaboration, report: ImportReport,
                   cost: KdfCost) -> None:
    collab = session.scalars(select(Collaboration).where(
        Collaboration.name == spec.name)).first()
    if collab is None:
        collab = Collaboration(name=spec.name, encrypted=spec.encrypted, organizations=[])
        session.add(collab)
    collab.encrypted = spec.encrypted
    for participant in spec.participants:
        org = session.scalars(select(Organization).where(
            Organization.name == participant.name)).first()
        if org is None:
            raise ValidationError(
                f"collaborations[{spec.name}].participants: unknown organization "
                f"{participant.name!r} (list it under organizations first)")
        if org.id not in collab.organization_ids:
            collab.organizations.append(org)
        session.flush()
        node = session.scalars(select(Node).where(
            Node.organization_id == org.id, Node.collaboration_id == collab.id)).first()
        label = f"{org.name} - {collab.name}"
        if node is None:
            node = Node(name=label, organization_id=org.id, collaboration_id=collab.id,
                        status="offline")
            if participant.api_key is None:
                report.api_keys[label] = issue_api_key(node, cost)
            else:
                set_api_key(node, participant.api_key, cost)
            session.add(node)
            report.nodes.append(label)
        elif participant.api_key is not None:
            set_api_key(node, participant.api_key, cost)
    session.flush()
    report.collaborations.append(spec.name)


def check_passwords(spec: ImportFile, policy: PasswordPolicy) -> None:
    """Refuse the file if any user's password breaks ``policy``, before anything is written.

    Raises:
        ValidationError: naming the user, its path in the file (e.g.
            ``organizations[0].users[1]``) and the rules its password fails.
    """
    for o, org in enumerate(spec.organizations):
        for u, user in enumerate(org.users):
            where = f"organizations[{o}].users[{u}]"
            try:
                check_password_policy(user.password, policy, username=user.username)
            except ValidationError as exc:
                failed = list(exc.details.get("failed", []))
                raise ValidationError(
                    f"import file: {where} (user {user.username!r} of organization "
                    f"{org.name!r}): {exc.message}; nothing was imported",
                    details={"field": f"{where}.password", "username": user.username,
                             "failed": failed}) from None


def import_data(session: Session, data: Any, *, kdf_cost: KdfCost = DEFAULT_COST,
                password_policy: PasswordPolicy | None = None) -> ImportReport:
    """Import an already parsed document in the caller's transaction.

    ``password_policy`` is the server's (``ServerConfig.password_policy``); without one
    the default policy applies. Passwords are checked before the first write, and every
    write is only flushed, so a failing import leaves nothing once the caller rolls back.
    """
    try:
        spec = ImportFile.model_validate(data if data is not None else {})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationError(f"import file: {where}: {first['msg']}",
                              details={"field": where}) from None
    check_passwords(spec, password_policy or PasswordPolicy())
    roles = ensure_default_roles(session, ensure_rules(session))
    report = ImportReport()
    for org_spec in spec.organizations:
        org = _organization(session, org_spec)
        report.organizations.append(org.name)
        for user_spec in org_spec.users:
            report.users.append(_user(session, org, user_spec, roles[ROOT_ROLE],
                                      kdf_cost).username)
    for collab_spec in spec.collaborations:
        _collaboration(session, collab_spec, report, kdf_cost)
    return report


def import_file(session: Session, path: str | Path, *, kdf_cost: KdfCost = DEFAULT_COST,
                password_policy: PasswordPolicy | None = None) -> ImportReport:
    """Read ``path`` and import it; the caller commits (and rolls back on an error)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"{path}: import file not found") from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path}: invalid YAML: {exc}") from None
    return import_data(session, data, kdf_cost=kdf_cost, password_policy=password_policy)
