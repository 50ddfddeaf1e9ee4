"""Vertebroplasty outcomes registry."""
