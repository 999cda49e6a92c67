"""Whole error messages, word for word: what the declarative sections must keep saying.

Each message was written down from the hand-written loader before the sections were declared
(drillbook/config/schema.py); a change to one of them is a change users see, so it is made here on
purpose or not at all. `config_cases.py` checks fragments of many more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.config import load_config
from drillbook.errors import ConfigError

PROBE = '[[target.probes]]\nname = "health"\npath = "/health"\n'
K8S = 'platform = "kubernetes"\n[target]\nbase_url = "https://api.example.test"\n'

# (name, file, overrides, the whole message with the file's path written as drill.toml)
MESSAGES: tuple[tuple[str, str, dict[str, object], str], ...] = (
    (
        "unknown_top",
        "zz = 1\n" + PROBE,
        {},
        (
            "drill.toml: key 'zz': found unknown key 'zz' = 1, expected one of platform, "
            "allow_production, allow, objectives, probing, target, stack, findings, sites, stop, "
            "verification, cache, load, kubernetes, docker, ledger, backup, secrets, history, "
            "schedule, notify at the top"
        ),
    ),
    (
        "unknown_objectives",
        "[objectives]\nrto = 1\n" + PROBE,
        {},
        (
            "drill.toml: key 'objectives.rto': found unknown key 'rto' = 1, expected one of "
            "rto_critical, rto_non_critical, rto_full, rpo, evidence_loss_allowed, "
            "configuration_loss_allowed in [objectives]; did you mean 'rpo'?"
        ),
    ),
    (
        "unknown_probing",
        "[probing]\nintervl = '1s'\n" + PROBE,
        {},
        (
            "drill.toml: key 'probing.intervl': found unknown key 'intervl' = '1s', expected one "
            "of interval, timeout, detect_timeout, recover_timeout, healthy_streak, "
            "measure_critical_endpoints, headers in [probing]; did you mean 'interval'?"
        ),
    ),
    (
        "unknown_target",
        "[target]\nbase = 'x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.base': found unknown key 'base' = 'x', expected one of name, "
            "environment, base_url, probes, critical_endpoints, auth, components in [target]; did "
            "you mean 'base_url'?"
        ),
    ),
    (
        "unknown_probe",
        PROBE + "metod = 'GET'\n",
        {},
        (
            "drill.toml: key 'target.probes[0].metod': found unknown key 'metod' = 'GET', "
            "expected one of name, path, method, expect_status, conditions, json, auth in "
            "[target.probes[0]]; did you mean 'method'?"
        ),
    ),
    (
        "unknown_auth_secret_like",
        "[target.auth]\npassword = 'hunter2'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.auth.password': found unknown key 'password' = a value not "
            "shown here (it may be a secret), expected one of kind, secret_env, algorithm, "
            "subject, roles, scopes in [target.auth]; the secret never goes in the file: export "
            "it in the environment and name the variable with secret_env"
        ),
    ),
    (
        "unknown_auth",
        "[target.auth]\nalgo = 'HS256'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.auth.algo': found unknown key 'algo' = a value not shown "
            "here (it may be a secret), expected one of kind, secret_env, algorithm, subject, "
            "roles, scopes in [target.auth]; did you mean 'algorithm'?"
        ),
    ),
    (
        "unknown_component",
        PROBE + "[target.components.app]\nrole = 'app'\nteir = 'full'\n",
        {},
        (
            "drill.toml: key 'target.components.app.teir': found unknown key 'teir' = 'full', "
            "expected one of role, tier, namespace, selector, workload, supervisor_group, "
            "compose_service, health_field in [target.components.app]; did you mean 'tier'?"
        ),
    ),
    (
        "unknown_stack",
        "[stack]\nreplicas = 2\n" + PROBE,
        {},
        (
            "drill.toml: key 'stack.replicas': found unknown key 'replicas' = 2, expected one of "
            "app_replicas, max_app_replicas, postgres_bin_dir, run_dir, reuse, app in [stack]; "
            "did you mean 'app_replicas'?"
        ),
    ),
    (
        "unknown_verification",
        "[verification]\nwindw = '1s'\n" + PROBE,
        {},
        (
            "drill.toml: key 'verification.windw': found unknown key 'windw' = '1s', expected one "
            "of window, error_rate_max in [verification]; did you mean 'window'?"
        ),
    ),
    (
        "unknown_cache",
        "[cache]\nmaster = 'x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'cache.master': found unknown key 'master' = 'x', expected one of "
            "master_name, sentinels, nodes, failover_timeout, rejoin_timeout in [cache]; did you "
            "mean 'master_name'?"
        ),
    ),
    (
        "unknown_load",
        "[load]\nrat = 5\n" + PROBE,
        {},
        (
            "drill.toml: key 'load.rat': found unknown key 'rat' = 5, expected one of enabled, "
            "users, rate, max_requests, max_duration, baseline, start_timeout, latency_slack, "
            "settle, trace_read_path, workers, external_workers, master_bind_host, master_port, "
            "worker_key_env, error_rate_margin, latency_percentile, latency_ratio_max, "
            "min_requests in [load]; "
            "did you mean 'rate'?"
        ),
    ),
    (
        "unknown_kubernetes",
        "[kubernetes]\nkube_config = 'x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'kubernetes.kube_config': found unknown key 'kube_config' = 'x', "
            "expected one of kubeconfig, context, dr_context, probes, kill_grace_period, "
            "request_timeout, lock_namespace, lock_duration in [kubernetes]; did you mean "
            "'kubeconfig'?"
        ),
    ),
    (
        "unknown_ledger",
        "[ledger]\nwrte_path = '/x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'ledger.wrte_path': found unknown key 'wrte_path' = '/x', expected "
            "one of write_path, rate, max_writes, max_duration, timeout, records, source, table, "
            "dsn_env, jsonl_path, read_path, configuration_files, ack_dir in [ledger]; did you "
            "mean 'write_path'?"
        ),
    ),
    (
        "unknown_backup",
        "[backup]\nbuckt = 'x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'backup.buckt': found unknown key 'buckt' = 'x', expected one of "
            "bucket, prefix, name_prefix, retention, schedule, endpoint_url, region in [backup]; "
            "did you mean 'bucket'?"
        ),
    ),
    (
        "unknown_secrets",
        "[secrets]\nprovider = ['aws']\n" + PROBE,
        {},
        (
            "drill.toml: key 'secrets.provider': found unknown key 'provider' = a value not shown "
            "here (it may be a secret), expected one of providers, jwt_secret, api_key, "
            "cache_ttl, rotation_window, vault, aws, kubernetes in [secrets]; did you mean "
            "'providers'?"
        ),
    ),
    (
        "unknown_vault_token",
        "[secrets.vault]\ntoken = 'hvs.x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'secrets.vault.token': found unknown key 'token' = a value not shown "
            "here (it may be a secret), expected one of address, mount, field, token_env, "
            "component in [secrets.vault]; the secret never goes in the file: export it in the "
            "environment and name the variable with secret_env"
        ),
    ),
    (
        "unknown_aws",
        "[secrets.aws]\nregion_name = 'x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'secrets.aws.region_name': found unknown key 'region_name' = a value "
            "not shown here (it may be a secret), expected one of region, endpoint_url, "
            "recovery_window_days, component in [secrets.aws]; did you mean 'region'?"
        ),
    ),
    (
        "unknown_secrets_kubernetes",
        "[secrets.kubernetes]\nnamespac = 'x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'secrets.kubernetes.namespac': found unknown key 'namespac' = a "
            "value not shown here (it may be a secret), expected one of namespace, key in "
            "[secrets.kubernetes]; did you mean 'namespace'?"
        ),
    ),
    (
        "duration_junk",
        "[probing]\ninterval = 'fast'\n" + PROBE,
        {},
        (
            "drill.toml: key 'probing.interval': found 'fast', expected a duration such as "
            "'250ms', '2s', '15m', '1h' or '1h30m' (units h, m, s, ms, largest first), or a "
            "number of seconds"
        ),
    ),
    (
        "duration_zero_hint",
        "[probing]\ninterval = 0\n" + PROBE,
        {},
        (
            "drill.toml: key 'probing.interval': found 0, expected a duration longer than 0; a "
            "zero interval would flood the target"
        ),
    ),
    (
        "request_timeout_zero",
        "[kubernetes]\nrequest_timeout = 0\n" + PROBE,
        {},
        "drill.toml: key 'kubernetes.request_timeout': found 0, expected a duration > 0",
    ),
    (
        "retention_zero",
        "[backup]\nretention = 0\n" + PROBE,
        {},
        (
            "drill.toml: key 'backup.retention': found 0, expected a duration longer than 0, e.g. "
            "'720h' (30 days)"
        ),
    ),
    (
        "integer_hint",
        "[stack]\napp_replicas = 1\n" + PROBE,
        {},
        (
            "drill.toml: key 'stack.app_replicas': found 1, expected an integer >= 2; a replica "
            "is killed in drills and another must keep serving"
        ),
    ),
    (
        "integer_bool",
        "[load]\nusers = true\n" + PROBE,
        {},
        "drill.toml: key 'load.users': found True, expected an integer >= 1",
    ),
    (
        "port_too_high",
        "[load]\nmaster_port = 70000\n" + PROBE,
        {},
        (
            "drill.toml: key 'load.master_port': found 70000, expected a TCP port from 1 to "
            "65535, or 0 for a free one"
        ),
    ),
    (
        "percentile",
        "[load]\nlatency_percentile = 90\n" + PROBE,
        {},
        "drill.toml: key 'load.latency_percentile': found 90, expected one of 50, 95, 99",
    ),
    (
        "aws_window",
        "[secrets.aws]\nrecovery_window_days = 31\n" + PROBE,
        {},
        (
            "drill.toml: key 'secrets.aws.recovery_window_days': found 31, expected 7 to 30 days, "
            "as AWS allows"
        ),
    ),
    (
        "number_text",
        "[load]\nrate = 'fast'\n" + PROBE,
        {},
        (
            "drill.toml: key 'load.rate': found 'fast', expected requests per second above 0, "
            "e.g. 20"
        ),
    ),
    (
        "number_ratio",
        "[load]\nlatency_ratio_max = 0.5\n" + PROBE,
        {},
        "drill.toml: key 'load.latency_ratio_max': found 0.5, expected a factor >= 1",
    ),
    (
        "number_margin",
        "[load]\nerror_rate_margin = 2\n" + PROBE,
        {},
        "drill.toml: key 'load.error_rate_margin': found 2, expected a fraction <= 1",
    ),
    (
        "number_ledger_rate",
        "[ledger]\nrate = 5000\n" + PROBE,
        {},
        "drill.toml: key 'ledger.rate': found 5000, expected at most 1000 writes per second",
    ),
    (
        "fraction",
        "[verification]\nerror_rate_max = 5\n" + PROBE,
        {},
        (
            "drill.toml: key 'verification.error_rate_max': found 5, expected a fraction from 0 "
            "to 1, e.g. 0.05 for 5%"
        ),
    ),
    (
        "text_empty",
        "[target]\nname = ' '\n" + PROBE,
        {},
        "drill.toml: key 'target.name': found ' ', expected a non-empty string",
    ),
    (
        "text_list",
        "[target.auth]\nroles = 'admin'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.auth.roles': found 'admin', expected a list of strings such "
            'as ["drill"]'
        ),
    ),
    (
        "text_list_item",
        "[target.auth]\nroles = ['admin', '']\n" + PROBE,
        {},
        "drill.toml: key 'target.auth.roles[1]': found '', expected a non-empty string",
    ),
    (
        "name",
        "[backup]\nname_prefix = 'my backups'\n" + PROBE,
        {},
        (
            "drill.toml: key 'backup.name_prefix': found 'my backups', expected a name of "
            "letters, digits, '_', '.' and '-'"
        ),
    ),
    (
        "choice_hint",
        "[target.auth]\nalgorithm = 'RS256'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.auth.algorithm': found 'RS256', expected one of 'HS256', "
            "'HS384', 'HS512'; drillbook signs tokens with the shared secret, so only HMAC "
            "algorithms apply"
        ),
    ),
    (
        "choice_suggestion",
        "[kubernetes]\nprobes = 'pod_readiness'\n" + PROBE,
        {},
        (
            "drill.toml: key 'kubernetes.probes': found 'pod_readiness', expected one of 'http', "
            "'pod-readiness'; did you mean 'pod-readiness'?"
        ),
    ),
    (
        "bool",
        "allow_production = 'yes'\n" + PROBE,
        {},
        "drill.toml: key 'allow_production': found 'yes', expected true or false",
    ),
    (
        "url_query",
        "[backup]\nendpoint_url = 'https://s3.example/?x=1'\n" + PROBE,
        {},
        (
            "drill.toml: key 'backup.endpoint_url': found 'https://s3.example/?x=1', expected an "
            "http(s) URL such as 'https://api.example.com' without query or fragment"
        ),
    ),
    (
        "env_var_redacted",
        "[ledger]\ndsn_env = 'postgresql://u:pw@db/x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'ledger.dsn_env': found a value not shown here (it may be a secret), "
            "expected the name of an environment variable (letters, digits, _), not the DSN; a "
            "DSN may hold a password: export it and name the variable here"
        ),
    ),
    (
        "env_var_shown",
        "[secrets.vault]\ntoken_env = 'MY-TOKEN'\n" + PROBE,
        {},
        (
            "drill.toml: key 'secrets.vault.token_env': found 'MY-TOKEN', expected the name of an "
            "environment variable, e.g. VAULT_TOKEN; the token itself never goes in the file"
        ),
    ),
    (
        "string_write_path",
        "[ledger]\nwrite_path = 'deliberate'\n" + PROBE,
        {},
        (
            "drill.toml: key 'ledger.write_path': found 'deliberate', expected a path starting "
            "with '/', e.g. '/deliberate', or '' for no writer"
        ),
    ),
    (
        "string_trace_read_path",
        "[load]\ntrace_read_path = '/audit'\n" + PROBE,
        {},
        (
            "drill.toml: key 'load.trace_read_path': found '/audit', expected a path containing "
            "{trace_id}"
        ),
    ),
    (
        "string_bucket",
        "[backup]\nbucket = 5\n" + PROBE,
        {},
        (
            "drill.toml: key 'backup.bucket': found 5, expected an S3 bucket name (3-63 "
            "lower-case letters, digits, '.', '-')"
        ),
    ),
    (
        "sub_table",
        "[secrets]\nvault = 'x'\n" + PROBE,
        {},
        "drill.toml: key 'secrets.vault': found 'x', expected a table [secrets.vault]",
    ),
    (
        "headers_authorization",
        "[probing]\nheaders = { Authorization = 'Bearer x' }\n" + PROBE,
        {},
        (
            "drill.toml: key 'probing.headers.Authorization': found a value not shown here (it "
            "may be a secret), expected no Authorization header in the file; credentials never go "
            'in the file: set [target.auth] kind = "jwt" and keep the secret in the environment '
            "variable named by secret_env"
        ),
    ),
    (
        "status_code",
        PROBE + "expect_status = [200, 99]\n",
        {},
        (
            "drill.toml: key 'target.probes[0].expect_status[1]': found 99, expected an HTTP "
            "status code from 100 to 599"
        ),
    ),
    (
        "probes_not_array",
        "[target]\nprobes = 'health'\n",
        {},
        (
            "drill.toml: key 'target.probes': found 'health', expected an array of tables "
            "[[target.probes]]"
        ),
    ),
    (
        "probe_not_table",
        "[target]\nprobes = ['health']\n",
        {},
        (
            "drill.toml: key 'target.probes[0]': found 'health', expected a table (write each "
            "entry as [[target.probes]])"
        ),
    ),
    (
        "probe_name_missing",
        "[[target.probes]]\npath = '/health'\n",
        {},
        (
            "drill.toml: key 'target.probes[0].name': found nothing, expected the probe's name, "
            'e.g. name = "health"'
        ),
    ),
    (
        "probe_method",
        PROBE + "method = 'fetch'\n",
        {},
        (
            "drill.toml: key 'target.probes[0].method': found 'fetch', expected one of GET, HEAD, "
            "POST, PUT, PATCH, DELETE, OPTIONS"
        ),
    ),
    (
        "components_not_table",
        "[target]\ncomponents = 'app'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.components': found 'app', expected a table of component "
            "tables, e.g. [target.components.app]"
        ),
    ),
    (
        "component_name",
        PROBE + "[target.components.'my app']\nrole = 'app'\n",
        {},
        (
            "drill.toml: key 'target.components.my app': found 'my app', expected a name of "
            "letters, digits, '_', '.' and '-'"
        ),
    ),
    (
        "component_workload",
        PROBE + "[target.components.app]\nrole = 'app'\nworkload = 'pod/x'\n",
        {},
        (
            "drill.toml: key 'target.components.app.workload': found 'pod/x', expected kind/name "
            "with kind one of deployment, statefulset, daemonset, replicaset, e.g. "
            "'deployment/eleanor-v8'"
        ),
    ),
    (
        "sentinel_address",
        "[cache]\nsentinels = ['h']\n" + PROBE,
        {},
        (
            "drill.toml: key 'cache.sentinels[0]': found 'h', expected an address host:port, e.g. "
            "'127.0.0.1:26379'"
        ),
    ),
    (
        "node_name",
        "[cache.nodes]\n'redis 0' = 'h:1'\n" + PROBE,
        {},
        (
            "drill.toml: key 'cache.nodes.redis 0': found 'redis 0', expected a name of letters, "
            "digits, '_', '.' and '-'"
        ),
    ),
    (
        "providers_twice",
        "[secrets]\nproviders = ['aws', 'aws']\n" + PROBE,
        {},
        "drill.toml: key 'secrets.providers[1]': found 'aws', expected each provider once",
    ),
    (
        "secret_name_empty",
        "[secrets]\napi_key = ''\n" + PROBE,
        {},
        (
            "drill.toml: key 'secrets.api_key': found '', expected the secret's name in the "
            "providers, e.g. 'eleanor/prod/jwt-secret'; the drill needs to know which secret to "
            "break; never put the value here"
        ),
    ),
    (
        "detect_before_interval",
        "[probing]\ninterval = '2s'\ndetect_timeout = '1s'\n" + PROBE,
        {},
        (
            "drill.toml: key 'probing.detect_timeout': found '1s', expected at least "
            "probing.interval (2s); detection needs at least one sample after the fault"
        ),
    ),
    (
        "recover_before_streak",
        "[probing]\nhealthy_streak = 10\nrecover_timeout = '1s'\n" + PROBE,
        {},
        (
            "drill.toml: key 'probing.recover_timeout': found '1s', expected at least "
            "probing.interval x probing.healthy_streak (2.5s); recovery is only declared after "
            "healthy_streak healthy samples"
        ),
    ),
    (
        "replicas_above_max",
        "[stack]\napp_replicas = 4\nmax_app_replicas = 3\n" + PROBE,
        {},
        (
            "drill.toml: key 'stack.max_app_replicas': found 3, expected an integer >= "
            "stack.app_replicas (4)"
        ),
    ),
    (
        "load_too_slow",
        "[load]\nusers = 1000\nrate = 1\n" + PROBE,
        {},
        (
            "drill.toml: key 'load.rate': found 1, expected at least 0.01 request per second per "
            "user (1000 users)"
        ),
    ),
    (
        "jsonl_without_path",
        "[ledger]\nwrite_path = '/d'\nsource = 'jsonl'\n" + PROBE,
        {},
        (
            "drill.toml: key 'ledger.jsonl_path': found nothing, expected the JSON-lines file to "
            'read back, because ledger.source is "jsonl"; e.g. the file at ELEANOR\'s '
            "EVIDENCE_PATH or ELEANOR_LEDGER_PATH"
        ),
    ),
    (
        "table_on_kubernetes",
        K8S + PROBE + "[ledger]\nwrite_path = '/d'\n",
        {},
        (
            "drill.toml: key 'ledger.dsn_env': found nothing, expected the environment variable "
            "holding the DSN, because ledger.source is \"table\" and platform is 'kubernetes'; or "
            'read back through the service with source = "http"'
        ),
    ),
    (
        "component_on_kubernetes",
        K8S + PROBE + "[target.components.db]\nrole = 'database'\n",
        {},
        (
            "drill.toml: key 'target.components.db.namespace': found nothing, expected the "
            "component's Kubernetes namespace, because platform is 'kubernetes'; drills find the "
            "pods to disrupt by namespace and selector"
        ),
    ),
    (
        "probe_auth_without_jwt",
        PROBE + "auth = true\n",
        {},
        (
            "drill.toml: key 'target.probes[0].auth': found True, expected false, because "
            "[target.auth] kind is 'none'; set kind = \"jwt\" under [target.auth] so drillbook "
            "can mint a bearer token"
        ),
    ),
    (
        "duplicate_probe_name",
        PROBE + "[[target.critical_endpoints]]\nname = 'health'\npath = '/x'\n",
        {},
        (
            "drill.toml: key 'target.critical_endpoints[0].name': found 'health', expected a name "
            "not already used by target.probes[0]"
        ),
    ),
    (
        "kubernetes_without_base_url",
        "platform = 'kubernetes'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.base_url': found nothing, expected the http(s) URL the "
            "deployment answers at, because platform is 'kubernetes'; add base_url = "
            '"https://..." under [target]; only the local platform provides one (or set '
            'kubernetes.probes = "pod-readiness" for pods that serve no HTTP)'
        ),
    ),
    (
        "production",
        "[target]\nenvironment = 'Prod'\n" + PROBE,
        {},
        (
            "drill.toml: key 'target.environment': found 'Prod', expected a non-production "
            "environment unless production drills are confirmed; drills are destructive (they "
            "kill replicas, stop databases, revoke secrets and restore backups on the target), so "
            "running them against production must be an explicit decision: set allow_production = "
            "true at the top of the file or pass --drillbook-allow-production"
        ),
    ),
    (
        "two_mistakes_load",
        "[load]\nhost = 1\nrate = 0\nusers = 0\n" + PROBE,
        {},
        (
            "drill.toml: key 'load.host': found unknown key 'host' = 1, expected one of enabled, "
            "users, rate, max_requests, max_duration, baseline, start_timeout, latency_slack, "
            "settle, trace_read_path, workers, external_workers, master_bind_host, master_port, "
            "worker_key_env, error_rate_margin, latency_percentile, latency_ratio_max, "
            "min_requests in [load]"
        ),
    ),
    (
        "two_mistakes_load_values",
        "[load]\nrate = 0\nmaster_port = -1\nusers = 0\n" + PROBE,
        {},
        "drill.toml: key 'load.users': found 0, expected an integer >= 1",
    ),
    (
        "two_mistakes_ledger",
        "[ledger]\nread_path = '/x'\nack_dir = ''\n" + PROBE,
        {},
        "drill.toml: key 'ledger.ack_dir': found '', expected a non-empty string",
    ),
    (
        "two_mistakes_probing",
        "[probing]\nhealthy_streak = 0\ndetect_timeout = 'x'\n" + PROBE,
        {},
        (
            "drill.toml: key 'probing.detect_timeout': found 'x', expected a duration such as "
            "'250ms', '2s', '15m', '1h' or '1h30m' (units h, m, s, ms, largest first), or a "
            "number of seconds"
        ),
    ),
    (
        "override_unknown",
        PROBE,
        {"load.rat": "5"},
        (
            "<overrides>: key 'load.rat': found unknown key 'rat' = '5', expected one of enabled, "
            "users, rate, max_requests, max_duration, baseline, start_timeout, latency_slack, "
            "settle, trace_read_path, workers, external_workers, master_bind_host, master_port, "
            "worker_key_env, error_rate_margin, latency_percentile, latency_ratio_max, "
            "min_requests in [load]; "
            "did you mean 'rate'?"
        ),
    ),
    (
        "override_bool",
        PROBE,
        {"stack.reuse": "perhaps"},
        "<overrides>: key 'stack.reuse': found 'perhaps', expected true or false",
    ),
    (
        "override_number",
        PROBE,
        {"load.rate": "0"},
        ("<overrides>: key 'load.rate': found 0.0, expected requests per second above 0, e.g. 20"),
    ),
    (
        "override_fraction",
        PROBE,
        {"verification.error_rate_max": "5"},
        (
            "<overrides>: key 'verification.error_rate_max': found '5', expected a fraction from "
            "0 to 1, e.g. 0.05 for 5%"
        ),
    ),
    (
        "override_app_replicas",
        "[stack]\nmax_app_replicas = 3\n" + PROBE,
        {"stack.app_replicas": "4"},
        (
            "<overrides>: key 'stack.app_replicas': found '4', expected an integer <= "
            "stack.max_app_replicas (3); raise max_app_replicas too"
        ),
    ),
    (
        "override_into_value",
        PROBE,
        {"platform.name": "x"},
        (
            "<overrides>: key 'platform': found {'name': 'x'}, expected one of 'local', "
            "'kubernetes', 'docker'"
        ),
    ),
    (
        "override_bad_key",
        PROBE,
        {"load..rate": "1"},
        (
            "<overrides>: key 'load..rate': found '1', expected a dotted key such as "
            "'probing.interval'"
        ),
    ),
)


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [case[1:] for case in MESSAGES],
    ids=[case[0] for case in MESSAGES],
)
def test_the_whole_message(
    tmp_path: Path, text: str, overrides: dict[str, object], expected: str
) -> None:
    path = tmp_path / "drill.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides=overrides)
    assert str(info.value).replace(str(path), "drill.toml") == expected


def test_case_names_are_unique() -> None:
    names = [case[0] for case in MESSAGES]
    assert len(names) == len(set(names))
