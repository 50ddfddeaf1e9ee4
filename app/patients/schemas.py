import uuid
from datetime import date, datetime
from typing import Self

from pydantic import Field, field_serializer, model_validator

from app.auth.visibility import identifiers_visible
from app.clinical.enums import HistologyGroup, Sex
from app.common.schemas import InputModel, PastDate, ReadModel

HISTOLOGY = "Tumour histology, free text as recorded (never published by the statistics)."
HISTOLOGY_GROUP = (
    "The ICCC-3 main diagnostic group, I-XII (see HistologyGroup), as the sender classifies "
    "the tumour: never derived from `histology`. The statistics group and filter by it."
)


class IdentifierIn(InputModel):
    system: str = Field(min_length=1, max_length=200, examples=["urn:oid:2.16.840.1.113883.4.1"])
    value: str = Field(min_length=1, max_length=200, examples=["MRN-0042"])


class IdentifierRead(ReadModel):
    system: str
    value: str


class PatientFields(InputModel):
    birth_date: PastDate | None = None
    sex: Sex = Sex.unknown
    histology: str | None = Field(None, max_length=120, description=HISTOLOGY)
    histology_group: HistologyGroup | None = Field(None, description=HISTOLOGY_GROUP)
    primary_site: str | None = Field(None, max_length=120)
    diagnosis_date: PastDate | None = None
    relapsed_refractory: bool | None = None
    death_date: PastDate | None = None
    notes: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        born = self.birth_date
        for name in ("diagnosis_date", "death_date"):
            value = getattr(self, name)
            if born and value and value < born:
                raise ValueError(f"{name} is before birth_date")
        if self.diagnosis_date and self.death_date and self.death_date < self.diagnosis_date:
            raise ValueError("death_date is before diagnosis_date")
        return self


class PatientCreate(PatientFields):
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _identifiers_unique(self) -> Self:
        keys = [(i.system, i.value) for i in self.identifiers]
        if len(keys) != len(set(keys)):
            raise ValueError("identifiers repeat the same system and value")
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "identifiers": [{"system": "urn:example:bcch:mrn", "value": "MRN-0042"}],
                    "birth_date": "2005-03-14",
                    "sex": "female",
                    "histology": "alveolar rhabdomyosarcoma",
                    "histology_group": "IX",
                    "primary_site": "unknown primary",
                    "diagnosis_date": "2017-11-02",
                    "relapsed_refractory": True,
                }
            ]
        }
    }


class PatientUpdate(InputModel):
    """Only the fields sent are changed; `identifiers`, when sent, replaces the whole list."""

    identifiers: list[IdentifierIn] | None = Field(None, max_length=20)
    birth_date: PastDate | None = None
    sex: Sex | None = None
    histology: str | None = Field(None, max_length=120, description=HISTOLOGY)
    histology_group: HistologyGroup | None = Field(None, description=HISTOLOGY_GROUP)
    primary_site: str | None = Field(None, max_length=120)
    diagnosis_date: PastDate | None = None
    relapsed_refractory: bool | None = None
    death_date: PastDate | None = None
    notes: str | None = Field(None, max_length=4000)

    model_config = {"json_schema_extra": {"examples": [{"death_date": "2019-06-30"}]}}


class PatientMatch(ReadModel):
    """The registry id of the patient holding an identifier the caller already knows."""

    id: uuid.UUID
    system: str
    value: str


class PatientRead(ReadModel):
    id: uuid.UUID
    identifiers: list[IdentifierRead] = Field(
        description="External identifiers; empty unless the credential holds cases:write or "
        "events:write (others can still search by an exact identifier)."
    )
    birth_date: date | None
    sex: Sex
    histology: str | None
    histology_group: HistologyGroup | None
    primary_site: str | None
    diagnosis_date: date | None
    relapsed_refractory: bool | None
    death_date: date | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @field_serializer("identifiers")
    def _identifiers_for_caller(self, value: list[IdentifierRead]) -> list[IdentifierRead]:
        return value if identifiers_visible() else []
