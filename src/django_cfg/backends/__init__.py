"""Database backends of django-cfg (used through ENGINE, never imported directly)."""
