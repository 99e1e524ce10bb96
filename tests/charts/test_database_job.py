"""The umbrella's databases job script, run against the devstack's real PostgreSQL: a login
and a database per service, idempotent, each closed to the other services."""

import os
import secrets
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from trademesh_devstack import charts
from trademesh_devstack.charts import Render

pytestmark = [pytest.mark.kube, pytest.mark.integration]


def run_job_script(
    scripts: Path, admin_dsn: str, databases: dict[str, str], passwords: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    admin = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    env = {
        **os.environ,
        "PGHOST": str(admin["host"]),
        "PGPORT": str(admin["port"]),
        "PGUSER": str(admin["user"]),
        "PGPASSWORD": str(admin["password"]),
        "PGDATABASE": "postgres",
        **{f"PASSWORD_{component}": password for component, password in passwords.items()},
    }
    args = [f"{component}={database}" for component, database in databases.items()]
    return subprocess.run(
        ["sh", str(scripts / "create-databases.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def dsn_for(admin_dsn: str, user: str, password: str, database: str) -> str:
    admin = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    return psycopg.conninfo.make_conninfo(
        host=admin["host"], port=admin["port"], user=user, password=password, dbname=database
    )


def test_each_service_gets_its_own_closed_database(render: Render, devstack, tmp_path: Path):
    config = charts.named(render(), "ConfigMap", "trademesh-databases")["data"]
    for name, text in config.items():
        (tmp_path / name).write_text(text.replace("/scripts/", f"{tmp_path}/"))
    admin_dsn = devstack.env()["TRADEMESH_POSTGRES_ADMIN_DSN"]
    suffix = uuid.uuid4().hex[:8]
    databases = {"order": f"orders_{suffix}", "social": f"social_{suffix}"}
    try:
        first = {component: secrets.token_urlsafe(16) for component in databases}
        assert run_job_script(tmp_path, admin_dsn, databases, first).returncode == 0
        # Again, as after an upgrade: nothing to create, the passwords set to the Secret's.
        second = {component: secrets.token_urlsafe(16) for component in databases}
        result = run_job_script(tmp_path, admin_dsn, databases, second)
        assert result.returncode == 0, result.stderr

        orders, social = databases["order"], databases["social"]
        with psycopg.connect(dsn_for(admin_dsn, orders, second["order"], orders)) as conn:
            conn.execute("CREATE TABLE owned (id int)")
            owner = conn.execute("SELECT current_user, current_database()").fetchone()
            assert owner == (orders, orders)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(dsn_for(admin_dsn, orders, first["order"], orders)).close()
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(dsn_for(admin_dsn, social, second["social"], orders)).close()
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            for database in databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                conn.execute(f'DROP ROLE IF EXISTS "{database}"')
