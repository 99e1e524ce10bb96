"""Blue-green releases of one stack, the steps CI runs: deploy the idle colour, wait until
every workload of it is available, cut the live Service over, roll back by cutting back.

A stack is two Helm releases of the umbrella in one namespace (charts/README.md,
"Blue-green"): the owner `<stack>` (blue) holds the data tier, the CA and the live Service
`<stack>-gateway-live`, which selects the gateway pods of `liveService.activeColor`; the
other colour is the release `<stack>-green`, joining the owner's data tier. Whichever
colour is not live is the one a deploy replaces, so the live one is never touched until
the cutover, and a failed deploy leaves the traffic where it was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import charts
from ._proc import DevStackError
from .kube import KubeClient

OWNER_COLOUR = "blue"
OTHER_COLOUR = "green"
COLOURS = (OWNER_COLOUR, OTHER_COLOUR)
COLOUR_LABEL = "trademesh.io/color"
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class WorkloadState:
    kind: str
    name: str
    ready: bool
    detail: str


def other(colour: str) -> str:
    return OTHER_COLOUR if colour == OWNER_COLOUR else OWNER_COLOUR


def workload_state(workload: dict[str, Any]) -> WorkloadState:
    """Whether a Deployment or StatefulSet serves its current spec with every replica."""
    kind, name = workload["kind"], workload["metadata"]["name"]
    wanted = workload["spec"].get("replicas", 1)
    status = workload.get("status", {})
    observed = status.get("observedGeneration", 0) >= workload["metadata"].get("generation", 1)
    updated = status.get("updatedReplicas", 0)
    ready = status.get("availableReplicas" if kind == "Deployment" else "readyReplicas", 0)
    detail = f"{ready}/{wanted} ready, {updated} updated" + ("" if observed else ", not observed")
    return WorkloadState(kind, name, observed and updated >= wanted and ready >= wanted, detail)


class BlueGreen:
    def __init__(self, kube: KubeClient, namespace: str, stack: str = "trademesh") -> None:
        self.kube = kube
        self.namespace = namespace
        self.stack = stack

    def release(self, colour: str) -> str:
        if colour not in COLOURS:
            raise DevStackError(f"colour must be one of {', '.join(COLOURS)}, not {colour!r}")
        return self.stack if colour == OWNER_COLOUR else f"{self.stack}-{colour}"

    def live_colour(self) -> str:
        service = self.kube.get("service", f"{self.stack}-gateway-live", self.namespace)
        return str(service["spec"]["selector"][COLOUR_LABEL])

    def workloads(self, colour: str) -> list[WorkloadState]:
        listed = self.kube.kubectl(
            "get", "deployments,statefulsets", "-n", self.namespace,
            "-l", f"app.kubernetes.io/instance={self.release(colour)}", "-o", "json",
        )  # fmt: skip
        return [workload_state(item) for item in json.loads(listed.stdout)["items"]]

    def wait_available(self, colour: str, timeout: float) -> list[WorkloadState]:
        """Every workload of the colour ready, or DevStackError naming those that are not."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.workloads(colour)
            waiting = [s for s in states if not s.ready]
            if states and not waiting:
                return states
            if time.monotonic() >= deadline:
                names = ", ".join(f"{s.kind}/{s.name} ({s.detail})" for s in waiting) or "none"
                raise DevStackError(
                    f"{colour} is not available after {timeout:.0f} s; not ready: {names}"
                )
            time.sleep(POLL_SECONDS)

    def deploy(
        self, sets: Sequence[str] = (), helm_args: Sequence[str] = (), timeout: float = 600.0
    ) -> str:
        """Installs or upgrades the colour that is not live with `sets`, then waits for it.

        Returns the colour deployed. The live Service is not touched: cut over separately,
        after whatever checks CI runs against the new colour's own gateway Service.
        """
        live = self.live_colour()
        idle = other(live)
        if idle == OWNER_COLOUR:  # the owner's upgrade must keep the live Service as it is
            values = ["--set", f"liveService.activeColor={live}"]
        else:  # the other colour joins the owner's data tier and CA
            values = [
                "--values",
                str(charts.ci_values(idle)),
                "--set",
                f"global.stack={self.stack}",
            ]
        self.kube.helm(
            "upgrade", "--install", self.release(idle), str(charts.UMBRELLA),
            "--namespace", self.namespace, "--reuse-values", *values,
            *(arg for value in sets for arg in ("--set", value)), *helm_args,
        )  # fmt: skip
        self.wait_available(idle, timeout)
        return idle

    def cutover(self, colour: str, timeout: float = 60.0) -> None:
        """Points the live Service at `colour`, once every workload of it is available."""
        self.wait_available(colour, timeout)
        # Through the owner release, so its next upgrade keeps the choice. No hooks: a
        # cutover changes no schema, and the migrations ran when each colour was deployed.
        self.kube.helm(
            "upgrade", self.stack, str(charts.UMBRELLA), "--namespace", self.namespace,
            "--reuse-values", "--no-hooks", "--set", f"liveService.activeColor={colour}",
        )  # fmt: skip
        if self.live_colour() != colour:
            raise DevStackError(f"the live Service does not select {colour} after the cutover")

    def rollback(self, timeout: float = 60.0) -> str:
        """Sends the traffic back to the colour that is not live; returns it."""
        previous = other(self.live_colour())
        self.cutover(previous, timeout)
        return previous
