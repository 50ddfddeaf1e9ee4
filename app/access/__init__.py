"""The access area: API keys and the audit trail, for administrators (tag `access`)."""
