"""`python -m trademesh_<service> migrate`, the command each chart's migration hook job runs,
for every service with a database."""

import os
import subprocess
import sys
import uuid
from importlib import resources

import asyncpg
import pytest

SERVICES_WITH_DATABASES = ("order", "auth", "market", "social", "news")


def run_service(service: str, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", f"trademesh_{service}", *args],
        env={**os.environ, **(env or {})},
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
@pytest.mark.parametrize("service", SERVICES_WITH_DATABASES)
async def test_migrate_applies_every_migration_once_and_exits(devstack, service):
    dsn = devstack.create_database(f"{service}_migrate_{uuid.uuid4().hex[:8]}")
    folder = resources.files(f"trademesh_{service}.migrations")
    expected = sorted(f.name for f in folder.iterdir() if f.name.endswith(".sql"))
    assert expected, service

    for _ in range(2):  # the second run finds nothing to do
        result = run_service(service, "migrate", env={"TRADEMESH_POSTGRES_DSN": dsn})
        assert result.returncode == 0, result.stderr
        assert await applied_migrations(dsn) == expected


@pytest.mark.parametrize("service", SERVICES_WITH_DATABASES)
def test_an_unknown_command_is_refused_with_the_choices(service):
    result = run_service(service, "migrat")
    assert result.returncode == 2
    assert f"python -m trademesh_{service}" in result.stderr
    assert "invalid choice: 'migrat'" in result.stderr
    assert "'serve', 'migrate'" in result.stderr
