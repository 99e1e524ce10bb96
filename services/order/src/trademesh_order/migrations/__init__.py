"""Numbered SQL migrations, applied in order at start-up by trademesh_common.db.migrate."""
