"""The cluster's own record of its pending undos: a ConfigMap beside the drill lock.

The undo journal on the runner's disk (drillbook.engine.undo) is the fast path, but it dies with
the runner's machine: a CI runner that is gone leaves the cluster faulted and nothing in the
cluster saying so. Every journal entry is therefore mirrored into the ConfigMap
`drillbook-undo-journal` in the lock namespace, before its fault is injected (the journal calls
the mirror before it writes its own line):

- one data key per entry id; its value the entry as JSON: the undo's action while pending
  (or failed: still to be done), a small tombstone `{"id", "state": "done", "at"}` once done;
- tombstones are kept `TOMBSTONE_SECONDS`, so that a runner coming back with a stale local
  journal learns that another runner already did that undo (and does not do it twice);
- the record names Secrets and workloads, never a value (undos carry none).

When a run opens the cluster (under its drill lock), `sync` merges the two by entry id
(`merge_entries`: done on either side wins) and writes each side what it lacks, so the local
journal holds every undo still to do, whichever machine journaled it, and the replay runs from it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from kubernetes import client
from urllib3.exceptions import HTTPError as Urllib3Error

from drillbook.errors import UndoJournalDamaged
from drillbook.platforms.kube_errors import ApiCall, explain
from drillbook.platforms.kube_lease import MANAGED_BY

log = logging.getLogger(__name__)

_T = TypeVar("_T")
CONFIGMAP_NAME = "drillbook-undo-journal"
TOMBSTONE_SECONDS = 30 * 24 * 3600.0
_NOT_FOUND = 404
_CONFLICT = 409
_ACTION_FIELDS = ("description", "platform", "verb", "args")

Entry = dict[str, Any]


class LocalJournal(Protocol):
    """What `sync` needs of drillbook.engine.undo.UndoJournal."""

    def entries(self) -> dict[str, Entry]: ...

    def adopt(self, entry: Entry) -> None: ...


# -- the pure rules --------------------------------------------------------------------------
def _done(entry: Entry | None) -> bool:
    return entry is not None and entry.get("state") == "done"


def _has_action(entry: Entry | None) -> bool:
    return entry is not None and all(k in entry for k in _ACTION_FIELDS)


def merge_entries(local: Mapping[str, Entry], cluster: Mapping[str, Entry]) -> dict[str, Entry]:
    """Both records of one cluster's undos, merged by entry id.

    Done on either side is done (an undo is never run twice because one side missed its
    resolution); otherwise the entry stays to be done, with its action from whichever side
    has it, the later resolution (pending or failed, and its error) laid over it."""
    merged: dict[str, Entry] = {}
    for entry_id in dict.fromkeys([*local, *cluster]):
        mine, theirs = local.get(entry_id), cluster.get(entry_id)
        if _done(mine) or _done(theirs):
            done = mine if _done(mine) else theirs
            assert done is not None
            merged[entry_id] = {"id": entry_id, "state": "done", "at": done.get("at", 0.0)}
            continue
        sides = sorted(
            (e for e in (mine, theirs) if e is not None), key=lambda e: float(e.get("at") or 0)
        )
        combined: Entry = {}
        for entry in sides:
            combined.update(entry)
        if not _has_action(combined):
            continue  # a resolution whose action neither side kept: nothing to replay
        merged[entry_id] = combined
    return merged


def to_write(side: Mapping[str, Entry], merged: Mapping[str, Entry]) -> list[Entry]:
    """The merged entries one side lacks or holds in another state."""
    return [
        entry
        for entry_id, entry in merged.items()
        if side.get(entry_id, {}).get("state") != entry["state"]
    ]


def expired_tombstones(record: Mapping[str, Entry], now: float) -> list[str]:
    """Ids of done entries older than TOMBSTONE_SECONDS: the record forgets them."""
    return [
        entry_id
        for entry_id, entry in record.items()
        if _done(entry) and now - float(entry.get("at") or 0) > TOMBSTONE_SECONDS
    ]


def local_lines(local: Mapping[str, Entry], merged: Mapping[str, Entry]) -> list[Entry]:
    """What the local journal must append to agree with `merged`: a pushed line for each undo
    it does not know, a done line for each it still has pending that is done elsewhere. (A done
    entry it never knew needs no line: it has nothing to replay.)"""
    lines: list[Entry] = []
    for entry in to_write(local, merged):
        known = local.get(entry["id"])
        if entry["state"] == "done":
            if known is not None:
                lines.append({"id": entry["id"], "state": "done", "at": entry["at"], "error": None})
        elif known is None:
            lines.append({**entry, "state": "pending"})
    return lines


# -- the ConfigMap ---------------------------------------------------------------------------
class ClusterJournal:
    """The ConfigMap holding one cluster's undo record; its writes are single-key patches, made
    under the cluster's drill lock (drillbook.platforms.kube_lease)."""

    def __init__(
        self, api: client.ApiClient, *, namespace: str, context: str, request_timeout: float
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.context = context
        self.request_timeout = request_timeout
        self._pushed: dict[str, Entry] = {}
        """Entries pushed by this run, so a failed resolution keeps its action in the record."""

    @property
    def where(self) -> str:
        return f"ConfigMap {self.namespace}/{CONFIGMAP_NAME} (kube context '{self.context}')"

    def _call(self, verb: str, action: Callable[..., _T]) -> _T:
        call = ApiCall(verb, "configmaps", self.namespace, CONFIGMAP_NAME)
        try:
            return action(_request_timeout=self.request_timeout)
        except client.ApiException as exc:
            if exc.status in (_NOT_FOUND, _CONFLICT):
                raise
            raise explain(call, exc.status, exc.body, context=self.context) from None
        except (Urllib3Error, OSError) as exc:
            raise explain(
                call, None, f"{type(exc).__name__}: {exc}", context=self.context
            ) from None

    def entries(self) -> dict[str, Entry]:
        """The record as entries by id ({} when the ConfigMap does not exist yet)."""
        try:
            found = self._call(
                "get",
                lambda **kw: self.core.read_namespaced_config_map(
                    CONFIGMAP_NAME, self.namespace, **kw
                ),
            )
        except client.ApiException as exc:
            if exc.status == _NOT_FOUND:
                return {}
            raise explain(
                ApiCall("get", "configmaps", self.namespace, CONFIGMAP_NAME),
                exc.status,
                exc.body,
                context=self.context,
            ) from None
        entries: dict[str, Entry] = {}
        damaged: list[str] = []
        for key, raw in (found.data or {}).items():
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = None
            if not isinstance(entry, dict) or entry.get("id") != key or "state" not in entry:
                damaged.append(key)
                continue
            if entry["state"] != "done" and not _has_action(entry):
                damaged.append(key)
                continue
            entries[key] = entry
        if damaged:
            raise UndoJournalDamaged(
                f"the cluster's undo record {self.where} holds {len(damaged)} entr"
                f"{'y' if len(damaged) == 1 else 'ies'} drillbook cannot replay (keys: "
                f"{', '.join(sorted(damaged)[:5])}). Read them (kubectl get configmap "
                f"{CONFIGMAP_NAME} -n {self.namespace} -o yaml), check that part of the cluster "
                "by hand, then remove those keys; nothing was injected."
            )
        return entries

    def _patch(self, data: Mapping[str, str | None]) -> None:
        """Set (or, with None, remove) keys; creates the ConfigMap when it is not there yet."""
        body = {"data": dict(data)}
        try:
            self._call(
                "patch",
                lambda **kw: self.core.patch_namespaced_config_map(
                    CONFIGMAP_NAME, self.namespace, body, **kw
                ),
            )
            return
        except client.ApiException as exc:
            if exc.status != _NOT_FOUND:
                raise explain(
                    ApiCall("patch", "configmaps", self.namespace, CONFIGMAP_NAME),
                    exc.status,
                    exc.body,
                    context=self.context,
                ) from None
        created = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name=CONFIGMAP_NAME, namespace=self.namespace, labels=dict(MANAGED_BY)
            ),
            data={k: v for k, v in data.items() if v is not None},
        )
        try:
            self._call(
                "create",
                lambda **kw: self.core.create_namespaced_config_map(self.namespace, created, **kw),
            )
        except client.ApiException as exc:
            if exc.status != _CONFLICT:
                raise explain(
                    ApiCall("create", "configmaps", self.namespace, CONFIGMAP_NAME),
                    exc.status,
                    exc.body,
                    context=self.context,
                ) from None
            self._patch(data)  # created meanwhile: patch it after all

    def write(self, entries: list[Entry], *, forget: list[str] | None = None) -> None:
        data: dict[str, str | None] = {e["id"]: json.dumps(e, sort_keys=True) for e in entries}
        data.update(dict.fromkeys(forget or []))
        if data:
            self._patch(data)

    def mirror(self, entry: Entry) -> None:
        """drillbook.engine.undo.JournalMirror: one journal line into the record."""
        state = entry.get("state")
        if state == "pending":
            self._pushed[entry["id"]] = entry
            self.write([entry])
        elif state == "done":
            self._pushed.pop(entry["id"], None)
            self.write([{"id": entry["id"], "state": "done", "at": entry.get("at", time.time())}])
        elif entry["id"] in self._pushed:  # failed: still to do, with why, action kept
            self.write([{**self._pushed[entry["id"]], **entry}])

    def sync(self, local: LocalJournal) -> int:
        """Merge the local journal and the record by entry id and write each what it lacks;
        returns how many undos the local journal learned from the record."""
        theirs = self.entries()
        mine = local.entries()
        merged = merge_entries(mine, theirs)
        learned = local_lines(mine, merged)
        for line in learned:
            local.adopt(line)
        stale = expired_tombstones(merged, time.time())
        self.write(
            [e for e in to_write(theirs, merged) if e["id"] not in stale],
            forget=[i for i in stale if i in theirs],
        )
        added = sum(1 for line in learned if line["state"] == "pending")
        if added:
            log.warning(
                "%s: %d undo(s) left pending by a run on another machine or cache",
                self.where,
                added,
            )
        return added

    def pending(self) -> list[Entry]:
        """The undos the record holds as still to do."""
        return [e for e in self.entries().values() if e.get("state") != "done"]
