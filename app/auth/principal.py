"""Who is calling: the authenticated credential, as handlers and the audit trail see it."""

import uuid
from dataclasses import dataclass
from typing import Literal

from app.auth.scopes import IDENTIFIER_SCOPES, expand

CredentialKind = Literal["api-key", "jwt"]


@dataclass(frozen=True)
class Principal:
    id: uuid.UUID  # the API key's id; for a JWT, uuid5(issuer|subject)
    kind: CredentialKind
    name: str  # the key's name, or the token's subject
    label: str  # safe to log and audit: `vtb_<prefix>` or the token's subject
    scopes: frozenset[str]  # as granted (implications applied)

    @classmethod
    def build(
        cls, id: uuid.UUID, kind: CredentialKind, name: str, label: str, scopes: list[str]
    ) -> "Principal":
        return cls(id=id, kind=kind, name=name, label=label, scopes=expand(scopes))

    def has(self, *scopes: str) -> bool:
        return set(scopes) <= self.scopes

    @property
    def sees_identifiers(self) -> bool:
        return bool(self.scopes & IDENTIFIER_SCOPES)
