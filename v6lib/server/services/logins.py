"""Log-in use cases: users (password, TOTP), nodes (API key), containers, refresh.

User and node logins are throttled per (account, client address) before anything is
checked (``services.login_throttle``), and every failed user login gets the same
answer, whether the name, the password or the two-factor code was wrong.
"""

from __future__ import annotations

from sqlalchemy import select

from v6lib.errors import (
    AuthenticationError,
    ConflictError,
    PermissionDenied,
)
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.token import (
    ContainerTokenIn,
    ContainerTokenOut,
    MfaEnrolmentOut,
    NodeTokenOut,
    RefreshOut,
    UserLogin,
    UserTokenOut,
)
from v6lib.server.auth import mfa
from v6lib.server.auth.passwords import dummy_verify, hash_secret, needs_rehash, verify_secret
from v6lib.server.db.engine import begin_write
from v6lib.server.db.models import Node, Run, Task, User
from v6lib.server.services import login_throttle, node_liveness, nodes
from v6lib.server.services.context import ServiceContext

__all__ = ["BAD_LOGIN", "check_token_generation", "container_token", "login_node",
           "login_user", "refresh_tokens", "token_claims"]

#: The one answer to every failed user login: it never tells which part was wrong, so
#: it cannot reveal that a password was right but the two-factor code missing.
BAD_LOGIN = ("invalid username, password or two-factor code (accounts with two-factor "
             "authentication send the current code as mfa_code)")


def _enrolment(secret: str, username: str, issuer: str) -> MfaEnrolmentOut:
    """The answer that hands out a TOTP secret; only ever given after the password, and
    never with a token: the session starts only at a login that proves the code."""
    uri = mfa.provisioning_uri(secret, username, issuer)
    return MfaEnrolmentOut(
        msg="this server requires two-factor authentication: add the secret to an "
            "authenticator app and log in again with mfa_code",
        otp_secret=secret, qr_uri=uri, provisioning_uri=uri)


def _check_mfa(ctx: ServiceContext, user: User, code: str | None) -> MfaEnrolmentOut | None:
    """Accept the login's TOTP code (None), answer with the enrolment, or raise.

    While the account has not yet used a code (enrolment on a server that requires
    two-factor authentication) a login without one gets the secret (again), so a lost
    answer does not lock the person out; afterwards every missing, wrong or reused code
    gets ``BAD_LOGIN``.
    """
    enrolling = ctx.settings.mfa_required and user.mfa_last_step is None
    if user.mfa_secret is None:
        if not ctx.settings.mfa_required:
            return None
        user.mfa_secret = mfa.new_secret()
        return _enrolment(user.mfa_secret, user.username, ctx.settings.totp_issuer)
    if not code and enrolling:
        return _enrolment(user.mfa_secret, user.username, ctx.settings.totp_issuer)
    step = mfa.matching_step(user.mfa_secret, code, ctx.now())
    if step is None or (user.mfa_last_step is not None and step <= user.mfa_last_step):
        raise AuthenticationError(BAD_LOGIN)
    user.mfa_last_step = step
    return None


def login_user(ctx: ServiceContext, payload: UserLogin, *,
               client: str = "") -> UserTokenOut | MfaEnrolmentOut:
    """Log a user in from the address ``client``: tokens, or the enrolment (the password
    was right and the account must set up two-factor authentication: the TOTP secret).

    An enrolment does not clear the throttle: only a login that proves the code does.

    Raises:
        RateLimitedError: ``client`` made too many attempts on this username lately.
        AuthenticationError: ``BAD_LOGIN``, whatever was wrong.
    """
    subject = login_throttle.user_subject(payload.username)
    # NOTE: read before ``admit`` commits; from then on no transaction is open while
    # the password is checked.
    user = ctx.session.scalars(select(User).where(User.username == payload.username)).first()
    login_throttle.admit(ctx, subject, client)
    if user is None:
        dummy_verify(payload.password)
        raise AuthenticationError(BAD_LOGIN)
    if not verify_secret(user.password_hash, payload.password):
        raise AuthenticationError(BAD_LOGIN)
    begin_write(ctx.session)
    enrolment = _check_mfa(ctx, user, payload.mfa_code)
    if enrolment is not None:
        return enrolment
    login_throttle.forget(ctx, subject, client)
    if needs_rehash(user.password_hash, cost=ctx.settings.kdf_cost):
        # the cost was raised (or lowered) since this hash was made: upgrade it now,
        # the only moment the plain password is at hand
        user.password_hash = hash_secret(payload.password, cost=ctx.settings.kdf_cost)
    api = ctx.settings.api_path
    claims = token_claims(user)
    return UserTokenOut(
        access_token=ctx.tokens.issue_access("user", user.id, claims),
        refresh_token=ctx.tokens.issue_refresh("user", user.id, claims),
        user_url=f"{api}/user/{user.id}", refresh_url=f"{api}/token/refresh")


def login_node(ctx: ServiceContext, api_key: str, *, client: str = "") -> NodeTokenOut:
    """Log a node in with its API key from the address ``client``.

    Attempts are throttled per (key selector, address): an attacker guessing one
    node's secret slows down only itself, and garbage keys share one bucket per
    address, so neither locks out a node behind the same address or proxy.
    """
    key, node = nodes.find_by_key(ctx.session, api_key)
    subject = login_throttle.node_subject(None if key is None else key.selector)
    login_throttle.admit(ctx, subject, client)
    node = nodes.check_key(api_key, key, node)
    begin_write(ctx.session)
    node_liveness.mark_seen(node, ctx.now())
    login_throttle.forget(ctx, subject, client)
    claims = token_claims(node)
    return NodeTokenOut(
        access_token=ctx.tokens.issue_access("node", node.id, claims),
        refresh_token=ctx.tokens.issue_refresh("node", node.id, claims),
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
    node = ctx.session.get(Node, me.node_id)
    assert node is not None  # the caller authenticated as this node
    # NOTE: the node's token generation: a reset of its API key ends these tokens too
    claims = {"run_id": run.id, "task_id": task.id, "job_id": task.job_id,
              "collaboration_id": task.collaboration_id,
              "organization_id": run.organization_id, "node_id": me.node_id,
              "image": task.image, "study_id": task.study_id,
              "databases": [dict(db) for db in task.databases], **token_claims(node)}
    token = ctx.tokens.issue_access("container", run.id, claims,
                                    ttl=ctx.settings.container_token_ttl)
    return ContainerTokenOut(container_token=token)


def refresh_tokens(ctx: ServiceContext, refresh_token: str) -> RefreshOut:
    claims = ctx.tokens.verify(refresh_token, {"user", "node"}, refresh=True)
    kind, subject = claims["kind"], claims["subject_id"]
    subject_row: User | Node | None = (ctx.session.get(User, subject) if kind == "user"
                                       else ctx.session.get(Node, subject))
    if subject_row is None:
        raise AuthenticationError(f"the {kind} of this token no longer exists")
    check_token_generation(subject_row, claims)
    extra = token_claims(subject_row)
    return RefreshOut(access_token=ctx.tokens.issue_access(kind, subject, extra),
                      refresh_token=ctx.tokens.issue_refresh(kind, subject, extra))


def token_claims(subject: User | Node) -> dict[str, int]:
    """The claims a user or node token carries: its subject's current token generation."""
    return {"gen": int(subject.token_generation or 0)}


def check_token_generation(subject: User | Node, claims: dict) -> None:
    """Refuse a token issued before its user's last password change or reset, or before
    its node's last API key reset.

    A counter, not a time: a token issued in the same second as the change is still
    refused. Tokens without the claim count as generation 0.
    """
    if claims.get("gen", 0) != (subject.token_generation or 0):
        what = "password change" if isinstance(subject, User) else "API key reset"
        raise AuthenticationError(f"token issued before the last {what}; log in again")
