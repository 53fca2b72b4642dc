// The permission engine's ``can`` (v6lib/server/permissions/policy.py), read from
// GET /permissions, so the UI shows only what the server would allow. It only hides
// buttons: the server judges every request itself. tests/browser/test_permissions_parity.py
// checks this against the Python engine.

export function scopes(me, resource, operation) {
  return new Set(me.rules.filter((r) => r.name === resource && r.operation === operation)
    .map((r) => r.scope));
}

export function can(me, operation, resource,
  { organizationIds = [], collaborationId = null, ownerId = null } = {}) {
  const orgs = new Set(organizationIds.filter((o) => o !== null && o !== undefined));
  for (const scope of scopes(me, resource, operation)) {
    if (scope === "global") return true;
    if (scope === "collaboration") {
      if (collaborationId !== null && collaborationId !== undefined) {
        if (me.collaboration_ids.includes(collaborationId)) return true;
      } else if (orgs.size && [...orgs].every((o) => me.collab_org_ids.includes(o))) {
        return true;
      }
    }
    if (scope === "organization" && orgs.has(me.organization_id)) return true;
    if (scope === "own" && ownerId !== null && ownerId !== undefined && ownerId === me.user_id) {
      return true;
    }
  }
  return false;
}

// ``require_own_organization``: node credentials and an organization's key stay with
// the organization itself (or root), whatever a collaboration-wide role says.
export function canForOwnOrganization(me, operation, resource, organizationId) {
  const granted = scopes(me, resource, operation);
  return granted.has("global")
    || (granted.has("organization") && me.organization_id === organizationId);
}

export function mayAtAll(me, operation, resource) {
  return scopes(me, resource, operation).size > 0;
}
