"""The few Kubernetes API calls the operator makes itself (kopf does the watching): read and
patch any kind's /scale subresource, read a TLS Secret. One aiohttp session over the
credentials kopf logged in with."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf

from .spec import ScaleTarget


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass(frozen=True)
class Scale:
    replicas: int  # spec.replicas: what the workload is told to run
    ready: int  # status.replicas: what its controller reports


class KubeClient:
    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self._server = info.server.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=info.as_ssl_context()),
            headers=info.as_http_headers(),
            timeout=aiohttp.ClientTimeout(total=10),
        )
        self._plurals: dict[tuple[str, str], str] = {}

    async def close(self) -> None:
        await self._session.close()

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        async with self._session.request(method, self._server + path, **kwargs) as response:
            if response.status >= 400:
                body = await response.text()
                raise KubeError(response.status, body[:300])
            return await response.json()

    @staticmethod
    def _group_path(api_version: str) -> str:
        return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"

    async def _plural(self, target: ScaleTarget) -> str:
        """The resource name of `kind` that has a /scale subresource (discovery, cached)."""
        key = (target.api_version, target.kind)
        if key not in self._plurals:
            listing = await self._request("GET", self._group_path(target.api_version))
            names = {r["name"] for r in listing.get("resources", [])}
            for resource in listing.get("resources", []):
                if resource.get("kind") == target.kind and "/" not in resource["name"]:
                    if f"{resource['name']}/scale" not in names:
                        raise KubeError(422, f"{target.kind} has no /scale subresource")
                    self._plurals[key] = resource["name"]
                    break
            else:
                raise KubeError(404, f"no kind {target.kind} in {target.api_version}")
        return self._plurals[key]

    async def _scale_path(self, namespace: str, target: ScaleTarget) -> str:
        plural = await self._plural(target)
        return (
            f"{self._group_path(target.api_version)}/namespaces/{namespace}"
            f"/{plural}/{target.name}/scale"
        )

    async def get_scale(self, namespace: str, target: ScaleTarget) -> Scale:
        scale = await self._request("GET", await self._scale_path(namespace, target))
        return Scale(
            replicas=int(scale.get("spec", {}).get("replicas", 0)),
            ready=int(scale.get("status", {}).get("replicas", 0)),
        )

    async def patch_scale(self, namespace: str, target: ScaleTarget, replicas: int) -> None:
        await self._request(
            "PATCH",
            await self._scale_path(namespace, target),
            json={"spec": {"replicas": replicas}},
            headers={"Content-Type": "application/merge-patch+json"},
        )

    async def read_secret(self, namespace: str, name: str) -> dict[str, str]:
        secret = await self._request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
