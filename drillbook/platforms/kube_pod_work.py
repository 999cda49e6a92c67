"""Work done inside the cluster on a pod's behalf: a command run in a running container (the
API's exec, what `kubectl exec` sends), and a one-off Job that mounts volumes while their pod is
down (what a runbook does with `kubectl create job`).

Both are bounded: an exec by its timeout, a Job by its `activeDeadlineSeconds` and this side's
wait for it. A Job's pod log is its answer; the Job is deleted with its pod once read, and
`ttlSecondsAfterFinished` removes one that a dead runner left behind.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from drillbook.errors import DrillError

_JOB_POLL_SECONDS = 0.5


class PodWorkFailed(DrillError):
    """A command in a pod, or a Job, did not finish successfully."""


@dataclass(frozen=True)
class Answer:
    """What a command printed, and how it ended."""

    returncode: int
    stdout: str
    stderr: str


def exec_in_pod(
    core: client.CoreV1Api,
    namespace: str,
    pod: str,
    command: Sequence[str],
    *,
    container: str | None = None,
    timeout: float = 120.0,
) -> Answer:
    """Run `command` in the pod's container (no stdin, no TTY) and wait for it, at most
    `timeout` seconds."""
    try:
        kwargs: dict[str, Any] = {"container": container} if container else {}
        session = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=list(command),
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
            **kwargs,
        )
    except ApiException as exc:
        raise PodWorkFailed(
            f"cannot exec in pod {namespace}/{pod}: {exc.status} {exc.reason}"
        ) from None
    out: list[str] = []
    err: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while session.is_open():
            if time.monotonic() >= deadline:
                raise PodWorkFailed(
                    f"`{' '.join(command)[:80]}` in pod {namespace}/{pod} did not finish in "
                    f"{timeout:.0f}s"
                )
            session.update(timeout=1)
            if session.peek_stdout():
                out.append(session.read_stdout())
            if session.peek_stderr():
                err.append(session.read_stderr())
        returncode = session.returncode
    finally:
        session.close()
    return Answer(int(returncode if returncode is not None else -1), "".join(out), "".join(err))


@dataclass(frozen=True)
class VolumeMount:
    """A PersistentVolumeClaim mounted into a Job's container."""

    claim: str
    mount_path: str


def run_volume_job(
    batch: client.BatchV1Api,
    core: client.CoreV1Api,
    namespace: str,
    *,
    name_prefix: str,
    image: str,
    script: str,
    mounts: Sequence[VolumeMount],
    env: Mapping[str, str] | None = None,
    timeout: float = 180.0,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Run `script` (/bin/sh -c) in a one-off Job mounting `mounts`; return its log. A failed or
    timed-out Job raises PodWorkFailed with the log's tail. The Job is deleted either way."""
    name = f"{name_prefix}-{uuid.uuid4().hex[:6]}"
    volumes = [
        client.V1Volume(
            name=f"v{i}",
            persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(claim_name=m.claim),
        )
        for i, m in enumerate(mounts)
    ]
    container = client.V1Container(
        name="work",
        image=image,
        image_pull_policy="IfNotPresent",
        command=["/bin/sh", "-c", script],
        env=[client.V1EnvVar(name=k, value=v) for k, v in (env or {}).items()],
        volume_mounts=[
            client.V1VolumeMount(name=f"v{i}", mount_path=m.mount_path)
            for i, m in enumerate(mounts)
        ],
    )
    job = client.V1Job(
        metadata=client.V1ObjectMeta(
            name=name,
            namespace=namespace,
            labels={"app.kubernetes.io/managed-by": "drillbook", **(labels or {})},
        ),
        spec=client.V1JobSpec(
            backoff_limit=0,
            active_deadline_seconds=int(timeout),
            ttl_seconds_after_finished=3600,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never", containers=[container], volumes=volumes
                ),
            ),
        ),
    )
    batch.create_namespaced_job(namespace, job)
    try:
        status = _wait_finished(batch, namespace, name, timeout=timeout + 30)
        log = _job_log(core, namespace, name)
        if status != "Complete":
            tail = "\n".join(log.splitlines()[-15:])
            raise PodWorkFailed(f"job {namespace}/{name} {status}: {tail or '(no log)'}")
        return log
    finally:
        # Gone already is fine; ttlSecondsAfterFinished removes one that stays.
        with contextlib.suppress(ApiException):
            batch.delete_namespaced_job(name, namespace, propagation_policy="Background")


def _wait_finished(batch: client.BatchV1Api, namespace: str, name: str, *, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        job = batch.read_namespaced_job_status(name, namespace)
        for condition in (job.status.conditions if job.status else None) or []:
            if condition.status == "True" and condition.type in ("Complete", "Failed"):
                return str(condition.type)
        if time.monotonic() >= deadline:
            return f"did not finish in {timeout:.0f}s"
        time.sleep(_JOB_POLL_SECONDS)


def _job_log(core: client.CoreV1Api, namespace: str, name: str) -> str:
    pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={name}").items
    if not pods:
        return ""
    try:
        return str(
            core.read_namespaced_pod_log(
                str(pods[0].metadata.name if pods[0].metadata else ""), namespace
            )
        )
    except ApiException as exc:
        return f"(no log: {exc.status} {exc.reason})"
