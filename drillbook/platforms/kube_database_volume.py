"""The PostgreSQL StatefulSet's volumes on a cluster, as a runbook reaches them: its pod taken
down (scaled to 0, its pod deleted at once, as a crash), a Job mounting the data volume and the
backups volume while it is down, the StatefulSet scaled back.

The backups volume is the PersistentVolumeClaim the database's pod mounts at BACKUPS_AT (on kind:
k8s/kind-postgres-backups.yaml and deploy/kind/overlay): its WAL archive (WAL_ARCHIVE, one
folder per cluster, deploy/compose/images/postgres/entrypoint.sh), base backups and dumps. A
cluster that mounts none cannot have its database restored by drillbook: `refusal` says so.

`repair` is the undo of every fault and restore here (KubernetesPlatform's undo verb
repair_database_volume): a data directory a dead restore left moved aside is put back, a control
file still holding a drill's damage gets its saved original back, and the StatefulSet is scaled
to its replicas as deployed. After a successful restore it changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubernetes import client

from drillbook.errors import InvalidDrill, RecoveryTimeout
from drillbook.platforms.kube_pod_work import (
    Answer,
    VolumeMount,
    exec_in_pod,
    run_volume_job,
)

if TYPE_CHECKING:
    from drillbook.platforms.kubernetes import KubernetesPlatform

BACKUPS_AT = "/var/lib/postgresql/backups"
DATA_AT = "/var/lib/postgresql/data"
PGDATA = f"{DATA_AT}/pgdata"
DAMAGE_PATTERN = "drillbook: this data file was damaged on purpose by a drill. "
POD_GONE_TIMEOUT_SECONDS = 90.0

# The undo, in the order a dead run can leave things: a restore that moved the data directory
# aside and died before its replacement was in place gets it back; then a control file that
# still holds the damage (checksum as recorded when it was damaged) gets its saved original.
REPAIR_SCRIPT = f"""set -eu
D={PGDATA}; DATA={DATA_AT}; B={BACKUPS_AT}
if [ ! -d "$D" ]; then
  failed=$(ls -1d "$DATA"/failed-* 2>/dev/null | sort | tail -n 1 || true)
  if [ -n "$failed" ]; then mv "$failed" "$D"; echo "put back $failed"; fi
fi
saved="$B/faults/pg_control.$STAMP.orig"
if [ -f "$saved" ] && [ -f "$saved.damaged-sha256" ] && [ -f "$D/global/pg_control" ]; then
  now=$(sha256sum "$D/global/pg_control" | cut -d' ' -f1)
  if [ "$now" = "$(cat "$saved.damaged-sha256")" ]; then
    cp "$saved" "$D/global/pg_control"; echo "put back the original pg_control"
  fi
fi
echo repaired
"""


@dataclass(frozen=True)
class DatabaseVolumes:
    """Where the database's StatefulSet keeps its data and its backups."""

    component: str
    namespace: str
    statefulset: str
    pod: str
    container: str
    image: str
    data_claim: str
    backups_claim: str | None
    replicas: int

    def refusal(self) -> str | None:
        if self.backups_claim is None:
            return (
                f"statefulset/{self.statefulset} in {self.namespace} mounts no backups volume at "
                f"{BACKUPS_AT} (its WAL archive, base backups and dumps must outlive the data "
                "volume; on kind k8s/kind-postgres-backups.yaml and deploy/kind/overlay add one)"
            )
        return None


def database_volumes(platform: KubernetesPlatform, component: str) -> DatabaseVolumes:
    """Read the StatefulSet: its first container, the data claim template, the backups claim."""
    workload = platform.read_workload(component)
    comp = platform.component(component)
    if comp.workload_kind != "statefulset":
        raise InvalidDrill(
            f"'{component}' is a {comp.workload_kind}: drillbook restores a database run by a "
            "StatefulSet (its data volume is postgres-0's PersistentVolumeClaim)"
        )
    spec = workload.spec
    container = spec.template.spec.containers[0]
    templates = spec.volume_claim_templates or []
    mounted = {m.name: m.mount_path for m in container.volume_mounts or []}
    data_template = next((t for t in templates if mounted.get(t.metadata.name) == DATA_AT), None)
    if data_template is None:
        raise InvalidDrill(
            f"statefulset/{spec.service_name} mounts no claim template at {DATA_AT}: where is "
            "its data directory?"
        )
    backups_claim = None
    for volume in spec.template.spec.volumes or []:
        if mounted.get(volume.name) == BACKUPS_AT and volume.persistent_volume_claim:
            backups_claim = volume.persistent_volume_claim.claim_name
    name = str(workload.metadata.name)
    return DatabaseVolumes(
        component=component,
        namespace=comp.namespace,
        statefulset=name,
        pod=f"{name}-0",
        container=str(container.name),
        image=str(container.image),
        data_claim=f"{data_template.metadata.name}-{name}-0",
        backups_claim=backups_claim,
        replicas=int(spec.replicas if spec.replicas is not None else 1),
    )


def take_down(platform: KubernetesPlatform, volumes: DatabaseVolumes) -> None:
    """Scale to 0 and delete the pod at once (grace 0: its server dies as in a crash); return
    when no pod of the StatefulSet is left, so that a Job may write its volumes."""
    platform.scale(volumes.component, 0)
    try:
        platform.core.delete_namespaced_pod(volumes.pod, volumes.namespace, grace_period_seconds=0)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    deadline = time.monotonic() + POD_GONE_TIMEOUT_SECONDS
    while platform.pods(volumes.component):
        if time.monotonic() >= deadline:
            raise RecoveryTimeout(
                f"pod {volumes.namespace}/{volumes.pod} still there "
                f"{POD_GONE_TIMEOUT_SECONDS:.0f}s after statefulset/{volumes.statefulset} was "
                "scaled to 0"
            )
        time.sleep(0.25)


def bring_up(platform: KubernetesPlatform, volumes: DatabaseVolumes) -> None:
    """The StatefulSet back at its replicas as deployed."""
    platform.scale(volumes.component, max(volumes.replicas, 1))


def run_on_volumes(
    platform: KubernetesPlatform,
    volumes: DatabaseVolumes,
    script: str,
    *,
    purpose: str,
    env: dict[str, str] | None = None,
    timeout: float = 300.0,
    data: bool = True,
) -> str:
    """A Job with the database's image mounting the backups volume (and the data volume, with
    `data`); its log."""
    mounts = [VolumeMount(volumes.backups_claim or "", BACKUPS_AT)] if volumes.backups_claim else []
    if data:
        mounts.append(VolumeMount(volumes.data_claim, DATA_AT))
    return run_volume_job(
        client.BatchV1Api(platform.connection.api),
        platform.core,
        volumes.namespace,
        name_prefix=f"drillbook-{volumes.statefulset}-{purpose}",
        image=volumes.image,
        script=script,
        mounts=mounts,
        env=env,
        timeout=timeout,
    )


def pod_ready(platform: KubernetesPlatform, volumes: DatabaseVolumes) -> bool:
    for pod in platform.pods(volumes.component):
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Ready" and condition.get("status") == "True":
                return True
    return False


def run_in_database_pod(
    platform: KubernetesPlatform, volumes: DatabaseVolumes, script: str, *, timeout: float = 300.0
) -> Answer:
    # A client of its own: the exec stream swaps its client's call_api while it connects, and
    # the drill's probes and companions call the platform's client from other threads.
    api = client.ApiClient(platform.connection.api.configuration)
    try:
        return exec_in_pod(
            client.CoreV1Api(api),
            volumes.namespace,
            volumes.pod,
            ["/bin/sh", "-c", script],
            container=volumes.container,
            timeout=timeout,
        )
    finally:
        api.close()  # type: ignore[no-untyped-call]


def run_on_backups(
    platform: KubernetesPlatform, volumes: DatabaseVolumes, script: str, *, purpose: str
) -> str:
    """`script` with the backups volume: in the database's pod while it is Ready (fast), else in
    a Job (the pod is down or crash-looping: a restore is reading its backups)."""
    if pod_ready(platform, volumes):
        answer = run_in_database_pod(platform, volumes, script)
        if answer.returncode != 0:
            from drillbook.platforms.kube_pod_work import PodWorkFailed

            raise PodWorkFailed(
                f"{purpose} in pod {volumes.namespace}/{volumes.pod} exited "
                f"{answer.returncode}: {answer.stderr.strip()[-500:]}"
            )
        return answer.stdout
    return run_on_volumes(platform, volumes, script, purpose=purpose, data=False)


def repair(platform: KubernetesPlatform, *, component: str, stamp: str, **_: Any) -> None:
    """The undo (see the module's note)."""
    volumes = database_volumes(platform, component)
    run_on_volumes(platform, volumes, REPAIR_SCRIPT, purpose="repair", env={"STAMP": stamp})
    bring_up(platform, volumes)
