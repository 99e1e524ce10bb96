"""`python -m trademesh_order migrate`, the command the chart's migration hook job runs."""

import os
import subprocess
import sys
import uuid
from importlib import resources

import asyncpg
import pytest

from trademesh_order.app import MIGRATIONS_PACKAGE


def run_migrate(dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADEMESH_POSTGRES_DSN": dsn}
    return subprocess.run(
        [sys.executable, "-m", "trademesh_order", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def applied_migrations(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
    finally:
        await conn.close()
    return [row["name"] for row in rows]


@pytest.mark.integration
async def test_migrate_applies_every_migration_once_and_exits(devstack):
    dsn = devstack.create_database(f"order_migrate_{uuid.uuid4().hex[:8]}")
    folder = resources.files(MIGRATIONS_PACKAGE)
    expected = sorted(f.name for f in folder.iterdir() if f.name.endswith(".sql"))

    first = run_migrate(dsn)
    assert first.returncode == 0, first.stderr
    assert await applied_migrations(dsn) == expected

    again = run_migrate(dsn)
    assert again.returncode == 0, again.stderr
    assert await applied_migrations(dsn) == expected


def test_an_unknown_command_is_refused_with_the_choices():
    result = subprocess.run(
        [sys.executable, "-m", "trademesh_order", "migrat"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid choice: 'migrat'" in result.stderr
    assert "'serve', 'migrate'" in result.stderr
