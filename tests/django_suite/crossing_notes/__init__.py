"""Notes on the ``crossing`` database, each about a person on ``default`` (crossing_settings)."""
