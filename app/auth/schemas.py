import uuid
from datetime import datetime

from pydantic import Field, computed_field

from app.auth import keys
from app.auth.scopes import SCOPES
from app.common.schemas import InputModel, ReadModel, UtcDatetime

_SCOPE_LIST = ", ".join(f"`{s}`" for s in SCOPES)


class ApiKeyCreate(InputModel):
    name: str = Field(
        min_length=1,
        max_length=120,
        description="Who or what uses the key (a system, a team); not a patient's name.",
        examples=["EHR integration (Epic, production)"],
    )
    scopes: list[str] = Field(
        min_length=1, max_length=len(SCOPES), description=f"Any of {_SCOPE_LIST}."
    )
    expires_at: UtcDatetime | None = Field(None, description="Optional; must be in the future.")

    model_config = {
        "json_schema_extra": {
            "examples": [{"name": "Outcomes dashboard", "scopes": ["stats:read"]}]
        }
    }


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="Identifies the key; the key starts with `vtb_<prefix>_`.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return keys.display(self.prefix)


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown this once: it is stored only as a hash.")
