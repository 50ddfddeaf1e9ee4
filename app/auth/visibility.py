"""Whether the current request may see patients' external identifiers (MRNs and the like).

Set per request by the auth guard from the credential's scopes (see
`app.auth.scopes.IDENTIFIER_SCOPES`); response schemas that carry identifiers ask
`identifiers_visible()` when they serialize. Outside a request (seed, CLI) they are visible.
"""

from contextvars import ContextVar, Token

_visible: ContextVar[bool] = ContextVar("identifiers_visible", default=True)


def identifiers_visible() -> bool:
    return _visible.get()


def set_identifiers_visible(visible: bool) -> Token[bool]:
    return _visible.set(visible)


def reset_identifiers_visible(token: Token[bool]) -> None:
    _visible.reset(token)
