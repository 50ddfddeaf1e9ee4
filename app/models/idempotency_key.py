from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class IdempotencyKey(IdMixin, Base):
    """An `Idempotency-Key` sent with a POST, and the response to replay for it.

    The row is inserted in the transaction of the request it guards, so the key and the
    request's effect commit (or roll back) together; the response is stored right after.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("key", "scope"),)

    key: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(400))  # "POST /api/v1/patients"
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the request
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status_code: Mapped[int | None]
    response_headers: Mapped[dict[str, Any] | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
