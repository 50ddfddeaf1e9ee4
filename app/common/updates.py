"""Partial updates that go through the same validation as creation."""

from typing import Any, TypeVar

from pydantic import BaseModel

from app.errors import PreconditionFailed

M = TypeVar("M", bound=BaseModel)


def merge_update(create_model: type[M], current: dict[str, Any], patch: BaseModel) -> M:
    """Apply the fields the client sent onto the current state and validate the result whole,
    so an update can never store what a create would have refused."""
    merged = {**current, **patch.model_dump(exclude_unset=True)}
    return create_model.model_validate(merged)


def check_version(current: int, expected: int | None, resource: str) -> None:
    """Refuse a write based on a stale read (optimistic concurrency)."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"{resource} has changed since version {expected} (now {current}); "
            "read it again and retry.",
            "version-mismatch",
        )
