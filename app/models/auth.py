from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, JSONType, utcnow


class ApiKey(IdMixin, Base):
    """An API key: only its HMAC is stored; the prefix identifies it. Never deleted, revoked."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(64))

    def active_at(self, when: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > when)

    def __repr__(self) -> str:  # never show the hash
        return f"ApiKey(prefix={self.prefix!r}, scopes={self.scopes!r})"
