"""``/organization`` resources."""

from __future__ import annotations

from v6lib.schemas._base import DbId
from v6lib.schemas.organization import OrganizationIn, OrganizationOut, OrganizationPatch
from v6lib.server.resources._base import ListQuery, Op
from v6lib.server.resources._crud import Creating, Editing, Listing, Reading
from v6lib.server.services import organizations as svc

__all__ = ["OrganizationCollection", "OrganizationItem"]


class OrganizationQuery(ListQuery):
    name: str | None = None
    collaboration_id: DbId | None = None


class OrganizationCollection(Listing, Creating):
    api = {
        "get": Op("List organizations", OrganizationOut, query=OrganizationQuery, paged=True),
        "post": Op("Create an organization", OrganizationOut, body=OrganizationIn, status=201,
                   errors=(400, 403, 409)),
    }
    list_rows = staticmethod(svc.list_organizations)
    create_row = staticmethod(svc.create_organization)


class OrganizationItem(Reading, Editing):
    api = {
        "get": Op("One organization", OrganizationOut, errors=(404,)),
        "patch": Op("Edit an organization", OrganizationOut, body=OrganizationPatch,
                    errors=(400, 403, 404, 409)),
    }
    get_row = staticmethod(svc.get_organization)
    update_row = staticmethod(svc.update_organization)
