"""The guarded request: authentication, authorisation and audit (`authenticator`), the
Idempotency-Key claim made after them (`idempotency`), and the aliases each endpoint declares
its scope with (`guards`)."""
