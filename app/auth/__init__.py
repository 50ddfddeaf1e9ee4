"""Credentials: scopes, the principal, API keys, OAuth2 tokens, identifier visibility.

No routes and no guard: app.http builds the guard on this package and app.audit, and the
API-key endpoints are in app.access.
"""
