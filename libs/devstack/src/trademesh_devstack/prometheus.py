"""A real Prometheus server (Debian's binary) on loopback, scraping the mesh's services.

Tests give it scrape targets and rule files, then ask its HTTP API what the
rules and dashboards would see.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._proc import DevStackError, ManagedProcess, free_port, wait_for


class Prometheus:
    def __init__(
        self,
        state_dir: Path,
        targets: Mapping[str, str],
        rule_files: Sequence[Path] = (),
        interval: str = "1s",
    ) -> None:
        """`targets` maps a job name to the host:port serving its /metrics."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise DevStackError("prometheus missing: run `python -m trademesh_devstack install`")
        self.port = free_port()
        self._state_dir = state_dir
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        state_dir.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: no YAML library needed here.
        (state_dir / "prometheus.yml").write_text(json.dumps(config, indent=2))
        self._process = ManagedProcess(
            "prometheus",
            [
                binary,
                f"--config.file={state_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={state_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--enable-feature=exemplar-storage",
            ],
            log_path=state_dir / "prometheus.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Prometheus:
        self._process.start()
        wait_for(
            "prometheus /-/ready",
            self._ready,
            timeout=timeout,
            proc=self._process,
            logs=[self._process.log_path],
        )
        return self

    def stop(self) -> None:
        self._process.stop()

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise DevStackError(f"prometheus {path}: {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's samples (vector results)."""
        result: list[dict[str, Any]] = self.api("query", query=promql)["result"]
        return result
