"""Request and response bodies. Every bound the database has is a bound here, so that a bad request is a 422
with the field's name, never a database error."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

# PostgreSQL text cannot hold NUL; other control characters are refused too.
PLAIN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Z0-9][A-Z0-9-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]
Description = Annotated[str, Field(max_length=4000, pattern=PLAIN)]
PriceCents = Annotated[int, Field(ge=0, le=100_000_000_00)]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: Slug
    name: Name


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    name: str
    created_at: datetime


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Sku
    name: Name
    description: Description = ""
    price_cents: PriceCents
    in_stock: bool = True
    category_id: Id


class ItemPatch(BaseModel):
    """Only the fields sent change; none may be null (omit a field to keep it)."""

    model_config = ConfigDict(extra="forbid")
    # SkipJsonSchema: "null" is not in the published schema; the validator refuses an explicit null.
    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    price_cents: PriceCents | SkipJsonSchema[None] = None
    in_stock: bool | SkipJsonSchema[None] = None
    category_id: Id | SkipJsonSchema[None] = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    sku: str
    name: str
    description: str
    price_cents: int
    in_stock: bool
    category_id: int
    created_at: datetime
    updated_at: datetime


class Problem(BaseModel):
    detail: str


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    expected_revision: str
    replica: str
