"""The audit trail: the request's audit context, its rows, and the query behind GET /audit
(whose endpoint is in app.access). Imports app.auth (who called), never the other way.
"""
