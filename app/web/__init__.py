"""The web pages under /app: sign-in, worklist, case page, outcomes dashboard (docs/web.md)."""
