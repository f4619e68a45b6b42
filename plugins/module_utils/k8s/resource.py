# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Kinds to REST paths (API discovery, cached) and manifests to objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .client import KubeApiError, KubeClient, KubeError, resource_path
from .yaml_support import CONTENT_LIMITS, YamlLimitError, safe_load_all


class ManifestError(ValueError):
    """A manifest is not a usable Kubernetes object; the message says where and why."""


class UnknownKind(KubeError):
    """The API server serves no resource for an apiVersion/kind."""


@dataclass(frozen=True)
class ResourceInfo:
    api_version: str
    kind: str
    plural: str
    namespaced: bool


def load_manifests(text: str, where: str = "manifest") -> list[dict[str, Any]]:
    """Parse YAML or JSON holding one or more documents into object mappings.

    The text goes through the hardened loader (size, depth and alias budgets; values that
    round-trip through JSON). Empty documents are dropped; every other document must be a
    mapping with apiVersion, kind and a string metadata.name (and a string namespace when it
    has one), else ManifestError names the document and the field.
    """
    try:
        documents = safe_load_all(text, where, CONTENT_LIMITS)
    except YamlLimitError as exc:
        raise ManifestError(str(exc)) from exc
    objects = []
    for index, doc in enumerate(documents):
        if doc is None:
            continue
        label = f"{where} document {index + 1}"
        if not isinstance(doc, dict):
            raise ManifestError(
                f"{label}: expected a mapping (a Kubernetes object), got {type(doc).__name__}"
            )
        for field in ("apiVersion", "kind"):
            if not isinstance(doc.get(field), str) or not doc[field]:
                raise ManifestError(f"{label}: {field} is missing or not a string")
        metadata = doc.get("metadata")
        if not isinstance(metadata, dict) or metadata.get("name") in (None, ""):
            raise ManifestError(f"{label}: metadata.name is missing")
        for field in ("name", "namespace"):
            value = metadata.get(field)
            if field in metadata and not isinstance(value, str):
                raise ManifestError(
                    f"{label}: metadata.{field} {value!r} is a {type(value).__name__}, "
                    "not a string: quote it"
                )
        objects.append(doc)
    if not objects:
        raise ManifestError(f"{where}: holds no object")
    return objects


class Discovery:
    """Maps (apiVersion, kind) to resources, asking the API server once per group version."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._by_group_version: dict[str, Optional[list[Mapping[str, Any]]]] = {}

    def _resources(self, api_version: str, refresh: bool = False) -> list[Mapping[str, Any]]:
        if refresh or api_version not in self._by_group_version:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                found = self.client.get(path).get("resources") or []
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
                found = None
            self._by_group_version[api_version] = found
        return self._by_group_version[api_version] or []

    def lookup(self, api_version: str, kind: str) -> ResourceInfo:
        for refresh in (False, True):  # a miss may be a CRD installed after the first look
            for res in self._resources(api_version, refresh):
                if res.get("kind") == kind and "/" not in res.get("name", ""):
                    return ResourceInfo(api_version, kind, res["name"], bool(res.get("namespaced")))
        raise UnknownKind(f"the API server serves no kind {kind!r} in apiVersion {api_version!r}")

    def resources(
        self,
        namespaced: Optional[bool] = None,
        verb: Optional[str] = None,
        refresh: bool = False,
    ) -> list:
        """Every resource the API server serves (one version per group, the preferred one),
        optionally only the namespaced (or cluster-scoped) ones that support ``verb``;
        ``refresh`` asks the server again instead of using what was cached."""
        versions = ["v1"]
        groups = self.client.get("/apis").get("groups") or []
        for group in groups:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if preferred:
                versions.append(preferred)
        found = []
        for api_version in versions:
            for res in self._resources(api_version, refresh):
                name = res.get("name", "")
                if "/" in name:
                    continue  # a subresource
                if namespaced is not None and bool(res.get("namespaced")) != namespaced:
                    continue
                if verb is not None and verb not in (res.get("verbs") or []):
                    continue
                found.append(
                    ResourceInfo(
                        api_version, res.get("kind", ""), name, bool(res.get("namespaced"))
                    )
                )
        return found

    def path_of(
        self,
        obj: Mapping[str, Any],
        subresource: Optional[str] = None,
        default_namespace: str = "default",
    ) -> str:
        info = self.lookup(obj["apiVersion"], obj["kind"])
        metadata = obj.get("metadata") or {}
        namespace = (metadata.get("namespace") or default_namespace) if info.namespaced else None
        return resource_path(
            info.api_version, info.plural, metadata.get("name"), namespace, subresource
        )
