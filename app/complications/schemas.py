import uuid
from datetime import datetime
from typing import Self

from pydantic import Field, computed_field, model_validator

from app.clinical.enums import ComplicationKind, Sir2017, SirClassic
from app.common.schemas import InputModel, PastDatetime, ReadModel


class ComplicationGrading(InputModel):
    """What a complication records, shared by the REST API and ingested events."""

    kind: ComplicationKind
    onset_at: PastDatetime | None = None
    symptomatic: bool
    sir_classic: SirClassic | None = Field(None, description="SIR classic grade A-F.")
    sir_2017: Sir2017 | None = Field(None, description="SIR 2017 adverse-event severity.")
    cirse_grade: int | None = Field(None, ge=1, le=6, description="CIRSE grade 1-6.")
    cirse_version: str | None = Field(
        None, max_length=16, description="CIRSE classification version; defaults to 2017."
    )
    description: str | None = Field(None, max_length=4000)


class ComplicationFields(ComplicationGrading):
    level_id: uuid.UUID | None = Field(None, description="The treated level it concerns, if any.")

    @model_validator(mode="after")
    def _grades_agree(self) -> Self:
        if self.cirse_grade is not None and self.cirse_version is None:
            self.cirse_version = "2017"
        deaths = {
            "sir_classic": self.sir_classic is None or self.sir_classic is SirClassic.F,
            "sir_2017": self.sir_2017 is None or self.sir_2017 is Sir2017.death,
            "cirse_grade": self.cirse_grade is None or self.cirse_grade == 6,
        }
        given = {
            "sir_classic": self.sir_classic is SirClassic.F,
            "sir_2017": self.sir_2017 is Sir2017.death,
            "cirse_grade": self.cirse_grade == 6,
        }
        if any(given.values()) and not all(deaths.values()):
            raise ValueError("a grade of death in one classification must be death in the others")
        return self


class ComplicationCreate(ComplicationFields):
    procedure_id: uuid.UUID

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "procedure_id": "0195f3a4-6a8e-7c1e-9d7b-2f4f5b6c7d8e",
                    "kind": "cement_leakage",
                    "onset_at": "2019-02-12T10:05:00Z",
                    "symptomatic": False,
                    "sir_classic": "A",
                    "sir_2017": "mild",
                    "cirse_grade": 1,
                    "description": "Small paravertebral leak seen on the final fluoroscopic run.",
                }
            ]
        }
    }


class ComplicationUpdate(InputModel):
    level_id: uuid.UUID | None = None
    kind: ComplicationKind | None = None
    onset_at: PastDatetime | None = None
    symptomatic: bool | None = None
    sir_classic: SirClassic | None = None
    sir_2017: Sir2017 | None = None
    cirse_grade: int | None = Field(None, ge=1, le=6)
    cirse_version: str | None = Field(None, max_length=16)
    description: str | None = Field(None, max_length=4000)

    model_config = {"json_schema_extra": {"examples": [{"symptomatic": True, "cirse_grade": 2}]}}


class ComplicationRead(ReadModel):
    id: uuid.UUID
    procedure_id: uuid.UUID
    level_id: uuid.UUID | None
    kind: ComplicationKind
    onset_at: datetime | None
    symptomatic: bool
    sir_classic: SirClassic | None
    sir_2017: Sir2017 | None
    cirse_grade: int | None
    cirse_version: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def major(self) -> bool | None:
        """SIR classic C-F are major complications."""
        return None if self.sir_classic is None else self.sir_classic >= SirClassic.C
