"""Log-in use cases: users (password, lockout, TOTP), nodes (API key), containers, refresh."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from v6lib.errors import (
    AuthenticationError,
    ConflictError,
    MFARequiredError,
    PermissionDenied,
)
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.token import (
    ContainerTokenIn,
    ContainerTokenOut,
    NodeTokenOut,
    RefreshOut,
    UserLogin,
    UserTokenOut,
)
from v6lib.server.auth import mfa
from v6lib.server.auth.lockout import lockout_error, next_failed_attempts, remaining_lockout
from v6lib.server.auth.passwords import dummy_verify, hash_secret, needs_rehash, verify_secret
from v6lib.server.db.models import LoginFailure, Node, Run, Task, User
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.nodes import authenticate_node

__all__ = ["check_token_generation", "container_token", "login_node", "login_user",
           "record_failed_login", "refresh_tokens", "user_token_claims"]

_BAD_LOGIN = "invalid username or password"


def record_failed_login(ctx: ServiceContext, user: User) -> None:
    """Count a wrong password or code towards ``user``'s lockout, and commit that."""
    now = ctx.now()
    user.failed_login_attempts = next_failed_attempts(
        user.failed_login_attempts or 0, user.last_failed_login_at, now,
        lockout_minutes=ctx.settings.lockout_minutes)
    user.last_failed_login_at = now
    # NOTE: committed on purpose before the error is raised; the request's rollback
    # must not forget the failed attempt, or lockout could never trigger.
    ctx.session.commit()


def _check_mfa(ctx: ServiceContext, user: User, code: str | None) -> None:
    if user.mfa_secret is None:
        if not ctx.settings.mfa_required:
            return
        user.mfa_secret = mfa.new_secret()
        ctx.session.commit()
        raise MFARequiredError(
            "this server requires two-factor authentication: add the secret to an "
            "authenticator app and log in again with mfa_code",
            details={"otp_secret": user.mfa_secret,
                     "provisioning_uri": mfa.provisioning_uri(user.mfa_secret,
                                                              user.username)})
    if not code:
        raise MFARequiredError("a two-factor code is needed: log in again with mfa_code")
    step = mfa.matching_step(user.mfa_secret, code, ctx.now())
    if step is None or (user.mfa_last_step is not None and step <= user.mfa_last_step):
        record_failed_login(ctx, user)
        raise AuthenticationError("invalid or already used two-factor code")
    user.mfa_last_step = step


def login_user(ctx: ServiceContext, payload: UserLogin) -> UserTokenOut:
    user = ctx.session.scalars(select(User).where(User.username == payload.username)).first()
    if user is None:
        dummy_verify(payload.password)
        raise AuthenticationError(_BAD_LOGIN)
    left = remaining_lockout(user.failed_login_attempts or 0, user.last_failed_login_at,
                             ctx.now(), max_attempts=ctx.settings.max_failed_logins,
                             lockout_minutes=ctx.settings.lockout_minutes)
    if left:
        raise lockout_error(left)
    if not verify_secret(user.password_hash, payload.password):
        record_failed_login(ctx, user)
        raise AuthenticationError(_BAD_LOGIN)
    _check_mfa(ctx, user, payload.mfa_code)
    user.failed_login_attempts = 0
    user.last_failed_login_at = None
    if needs_rehash(user.password_hash, cost=ctx.settings.kdf_cost):
        # the cost was raised (or lowered) since this hash was made: upgrade it now,
        # the only moment the plain password is at hand
        user.password_hash = hash_secret(payload.password, cost=ctx.settings.kdf_cost)
    api = ctx.settings.api_path
    claims = user_token_claims(user)
    return UserTokenOut(
        access_token=ctx.tokens.issue_access("user", user.id, claims),
        refresh_token=ctx.tokens.issue_refresh("user", user.id, claims),
        user_url=f"{api}/user/{user.id}", refresh_url=f"{api}/token/refresh")


def _node_failures(ctx: ServiceContext, client: str) -> LoginFailure | None:
    return ctx.session.get(LoginFailure, f"node:{client}"[:100])


def _record_node_failure(ctx: ServiceContext, client: str,
                         row: LoginFailure | None) -> None:
    now = ctx.now()
    if row is None:
        row = LoginFailure(key=f"node:{client}"[:100], failed_attempts=0)
        ctx.session.add(row)
    row.failed_attempts = next_failed_attempts(
        row.failed_attempts or 0, row.last_failed_at, now,
        lockout_minutes=ctx.settings.lockout_minutes)
    row.last_failed_at = now
    try:
        # NOTE: committed before the error is raised, as for users (see record_failed_login)
        ctx.session.commit()
    except IntegrityError:  # a concurrent failure from the same address created the row
        ctx.session.rollback()


def login_node(ctx: ServiceContext, api_key: str, *, client: str = "") -> NodeTokenOut:
    """Log a node in. Bad API keys are counted per client address: after
    ``max_failed_logins`` of them that address waits ``lockout_minutes`` (429)."""
    failures = _node_failures(ctx, client)
    if failures is not None:
        left = remaining_lockout(failures.failed_attempts or 0, failures.last_failed_at,
                                 ctx.now(), max_attempts=ctx.settings.max_failed_logins,
                                 lockout_minutes=ctx.settings.lockout_minutes)
        if left:
            raise lockout_error(left)
    try:
        node = authenticate_node(ctx, api_key)
    except AuthenticationError:
        _record_node_failure(ctx, client, failures)
        raise
    if failures is not None:
        ctx.session.delete(failures)
    return NodeTokenOut(
        access_token=ctx.tokens.issue_access("node", node.id),
        refresh_token=ctx.tokens.issue_refresh("node", node.id),
        node_url=f"{ctx.settings.api_path}/node/{node.id}", id=node.id)


_STARTABLE = {RunStatus.INITIALIZING.value, RunStatus.ACTIVE.value}


def container_token(ctx: ServiceContext, payload: ContainerTokenIn) -> ContainerTokenOut:
    """A token for the algorithm container of one of the calling node's runs."""
    me = ctx.me
    if not me.is_node:
        raise PermissionDenied("only a node may request a container token")
    run = ctx.session.get(Run, payload.run_id)
    task = ctx.session.get(Task, run.task_id) if run is not None else None
    if run is None or task is None or run.organization_id != me.organization_id or \
            task.collaboration_id not in me.collaboration_ids:
        raise PermissionDenied(f"run {payload.run_id} is not a run of this node")
    if run.status not in _STARTABLE:
        raise ConflictError(
            f"run {run.id} is {run.status!r}; container tokens are only issued for "
            "initializing or active runs")
    if payload.image != task.image:
        raise PermissionDenied(f"image {payload.image!r} is not the image of task {task.id}")
    claims = {"run_id": run.id, "task_id": task.id, "job_id": task.job_id,
              "collaboration_id": task.collaboration_id,
              "organization_id": run.organization_id, "node_id": me.node_id,
              "image": task.image}
    token = ctx.tokens.issue_access("container", run.id, claims,
                                    ttl=ctx.settings.container_token_ttl)
    return ContainerTokenOut(container_token=token)


def refresh_tokens(ctx: ServiceContext, refresh_token: str) -> RefreshOut:
    claims = ctx.tokens.verify(refresh_token, {"user", "node"}, refresh=True)
    kind, subject = claims["kind"], claims["subject_id"]
    model = User if kind == "user" else Node
    subject_row = ctx.session.get(model, subject)
    if subject_row is None:
        raise AuthenticationError(f"the {kind} of this token no longer exists")
    extra: dict[str, int] = {}
    if isinstance(subject_row, User):
        check_token_generation(subject_row, claims)
        extra = user_token_claims(subject_row)
    return RefreshOut(access_token=ctx.tokens.issue_access(kind, subject, extra),
                      refresh_token=ctx.tokens.issue_refresh(kind, subject, extra))


def user_token_claims(user: User) -> dict[str, int]:
    """The claims a user token carries: the user's current token generation."""
    return {"gen": int(user.token_generation or 0)}


def check_token_generation(user: User, claims: dict) -> None:
    """Refuse a user token issued before the user's last password change or reset.

    A counter, not a time: a token issued in the same second as the change is still
    refused. Tokens without the claim count as generation 0.
    """
    if claims.get("gen", 0) != (user.token_generation or 0):
        raise AuthenticationError("token issued before the last password change; "
                                  "log in again")
