"""/api/v1: categories and items. Reads use the read session (the replica when configured), writes the primary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog import schemas
from catalog.db import sessions
from catalog.models import Category, Item

MAX_PAGE = 100
RowT = TypeVar("RowT", Category, Item)
router = APIRouter(prefix="/api/v1", tags=["catalog"])
ItemId = Annotated[int, Path(ge=1, le=2_147_483_647)]
CategoryId = Annotated[int, Path(ge=1, le=2_147_483_647)]
Offset = Annotated[int, Query(ge=0, le=100_000, description="Records to skip")]
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"model": schemas.Problem, "description": "No such record"}}
CONFLICT: Responses = {409: {"model": schemas.Problem, "description": "The unique key is taken"}}
UNAVAILABLE: Responses = {503: {"model": schemas.Problem, "description": "The database is unreachable"}}
# A body that is not UTF-8 JSON at all: FastAPI answers 400 before validation (found by the DAST run, `make dast`).
BAD_BODY: Responses = {400: {"model": schemas.Problem, "description": "The body cannot be parsed as JSON"}}


def read_session(request: Request) -> Iterator[Session]:
    yield from sessions(request.app.state.db.read_sessions)


def write_session(request: Request) -> Iterator[Session]:
    yield from sessions(request.app.state.db.write_sessions)


ReadDB = Annotated[Session, Depends(read_session)]
WriteDB = Annotated[Session, Depends(write_session)]


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size (at most {MAX_PAGE})")]


def invalid(loc: tuple[str, ...], msg: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


def paginate(db: Session, query: Select[Any], limit: int, offset: int) -> dict[str, Any]:
    total = db.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = db.execute(query.limit(limit).offset(offset)).scalars().all()
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


def commit(db: Session, what: str, key: str) -> None:
    """Commit, turning constraint violations into 409 (unique key) or 422 (unknown category)."""
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate == "23505":
            raise HTTPException(status.HTTP_409_CONFLICT, f"{what} {key} already exists") from None
        if sqlstate == "23503":
            raise invalid(("body", "category_id"), "category does not exist", "foreign_key") from None
        raise


def insert(db: Session, row: RowT, what: str, key: str) -> RowT:
    db.add(row)
    commit(db, what, key)
    return row


@router.get("/categories", response_model=schemas.Page[schemas.CategoryOut], responses=UNAVAILABLE)
def list_categories(db: ReadDB, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    return paginate(db, select(Category).order_by(Category.slug), limit, offset)


@router.post(
    "/categories",
    response_model=schemas.CategoryOut,
    status_code=status.HTTP_201_CREATED,
    responses={**BAD_BODY, **CONFLICT, **UNAVAILABLE},
)
def create_category(body: schemas.CategoryIn, db: WriteDB) -> Category:
    return insert(db, Category(**body.model_dump()), "category", body.slug)


@router.get("/categories/{category_id}", response_model=schemas.CategoryOut, responses={**NOT_FOUND, **UNAVAILABLE})
def get_category(category_id: CategoryId, db: ReadDB) -> Category:
    category = db.get(Category, category_id)
    if category is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"category {category_id} not found")
    return category


@router.get("/items", response_model=schemas.Page[schemas.ItemOut], responses=UNAVAILABLE)
def list_items(
    *,
    db: ReadDB,
    limit: Limit = 20,
    offset: Offset = 0,
    category_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=schemas.PLAIN)] = None,
    min_price: Annotated[int | None, Query(ge=0, le=100_000_000_00)] = None,
    max_price: Annotated[int | None, Query(ge=0, le=100_000_000_00)] = None,
    in_stock: bool | None = None,
    # min_price above max_price is a valid query that matches nothing (not an error).
    sort: Literal["id", "name", "price", "-price", "-created"] = "id",
) -> dict[str, Any]:
    query = select(Item)
    if category_id is not None:
        query = query.where(Item.category_id == category_id)
    if q is not None:
        pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Item.name.ilike(f"%{pattern}%", escape="\\"))
    if min_price is not None:
        query = query.where(Item.price_cents >= min_price)
    if max_price is not None:
        query = query.where(Item.price_cents <= max_price)
    if in_stock is not None:
        query = query.where(Item.in_stock.is_(in_stock))
    order = {
        "id": (Item.id,),
        "name": (Item.name, Item.id),
        "price": (Item.price_cents, Item.id),
        "-price": (Item.price_cents.desc(), Item.id),
        "-created": (Item.created_at.desc(), Item.id.desc()),
    }[sort]
    return paginate(db, query.order_by(*order), limit, offset)


@router.post(
    "/items",
    response_model=schemas.ItemOut,
    status_code=status.HTTP_201_CREATED,
    responses={**BAD_BODY, **CONFLICT, **UNAVAILABLE},
)
def create_item(body: schemas.ItemIn, db: WriteDB) -> Item:
    return insert(db, Item(**body.model_dump()), "item", body.sku)


@router.get("/items/{item_id}", response_model=schemas.ItemOut, responses={**NOT_FOUND, **UNAVAILABLE})
def get_item(item_id: ItemId, db: ReadDB) -> Item:
    item = db.get(Item, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {item_id} not found")
    return item


@router.patch("/items/{item_id}", response_model=schemas.ItemOut, responses={**BAD_BODY, **NOT_FOUND, **UNAVAILABLE})
def update_item(item_id: ItemId, body: schemas.ItemPatch, db: WriteDB) -> Item:
    item = db.get(Item, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {item_id} not found")
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    commit(db, "item", item.sku)
    db.refresh(item)
    return item


@router.delete(
    "/items/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**NOT_FOUND, **UNAVAILABLE},
)
def delete_item(item_id: ItemId, db: WriteDB) -> Response:
    item = db.get(Item, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {item_id} not found")
    db.delete(item)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
