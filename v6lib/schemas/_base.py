"""Base classes for wire models: strict inputs (unknown fields rejected) and ORM outputs."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Self

import pydantic
from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from v6lib.errors import ValidationError

__all__ = ["MAX_ID", "Base64Str", "DbId", "IdList", "InModel", "Name", "OutModel",
           "vantage6_name"]


class InModel(BaseModel):
    """A request body: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class OutModel(BaseModel):
    """A response body, built from ORM objects or dicts."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_reply(cls, body: Any) -> Self:
        """The server's JSON reply read through this model, as the receiving side does.

        Both sides use the one model, so a reply that changed shape fails here, in the
        receiver's tests too, instead of as a missing key deep in its code. Raises
        :class:`v6lib.errors.ValidationError` naming the model and the fields.
        """
        try:
            return cls.model_validate(body)
        except pydantic.ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(body)"
                               for e in exc.errors())
            raise ValidationError(f"the server's reply does not match {cls.__name__}: {fields}",
                                  details={"model": cls.__name__}) from exc


def _check_base64(value: str) -> str:
    try:
        base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError("must be a base64 string") from exc
    return value


#: Standard base64 with padding (what ``base64.b64encode`` produces).
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
Base64Str = Annotated[str, Field(pattern=BASE64_PATTERN), AfterValidator(_check_base64)]

#: Largest id a client may send: ids are 32-bit integers in every supported database.
MAX_ID = 2_147_483_647
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _none_as_empty(value: object) -> object:
    return [] if value is None else value


#: A list of ids where ``null`` means none (vantage6's client sends ``"rules": null``).
IdList = Annotated[list[DbId], BeforeValidator(_none_as_empty)]


def vantage6_name(name: str, vantage6: str) -> AliasChoices:
    """Accept vantage6's name of a request field beside v6lib's (``roles`` for
    ``role_ids``), so scripts written for vantage6's client work; v6lib's name is the one
    documented and answered."""
    return AliasChoices(name, vantage6)
