"""Named bad configuration files, each with what its ConfigError must say.

Every case is a whole TOML file. `key` is the dotted key the message must name, `found` a fragment
showing the offending value as found, `expected` a fragment of what was expected instead.
"""

from __future__ import annotations

from dataclasses import dataclass

# The smallest valid file is one health probe; cases add the single mistake they are about.
PROBE = """
[[target.probes]]
name = "health"
path = "/health"
"""

KUBERNETES = """
platform = "kubernetes"

[kubernetes]
context = "drill-cluster"

[allow]
namespaces = ["eleanor-v8"]

[[allow.contexts]]
name = "drill-cluster"

[target]
base_url = "https://api.example.test"
"""


@dataclass(frozen=True)
class BadConfig:
    """A configuration file with exactly one mistake."""

    name: str
    toml: str
    key: str
    found: str
    expected: str


# A Kubernetes file whose allow-list is fine, for cases that change one thing about it.
_K8S_ALLOWED = (
    'platform = "kubernetes"\n[kubernetes]\ncontext = "c"\n'
    '[allow]\nnamespaces = ["eleanor-v8"]\n[[allow.contexts]]\nname = "c"\n'
)

BAD_CONFIGS: tuple[BadConfig, ...] = (
    BadConfig(
        "external_workers_without_a_key",
        PROBE + '[load]\nexternal_workers = 2\nmaster_bind_host = "0.0.0.0"\n',
        "load.worker_key_env",
        "nothing",
        "the environment variable holding the workers' key",
    ),
    BadConfig(
        "kubernetes_without_an_allow_list",
        'platform = "kubernetes"\n[kubernetes]\ncontext = "c"\n[target]\n'
        'base_url = "https://api.example.test"\n' + PROBE,
        "allow.contexts",
        "nothing",
        "the kube contexts drills may use",
    ),
    BadConfig(
        "context_not_on_the_allow_list",
        'platform = "kubernetes"\n[kubernetes]\ncontext = "other"\n'
        '[allow]\nnamespaces = ["eleanor-v8"]\n[[allow.contexts]]\nname = "c"\n[target]\n'
        'base_url = "https://api.example.test"\n' + PROBE,
        "kubernetes.context",
        "'other'",
        "a context of allow.contexts",
    ),
    BadConfig(
        "no_namespaces_allowed",
        'platform = "kubernetes"\n[kubernetes]\ncontext = "c"\n'
        '[[allow.contexts]]\nname = "c"\n[target]\n'
        'base_url = "https://api.example.test"\n' + PROBE,
        "allow.namespaces",
        "nothing",
        "the namespaces whose workloads drills may fault",
    ),
    BadConfig(
        "component_namespace_not_allowed",
        _K8S_ALLOWED
        + '[target]\nbase_url = "https://api.example.test"\n'
        + PROBE
        + '[target.components.app]\nrole = "app"\nnamespace = "billing"\n'
        'selector = "app=x"\nworkload = "deployment/x"\n',
        "target.components.app.namespace",
        "'billing'",
        "a namespace of allow.namespaces",
    ),
    BadConfig(
        "declared_production_unconfirmed",
        'platform = "kubernetes"\n[kubernetes]\ncontext = "c"\n'
        '[allow]\nproduction = true\nnamespaces = ["eleanor-v8"]\n[[allow.contexts]]\nname = "c"\n'
        '[target]\nbase_url = "https://api.example.test"\n' + PROBE,
        "allow.production",
        "true",
        "production drills confirmed",
    ),
    # --- top level ---
    BadConfig(
        "unknown_platform",
        'platform = "k8s"\n' + PROBE,
        "platform",
        "'k8s'",
        "one of 'local', 'kubernetes'",
    ),
    BadConfig(
        "platform_not_a_string",
        "platform = 1\n" + PROBE,
        "platform",
        "found 1",
        "one of 'local', 'kubernetes'",
    ),
    BadConfig(
        "unknown_top_level_key",
        'platfrom = "local"\n' + PROBE,
        "platfrom",
        "'local'",
        "did you mean 'platform'?",
    ),
    BadConfig(
        "allow_production_as_string",
        'allow_production = "yes"\n' + PROBE,
        "allow_production",
        "'yes'",
        "true or false",
    ),
    BadConfig(
        "probing_not_a_table",
        "probing = 5\n" + PROBE,
        "probing",
        "found 5",
        "a table [probing]",
    ),
    BadConfig(
        "target_not_a_table",
        'target = "eleanor"\n',
        "target",
        "'eleanor'",
        "a table [target]",
    ),
    # --- objectives ---
    BadConfig(
        "negative_rpo",
        '[objectives]\nrpo = "-5m"\n' + PROBE,
        "objectives.rpo",
        "'-5m'",
        "a duration of 0 or more",
    ),
    BadConfig(
        "zero_critical_rto",
        '[objectives]\nrto_critical = "0s"\n' + PROBE,
        "objectives.rto_critical",
        "'0s'",
        "longer than 0",
    ),
    BadConfig(
        "rto_with_seconds_suffix_key",
        "[objectives]\nrto_critical_seconds = 900\n" + PROBE,
        "objectives.rto_critical_seconds",
        "900",
        "did you mean 'rto_critical'?",
    ),
    BadConfig(
        "negative_evidence_loss",
        "[objectives]\nevidence_loss_allowed = -1\n" + PROBE,
        "objectives.evidence_loss_allowed",
        "found -1",
        "an integer >= 0",
    ),
    # --- probing ---
    BadConfig(
        "junk_duration",
        '[probing]\ninterval = "fast"\n' + PROBE,
        "probing.interval",
        "'fast'",
        "a duration such as '250ms'",
    ),
    BadConfig(
        "duration_units_out_of_order",
        '[probing]\nrecover_timeout = "30s1m"\n' + PROBE,
        "probing.recover_timeout",
        "'30s1m'",
        "largest first",
    ),
    BadConfig(
        "boolean_duration",
        "[probing]\ntimeout = true\n" + PROBE,
        "probing.timeout",
        "found True",
        "a duration such as",
    ),
    BadConfig(
        "zero_interval",
        "[probing]\ninterval = 0\n" + PROBE,
        "probing.interval",
        "found 0",
        "a duration longer than 0",
    ),
    BadConfig(
        "zero_healthy_streak",
        "[probing]\nhealthy_streak = 0\n" + PROBE,
        "probing.healthy_streak",
        "found 0",
        "an integer >= 1",
    ),
    BadConfig(
        "fractional_healthy_streak",
        "[probing]\nhealthy_streak = 2.5\n" + PROBE,
        "probing.healthy_streak",
        "2.5",
        "an integer >= 1",
    ),
    BadConfig(
        "recover_timeout_shorter_than_streak",
        '[probing]\ninterval = "1s"\nhealthy_streak = 3\nrecover_timeout = "2s"\n' + PROBE,
        "probing.recover_timeout",
        "'2s'",
        "at least probing.interval x probing.healthy_streak (3s)",
    ),
    BadConfig(
        "headers_not_a_table",
        '[probing]\nheaders = "X-Drill: 1"\n' + PROBE,
        "probing.headers",
        "'X-Drill: 1'",
        "a table of header names to strings",
    ),
    BadConfig(
        "authorization_header_in_file",
        '[probing]\nheaders = { Authorization = "Bearer abc" }\n' + PROBE,
        "probing.headers.Authorization",
        "not shown",
        "no Authorization header in the file",
    ),
    # --- target ---
    BadConfig(
        "no_probes",
        '[target]\nname = "eleanor"\n',
        "target.probes",
        "found nothing",
        "at least one health probe",
    ),
    BadConfig(
        "empty_probes",
        "[target]\nprobes = []\n",
        "target.probes",
        "found []",
        "at least one health probe",
    ),
    BadConfig(
        "base_url_without_scheme",
        '[target]\nbase_url = "api.example.test"\n' + PROBE,
        "target.base_url",
        "'api.example.test'",
        "an http(s) URL",
    ),
    BadConfig(
        "empty_environment",
        '[target]\nenvironment = ""\n' + PROBE,
        "target.environment",
        "''",
        "a non-empty string",
    ),
    BadConfig(
        "production_without_confirmation",
        '[target]\nenvironment = "production"\n' + PROBE,
        "target.environment",
        "'production'",
        "set allow_production = true",
    ),
    # --- probes ---
    BadConfig(
        "probe_without_path",
        '[[target.probes]]\nname = "health"\n',
        "target.probes[0].path",
        "found nothing",
        "the probe's path",
    ),
    BadConfig(
        "probe_misspelled_key",
        '[[target.probes]]\nnme = "health"\npath = "/health"\n',
        "target.probes[0].nme",
        "'health'",
        "did you mean 'name'?",
    ),
    BadConfig(
        "probe_path_without_slash",
        '[[target.probes]]\nname = "health"\npath = "health"\n',
        "target.probes[0].path",
        "'health'",
        "a path starting with '/'",
    ),
    BadConfig(
        "probe_unknown_method",
        '[[target.probes]]\nname = "health"\npath = "/health"\nmethod = "FETCH"\n',
        "target.probes[0].method",
        "'FETCH'",
        "one of GET, HEAD, POST",
    ),
    BadConfig(
        "expect_status_not_a_list",
        '[[target.probes]]\nname = "health"\npath = "/health"\nexpect_status = 200\n',
        "target.probes[0].expect_status",
        "found 200",
        "a non-empty list of HTTP status codes such as [200]",
    ),
    BadConfig(
        "expect_status_out_of_range",
        '[[target.probes]]\nname = "health"\npath = "/health"\nexpect_status = [200, 700]\n',
        "target.probes[0].expect_status[1]",
        "found 700",
        "an HTTP status code from 100 to 599",
    ),
    BadConfig(
        "conditions_not_a_list",
        '[[target.probes]]\nname = "health"\npath = "/health"\nconditions = \'status == "ok"\'\n',
        "target.probes[0].conditions",
        "'status == \"ok\"'",
        "a list of condition strings",
    ),
    BadConfig(
        "condition_with_single_equals",
        '[[target.probes]]\nname = "health"\npath = "/health"\n'
        "conditions = ['status == \"healthy\"', 'checks.database = \"ok\"']\n",
        "target.probes[0].conditions[1]",
        "'checks.database = \"ok\"'",
        "'=' is not an operator, write '=='",
    ),
    BadConfig(
        "condition_with_bare_word",
        '[[target.probes]]\nname = "health"\npath = "/health"\n'
        "conditions = ['status == healthy']\n",
        "target.probes[0].conditions[0]",
        "'status == healthy'",
        "is not a JSON literal",
    ),
    BadConfig(
        "condition_not_a_string",
        '[[target.probes]]\nname = "health"\npath = "/health"\nconditions = [42]\n',
        "target.probes[0].conditions[0]",
        "found 42",
        "a condition string",
    ),
    BadConfig(
        "json_body_with_a_date",
        '[[target.probes]]\nname = "health"\npath = "/health"\njson = { when = 2024-01-01 }\n',
        "target.probes[0].json.when",
        "datetime.date(2024, 1, 1)",
        "a JSON value",
    ),
    BadConfig(
        "auth_probe_without_auth_settings",
        PROBE + '[[target.critical_endpoints]]\nname = "deliberate"\npath = "/deliberate"\n'
        "auth = true\n",
        "target.critical_endpoints[0].auth",
        "found True",
        "false, because [target.auth] kind is 'none'",
    ),
    BadConfig(
        "duplicate_probe_names",
        PROBE + '[[target.critical_endpoints]]\nname = "health"\npath = "/ready"\n',
        "target.critical_endpoints[0].name",
        "'health'",
        "a name not already used by target.probes[0]",
    ),
    # --- auth ---
    BadConfig(
        "unknown_auth_kind",
        '[target.auth]\nkind = "oauth"\n' + PROBE,
        "target.auth.kind",
        "'oauth'",
        "one of 'none', 'jwt'",
    ),
    BadConfig(
        "secret_written_in_file",
        '[target.auth]\nkind = "jwt"\nsecret = "hunter2"\n' + PROBE,
        "target.auth.secret",
        "not shown",
        "the secret never goes in the file",
    ),
    BadConfig(
        "secret_pasted_into_secret_env",
        '[target.auth]\nsecret_env = "s3cr3t value!"\n' + PROBE,
        "target.auth.secret_env",
        "not shown",
        "the name of an environment variable",
    ),
    BadConfig(
        "asymmetric_jwt_algorithm",
        '[target.auth]\nalgorithm = "RS256"\n' + PROBE,
        "target.auth.algorithm",
        "'RS256'",
        "one of 'HS256', 'HS384', 'HS512'",
    ),
    # --- components ---
    BadConfig(
        "component_without_role",
        '[target.components.app]\ntier = "critical"\n' + PROBE,
        "target.components.app.role",
        "found nothing",
        "one of 'app', 'database', 'cache', 'vector_store', 'secrets', 'proxy'",
    ),
    BadConfig(
        "unknown_role",
        '[target.components.queue]\nrole = "queue"\n' + PROBE,
        "target.components.queue.role",
        "'queue'",
        "one of 'app', 'database'",
    ),
    BadConfig(
        "unknown_tier",
        '[target.components.app]\nrole = "app"\ntier = "urgent"\n' + PROBE,
        "target.components.app.tier",
        "'urgent'",
        "one of 'critical', 'non_critical', 'full'",
    ),
    BadConfig(
        "workload_without_kind",
        '[target.components.app]\nrole = "app"\nworkload = "eleanor-v8"\n' + PROBE,
        "target.components.app.workload",
        "'eleanor-v8'",
        "kind/name with kind one of deployment, statefulset",
    ),
    BadConfig(
        "namespace_not_a_dns_label",
        '[target.components.app]\nrole = "app"\nnamespace = "Eleanor_V8"\n' + PROBE,
        "target.components.app.namespace",
        "'Eleanor_V8'",
        "a Kubernetes namespace",
    ),
    BadConfig(
        "kubernetes_without_base_url",
        'platform = "kubernetes"\n' + PROBE,
        "target.base_url",
        "found nothing",
        "because platform is 'kubernetes'",
    ),
    BadConfig(
        "kubernetes_component_without_namespace",
        KUBERNETES + '[target.components.app]\nrole = "app"\nselector = "app=eleanor-v8"\n' + PROBE,
        "target.components.app.namespace",
        "found nothing",
        "Kubernetes namespace, because platform is 'kubernetes'",
    ),
    BadConfig(
        "kubernetes_component_without_selector",
        KUBERNETES
        + '[target.components.db]\nrole = "database"\nnamespace = "eleanor-db"\n'
        + PROBE,
        "target.components.db.selector",
        "found nothing",
        "Kubernetes label selector, because platform is 'kubernetes'",
    ),
    # --- stack ---
    BadConfig(
        "one_app_replica",
        "[stack]\napp_replicas = 1\n" + PROBE,
        "stack.app_replicas",
        "found 1",
        "an integer >= 2",
    ),
    BadConfig(
        "max_replicas_below_replicas",
        "[stack]\napp_replicas = 3\nmax_app_replicas = 2\n" + PROBE,
        "stack.max_app_replicas",
        "found 2",
        "an integer >= stack.app_replicas (3)",
    ),
    BadConfig(
        "replicas_above_default_max",
        "[stack]\napp_replicas = 6\n" + PROBE,
        "stack.app_replicas",
        "found 6",
        "an integer <= stack.max_app_replicas (5)",
    ),
    # --- verification ---
    BadConfig(
        "error_rate_as_percent",
        "[verification]\nerror_rate_max = 5\n" + PROBE,
        "verification.error_rate_max",
        "found 5",
        "a fraction from 0 to 1",
    ),
    BadConfig(
        "verification_window_junk",
        '[verification]\nwindow = "a while"\n' + PROBE,
        "verification.window",
        "'a while'",
        "a duration such as",
    ),
    BadConfig(
        "reuse_as_string_in_file",
        '[stack]\nreuse = "yes"\n' + PROBE,
        "stack.reuse",
        "'yes'",
        "true or false",
    ),
    # --- safety: bounds, credentials, shared places, production by any spelling ---
    BadConfig(
        "rto_past_any_float",
        "[objectives]\nrto_critical = 1" + "0" * 400 + "\n" + PROBE,
        "objectives.rto_critical",
        "found 1000000000",
        "a duration of at most 8784h",
    ),
    BadConfig(
        "rto_digits_to_infinity",
        '[objectives]\nrto_critical = "' + "9" * 400 + 's"\n' + PROBE,
        "objectives.rto_critical",
        "'9999",
        "a duration of at most 8784h",
    ),
    BadConfig(
        "healthy_streak_past_any_float",
        "[probing]\nhealthy_streak = 1" + "0" * 400 + "\n" + PROBE,
        "probing.healthy_streak",
        "an integer of 401 digits",
        "an integer from 1 to 1e+12",
    ),
    BadConfig(
        "probe_interval_past_the_sample_cap",
        '[probing]\ninterval = "1ms"\nrecover_timeout = "1h"\n' + PROBE,
        "probing.interval",
        "'1ms'",
        "an interval of at least",
    ),
    BadConfig(
        "url_with_credentials",
        'platform = "kubernetes"\n[kubernetes]\ncontext = "c"\n[target]\n'
        'base_url = "https://drill:hunter2@api.example.test"\n' + PROBE,
        "target.base_url",
        "https://***@api.example.test",
        "without credentials",
    ),
    BadConfig(
        "run_dir_is_root",
        '[stack]\nrun_dir = "/"\n' + PROBE,
        "stack.run_dir",
        "'/'",
        "a directory of the stack's own",
    ),
    BadConfig(
        "run_dir_is_tmp",
        '[stack]\nrun_dir = "/tmp/"\n' + PROBE,
        "stack.run_dir",
        "'/tmp/'",
        "a directory of the stack's own",
    ),
    BadConfig(
        "load_users_beyond_one_runner",
        "[load]\nusers = 100000\n" + PROBE,
        "load.users",
        "found 100000",
        "at most 1000 users",
    ),
    BadConfig(
        "load_rate_a_load_test",
        "[load]\nrate = 1000000000000\n" + PROBE,
        "load.rate",
        "found 1000000000000",
        "at most 5000 requests per second",
    ),
    BadConfig(
        "locust_master_on_every_interface",
        '[load]\nmaster_bind_host = "0.0.0.0"\n' + PROBE,
        "load.master_bind_host",
        "'0.0.0.0'",
        "a loopback address",
    ),
    BadConfig(
        "production_spelled_otherwise",
        '[target]\nenvironment = "prod-eu"\n' + PROBE,
        "target.environment",
        "'prod-eu'",
        "a non-production environment",
    ),
    BadConfig(
        "production_context",
        'platform = "kubernetes"\n[kubernetes]\ncontext = "eu-production"\n[target]\n'
        'base_url = "https://api.example.test"\n' + PROBE,
        "kubernetes.context",
        "'eu-production'",
        "a non-production environment",
    ),
    BadConfig(
        "kubernetes_without_a_context",
        'platform = "kubernetes"\n[target]\nbase_url = "https://api.example.test"\n' + PROBE,
        "kubernetes.context",
        "found nothing",
        "the kube context to drill, named in the file",
    ),
    BadConfig(
        "kube_system_namespace",
        KUBERNETES
        + '[target.components.app]\nrole = "app"\nnamespace = "kube-system"\n'
        + 'selector = "app=eleanor-v8"\n'
        + PROBE,
        "target.components.app.namespace",
        "'kube-system'",
        "a namespace of the application's own",
    ),
    BadConfig(
        "selector_matching_everything",
        KUBERNETES
        + '[target.components.app]\nrole = "app"\nnamespace = "eleanor-v8"\nselector = "app"\n'
        + PROBE,
        "target.components.app.selector",
        "'app'",
        "a selector naming the component's pods by a label value",
    ),
)
