"""``/study`` resources."""

from __future__ import annotations

from v6lib.schemas._base import DbId
from v6lib.schemas.study import StudyIn, StudyOut, StudyPatch
from v6lib.schemas.token import Message
from v6lib.server.resources._base import ListQuery, Op
from v6lib.server.resources._crud import Creating, Deleting, Editing, Listing, Reading
from v6lib.server.services import studies as svc

__all__ = ["StudyCollection", "StudyItem"]


class StudyQuery(ListQuery):
    collaboration_id: DbId | None = None
    name: str | None = None


class StudyCollection(Listing, Creating):
    api = {
        "get": Op("List studies", StudyOut, query=StudyQuery, paged=True),
        "post": Op("Create a study", StudyOut, body=StudyIn, status=201,
                   errors=(400, 403, 409)),
    }
    list_rows = staticmethod(svc.list_studies)
    create_row = staticmethod(svc.create_study)


class StudyItem(Reading, Editing, Deleting):
    api = {
        "get": Op("One study", StudyOut, errors=(404,)),
        "patch": Op("Edit a study", StudyOut, body=StudyPatch, errors=(400, 403, 404, 409)),
        "delete": Op("Delete a study", Message, errors=(403, 404)),
    }
    noun = "study"
    get_row = staticmethod(svc.get_study)
    update_row = staticmethod(svc.update_study)
    delete_row = staticmethod(svc.delete_study)
