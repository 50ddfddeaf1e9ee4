"""Outcome statistics for dashboards (issue 6): SQL aggregates over a per-episode summary."""
