"""The Kubernetes delivery, checked offline: playbooks/kubernetes.yml in render mode for each environment, then the
rendered objects validated (kubernetes-validate strict, checkov) and held to the platform's policies."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog import metrics
from strata.tools import k8s_check
from tests.helpers import ROOT, VENV_BIN, Run, free_port, run, venv_env

ENVS = ("local", "staging", "production")
PLAYBOOK = [str(VENV_BIN / "ansible-playbook"), "playbooks/kubernetes.yml"]


class Rendered:
    def __init__(self, env: str, folder: Path, output: str) -> None:
        self.env, self.folder, self.output = env, folder, output
        self.objects = [doc for _, doc in k8s_check.manifests(folder)]
        self.charts = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((folder / "charts").glob("*.yaml"))}

    def one(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        return found

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Rendered]]:
    """The three environments rendered side by side (each a separate ansible-playbook)."""
    base = tmp_path_factory.mktemp("render")
    procs = {
        env: subprocess.Popen(
            [*PLAYBOOK, "-e", f"env={env}", "-e", f"kubernetes_render_dir={base / env}"],
            cwd=ROOT,
            env=venv_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for env in ENVS
    }
    outputs = {env: proc.communicate(timeout=600)[0] for env, proc in procs.items()}
    for env, proc in procs.items():
        assert proc.returncode == 0, outputs[env][-4000:]
    yield {env: Rendered(env, base / env, outputs[env]) for env in ENVS}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_render_mode_reports_itself_and_contacts_no_cluster(rendered: dict[str, Rendered]) -> None:
    for env, r in rendered.items():
        text = " ".join(r.output.split())
        assert f"RENDER: the Kubernetes manifests and chart releases of env={env} go to {r.folder}" in text
        assert "k8s_cluster_info" not in r.output and "APPLY:" not in r.output
        assert sorted(p.name for p in r.folder.glob("*.yaml")) == [
            "app.yaml", "grafana-admin.yaml", "ingress.yaml", "namespaces.yaml", "observability.yaml"
        ]  # fmt: skip


def test_every_object_validates_strictly_and_checkov_passes(rendered: dict[str, Rendered]) -> None:
    report = k8s_check.Report()
    folders = [r.folder for r in rendered.values()]
    for folder in folders:
        k8s_check.validate(folder, None, report)  # the version each render recorded
    checkov = k8s_check.default_checkov()
    assert Path(checkov).exists(), f"{checkov} is missing: run `make checkov`"
    k8s_check.run_checkov(folders, checkov, report)
    assert report.errors == []
    assert len(report.validated) > 100 and report.checkov["passed"] > 1000 and report.checkov["failed"] == 0
    # Only the custom resources of cert-manager and the Prometheus operator go unvalidated, and they are listed.
    assert {c.split(": ")[1].split()[0] for c in report.custom} == {
        "Certificate", "ClusterIssuer", "ServiceMonitor", "PrometheusRule"
    }  # fmt: skip


def test_the_checks_catch_an_unknown_field_and_an_unjustified_skip(
    tmp_path: Path, rendered: dict[str, Rendered]
) -> None:
    """The strict validation and the skip rule can fail: a typo'd field and a bare skip are both reported."""
    deployment = copy.deepcopy(rendered["staging"].one("Deployment", "catalog"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    deployment["metadata"]["annotations"]["checkov.io/skip3"] = "CKV_K8S_8"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(deployment))
    report = k8s_check.Report()
    k8s_check.validate(tmp_path, "1.35", report)
    assert len(report.errors) == 2
    assert "periodSecond" in report.errors[0] and "checkov.io/skip3" in report.errors[1]


def test_checkov_fails_a_privileged_root_container(tmp_path: Path, rendered: dict[str, Rendered]) -> None:
    deployment = copy.deepcopy(rendered["staging"].one("Deployment", "catalog"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"privileged": True, "runAsUser": 0}
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(deployment))
    report = k8s_check.Report()
    k8s_check.run_checkov([tmp_path], k8s_check.default_checkov(), report)
    failed = {e.split()[1] for e in report.errors}
    assert {"CKV_K8S_16", "CKV_K8S_20"} <= failed  # privileged; allowPrivilegeEscalation


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_service_deployment_policies(rendered: dict[str, Rendered], env: str) -> None:
    r = rendered[env]
    deployment = r.one("Deployment", "catalog")
    pod = deployment["spec"]["template"]["spec"]
    (api,) = pod["containers"]
    assert api["image"].endswith(f".dkr.ecr.eu-west-3.amazonaws.com/strata/api:{'1.0.0'}")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    strategy = deployment["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    # Non-root, read-only root filesystem, no privilege, every capability dropped, RuntimeDefault seccomp.
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    context = api["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    # Spread over the zones (hard), then the hosts; only on the app node group.
    zone = pod["topologySpreadConstraints"][0]
    assert (zone["topologyKey"], zone["whenUnsatisfiable"], zone["maxSkew"]) == (
        "topology.kubernetes.io/zone", "DoNotSchedule", 1
    )  # fmt: skip
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [{"key": "strata.io/nodegroup", "operator": "In", "values": ["app"]}]
    # The drain of the service (its /readyz turns 503 first) fits in the grace period.
    config = r.one("ConfigMap", "catalog")["data"]
    assert pod["terminationGracePeriodSeconds"] > int(config["CATALOG_DRAIN_SECONDS"])
    # The database by its RDS endpoint (the name its certificate covers: a private CNAME fails verify-full), verified
    # against the Amazon RDS CAs the image ships (production's Aurora: the cluster's writer endpoint).
    endpoint = {
        "staging": "strata-staging.rendered-offline",
        "production": "strata-production.cluster-rendered-offline",
    }
    assert config["CATALOG_ENV"] == env and config["CATALOG_DB_HOST"] == f"{endpoint[env]}.eu-west-3.rds.amazonaws.com"
    assert (config["CATALOG_DB_SSLMODE"], config["CATALOG_DB_SSLROOTCERT"]) == ("verify-full", "rds")
    # Its own login with IAM tokens made with its service account's role: no password exists, none is mounted, and
    # no Secret of the namespace holds the master's (a rotation of the master secret cannot break a running pod).
    assert (config["CATALOG_DB_USER"], config["CATALOG_DB_AUTH"]) == ("catalog_app", "iam")
    assert config["CATALOG_DB_REGION"] == "eu-west-3"
    assert not any("PASSWORD" in key or "SECRET" in key for key in config)
    assert "env" not in api and [v["name"] for v in pod["volumes"]] == ["tmp"]
    assert [s["metadata"]["name"] for s in r.of_kind("Secret") if s["metadata"]["namespace"] == env] == []
    # Two identities: the service's and the migration's, each with its own role (scoped by the database role).
    for name in ("catalog", "catalog-migrate"):
        account = r.one("ServiceAccount", name)
        assert re.fullmatch(
            rf"arn:aws:iam::\d{{12}}:role/strata-{env}-{name}",
            account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        )
    assert pod["serviceAccountName"] == "catalog"


@pytest.mark.parametrize("env", ["staging", "production"])
def test_every_container_has_requests_and_limits_and_the_quota_holds_the_hpa_maximum(
    rendered: dict[str, Rendered], env: str
) -> None:
    r = rendered[env]
    for workload in r.of_kind("Deployment") + r.of_kind("Job"):
        for container in containers(workload):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
    hpa = r.one("HorizontalPodAutoscaler", "catalog")["spec"]
    (api,) = r.one("Deployment", "catalog")["spec"]["template"]["spec"]["containers"]
    namespace = r.one("Deployment", "catalog")["metadata"]["namespace"]
    quota = next(q for q in r.of_kind("ResourceQuota") if q["metadata"]["namespace"] == namespace)["spec"]["hard"]
    # The HPA's maximum (plus one surge pod and the migration Job) fits in the namespace's quota.
    pods = hpa["maxReplicas"] + 2
    assert pods * cpu(api["resources"]["limits"]["cpu"]) <= cpu(quota["limits.cpu"]), (env, pods, quota)
    assert pods * mebibytes(api["resources"]["limits"]["memory"]) <= mebibytes(quota["limits.memory"])
    assert pods * cpu(api["resources"]["requests"]["cpu"]) <= cpu(quota["requests.cpu"])
    assert pods <= int(quota["pods"])


def cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def mebibytes(value: str) -> float:
    units = {"Mi": 1, "Gi": 1024}
    return float(value[:-2]) * units[value[-2:]]


@pytest.mark.parametrize("env", ["staging", "production"])
def test_hpa_bounds_and_the_disruption_budget_keep_the_service_up(rendered: dict[str, Rendered], env: str) -> None:
    r = rendered[env]
    hpa = r.one("HorizontalPodAutoscaler", "catalog")["spec"]
    pdb = r.one("PodDisruptionBudget", "catalog")["spec"]
    assert 3 <= hpa["minReplicas"] < hpa["maxReplicas"]  # one per zone at least
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "catalog"}
    # A voluntary disruption (a node drained, Cluster Autoscaler scaling down) leaves at least two pods serving.
    assert hpa["minReplicas"] - pdb["maxUnavailable"] >= 2
    selector = r.one("Deployment", "catalog")["spec"]["selector"]["matchLabels"]
    assert pdb["selector"]["matchLabels"] == selector


@pytest.mark.parametrize("env", ENVS)
def test_network_policies_deny_by_default_and_allow_what_the_service_needs(
    rendered: dict[str, Rendered], env: str
) -> None:
    r = rendered[env]
    policies = r.of_kind("NetworkPolicy")
    namespaces = [n["metadata"]["name"] for n in r.of_kind("Namespace")]
    app_namespaces = [
        n["metadata"]["name"] for n in r.of_kind("Namespace") if n["metadata"]["labels"]["strata.io/tier"] == "app"
    ]
    for ns in namespaces:
        (deny,) = [p for p in policies if p["metadata"]["namespace"] == ns and p["metadata"]["name"] == "default-deny"]
        assert deny["spec"]["podSelector"] == {} and "ingress" not in deny["spec"] and "egress" not in deny["spec"]
        assert "Ingress" in deny["spec"]["policyTypes"]
        assert ("Egress" in deny["spec"]["policyTypes"]) == (ns in app_namespaces)
    pod_labels = r.one("Deployment", "catalog")["spec"]["template"]["metadata"]["labels"]
    job_labels = next(iter(r.of_kind("Job")))["spec"]["template"]["metadata"]["labels"]
    namespace = r.one("Deployment", "catalog")["metadata"]["namespace"]

    def allowing(labels: dict[str, str], kind: str) -> list[dict[str, Any]]:
        return [
            p for p in policies
            if p["metadata"]["namespace"] == namespace and kind in p["spec"]["policyTypes"]
            and p["spec"].get(kind.lower())
            and set(p["spec"]["podSelector"].get("matchLabels", {}).items()) <= set(labels.items())
        ]  # fmt: skip

    ingress = allowing(pod_labels, "Ingress")
    peers = [peer for p in ingress for rule in p["spec"]["ingress"] for peer in rule["from"]]
    sources = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in peers}
    assert sources == {"traefik", "monitoring"}
    assert {port["port"] for p in ingress for rule in p["spec"]["ingress"] for port in rule["ports"]} == {8000}
    for labels in (pod_labels, job_labels):  # the migration Job reaches the database and DNS too
        egress = [rule for p in allowing(labels, "Egress") for rule in p["spec"]["egress"]]
        database = [rule for rule in egress if {"protocol": "TCP", "port": 5432} in rule["ports"]]
        (rule,) = database
        database_tier = {"staging": "10.10.0.0/22"}.get(env, "10.2.0.0/22")  # staging: the seed's table in 10.8.0.0/13
        assert [peer["ipBlock"]["cidr"] for peer in rule["to"]] == [database_tier]  # the database tier only
        assert any({"protocol": "UDP", "port": 53} in rule["ports"] for rule in egress)
        assert all("to" in rule for rule in egress), "an egress rule without destinations allows everything"


@pytest.mark.parametrize("env", ENVS)
def test_every_object_carries_the_platform_labels(rendered: dict[str, Rendered], env: str) -> None:
    for obj in rendered[env].objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "strata", obj["metadata"]
        assert labels["app.kubernetes.io/managed-by"] == "ansible" and labels["strata.io/env"] == env
    for workload in rendered[env].of_kind("Deployment") + rendered[env].of_kind("Job"):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        for key in ("name", "instance", "version", "component", "part-of"):
            assert f"app.kubernetes.io/{key}" in labels, (workload["metadata"]["name"], key)


ACCOUNT = "123456789012"  # inventories/production: aws_account_id


def test_the_migration_job_runs_the_same_image_before_the_rollout(rendered: dict[str, Rendered]) -> None:
    r = rendered["production"]
    order = [(o["kind"], o["metadata"]["name"]) for o in r.objects if o["metadata"].get("namespace") == "production"]
    (job,) = r.of_kind("Job")
    assert order.index(("Job", job["metadata"]["name"])) < order.index(("Deployment", "catalog"))
    assert order.index(("ServiceAccount", "catalog-migrate")) < order.index(("Job", job["metadata"]["name"]))
    (migrate,) = containers(job)
    (api,) = containers(r.one("Deployment", "catalog"))
    assert migrate["image"] == api["image"] and migrate["command"] == ["catalog-migrate", "upgrade"]
    # As the master, its password read from the RDS-managed secret when the Job runs (its own service account may read
    # it); then it makes the service's login and the monitoring's.
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "catalog-migrate"
    env = {e["name"]: e["value"] for e in migrate["env"]}
    assert env == {
        "CATALOG_DB_USER": "strata_admin",
        "CATALOG_DB_AUTH": "secret",
        "CATALOG_DB_PASSWORD_SECRET": f"arn:aws:secretsmanager:eu-west-3:{ACCOUNT}:secret:rds!cluster-rendered-offline",
        "CATALOG_DB_APP_ROLE": "catalog_app",
        "CATALOG_DB_MONITOR_ROLE": "strata_monitor",
        "CATALOG_DB_MONITOR_PASSWORD_SECRET": "strata-production/monitor",
    }
    assert job["spec"]["backoffLimit"] == 1 and job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_tls_ingress_through_traefik_with_the_environment_issuer(rendered: dict[str, Rendered]) -> None:
    issuers = {"staging": "strata-letsencrypt", "production": "strata-letsencrypt", "local": "strata-selfsigned"}
    for env, issuer in issuers.items():
        r = rendered[env]
        ingress = r.one("Ingress", "catalog")["spec"]
        certificate = r.one("Certificate", "catalog-tls")["spec"]
        assert ingress["ingressClassName"] == "traefik"
        assert ingress["tls"][0]["secretName"] == certificate["secretName"] == "catalog-tls"
        assert ingress["tls"][0]["hosts"] == certificate["dnsNames"] == [ingress["rules"][0]["host"]]
        assert certificate["issuerRef"] == {"kind": "ClusterIssuer", "name": issuer}
        assert r.one("ClusterIssuer", issuer)
    # Both real environments get certificates every client trusts: the smoke, e2e and DAST runs verify TLS
    # against staging (Let's Encrypt's staging directory signs with an untrusted root).
    for env in ("staging", "production"):
        acme = rendered[env].one("ClusterIssuer", "strata-letsencrypt")["spec"]["acme"]
        assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory", env


@pytest.mark.parametrize("env", ["staging", "production"])
def test_charts_are_pinned_and_placed_on_their_node_groups(rendered: dict[str, Rendered], env: str) -> None:
    charts = rendered[env].charts
    assert set(charts) == {
        "traefik", "cert-manager", "kube-prometheus-stack", "loki", "fluent-bit", "postgres-exporter",
        "metrics-server", "cluster-autoscaler", "velero",
    }  # fmt: skip
    for name, release in charts.items():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", release["version"]), (name, release["version"])
        assert release["repo"].startswith("https://") and release["namespace"]
    traefik = charts["traefik"]["values"]
    assert traefik["service"]["type"] == "LoadBalancer"
    assert traefik["service"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert traefik["ports"]["web"]["redirections"]["entryPoint"]["to"] == "websecure"
    stack = charts["kube-prometheus-stack"]["values"]
    metrics = {"strata.io/nodegroup": "metrics"}
    assert stack["prometheus"]["prometheusSpec"]["nodeSelector"] == metrics
    assert stack["prometheus"]["prometheusSpec"]["tolerations"][0]["value"] == "metrics"
    assert (
        stack["grafana"]["nodeSelector"] == metrics
        and stack["alertmanager"]["alertmanagerSpec"]["nodeSelector"] == metrics
    )
    assert stack["prometheus-node-exporter"]["tolerations"] == [{"operator": "Exists"}]  # every node
    assert charts["loki"]["values"]["singleBinary"]["nodeSelector"] == {"strata.io/nodegroup": "logs"}
    assert charts["fluent-bit"]["values"]["tolerations"] == [{"operator": "Exists"}]
    assert "/var/log/containers/*.log" in charts["fluent-bit"]["values"]["config"]["inputs"]
    assert "Name        loki" in charts["fluent-bit"]["values"]["config"]["outputs"]
    exporter = charts["postgres-exporter"]["values"]["config"]["datasource"]
    assert (
        exporter["host"] == rendered[env].one("ConfigMap", "catalog")["data"]["CATALOG_DB_HOST"]
    )  # one definition: role kubernetes
    assert exporter["passwordSecret"]["name"] == "postgres-exporter-db"
    # As the monitoring login (pg_monitor), never the master: its Secret is the database role's monitoring secret.
    assert exporter["user"] == "strata_monitor"
    secret = rendered[env].one("Secret", "postgres-exporter-db")
    assert secret["metadata"]["annotations"]["strata.io/source"] == (
        f"Secrets Manager: strata-{env}/monitor (the monitoring login strata_monitor)"
    )
    # verify-full against the RDS CAs, as the service: the chart appends extraParams to the DSN, the bundle is the
    # ConfigMap mounted where sslrootcert points.
    assert exporter["sslmode"] == "verify-full" and exporter["extraParams"] == "sslrootcert=/etc/strata/db-ca/ca.pem"
    values = charts["postgres-exporter"]["values"]
    assert values["extraVolumes"] == [{"name": "db-ca", "configMap": {"name": "postgres-exporter-db-ca"}}]
    assert values["extraVolumeMounts"][0]["mountPath"] == "/etc/strata/db-ca"
    bundle = rendered[env].one("ConfigMap", "postgres-exporter-db-ca")["data"]["ca.pem"]
    assert bundle.strip() == (ROOT / "app/src/catalog/certs/rds-global-bundle.pem").read_text().strip()
    autoscaler = charts["cluster-autoscaler"]["values"]
    assert autoscaler["autoDiscovery"]["clusterName"] == f"strata-{env}"
    assert autoscaler["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        f":role/strata-{env}-cluster-autoscaler"
    )
    velero = charts["velero"]["values"]
    (location,) = velero["configuration"]["backupStorageLocation"]
    assert location["bucket"].startswith(f"strata-{env}-artifacts-") and location["prefix"] == "velero"
    assert velero["credentials"]["useSecret"] is False  # IRSA, no stored keys
    assert env in velero["schedules"]["daily"]["template"]["includedNamespaces"]


@pytest.mark.parametrize("env", ["staging", "production"])
def test_what_a_real_cluster_needs_that_a_render_alone_would_not_show(rendered: dict[str, Rendered], env: str) -> None:
    """The HPA needs the resource metrics API, the charts' volumes need their StorageClass, Grafana needs an admin
    account that is not the chart's default, the NetworkPolicies need an enforcer."""
    r = rendered[env]
    metrics_server = r.charts["metrics-server"]
    assert metrics_server["namespace"] == "kube-system" and metrics_server["values"]["replicas"] == 2
    (storage,) = r.of_kind("StorageClass")
    assert storage["metadata"]["name"] == "gp3" and storage["provisioner"] == "ebs.csi.aws.com"
    assert storage["parameters"]["type"] == "gp3" and storage["parameters"]["encrypted"] == "true"
    assert storage["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert storage["volumeBindingMode"] == "WaitForFirstConsumer"
    stack = r.charts["kube-prometheus-stack"]["values"]
    assert stack["grafana"]["persistence"]["storageClassName"] == "gp3"
    assert "adminPassword" not in stack["grafana"]
    assert stack["grafana"]["admin"] == {
        "existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"
    }  # fmt: skip
    secret = r.one("Secret", "grafana-admin")
    assert secret["metadata"]["namespace"] == "monitoring"
    assert secret["stringData"]["admin-password"] not in (
        "prom-operator",
        "admin",
        "",
    )  # the chart's default: prom-operator
    eks = yaml.safe_load((ROOT / "roles/eks/defaults/main.yml").read_text())
    (cni,) = [a for a in eks["eks_addons"] if a["name"] == "vpc-cni"]
    assert cni["configuration_values"] == {"enableNetworkPolicy": "true"}
    assert (
        'configuration_values: "{{ item.configuration_values | default(omit) }}"'
        in (ROOT / "roles/eks/tasks/present.yml").read_text()
    )


def test_a_laptop_cluster_keeps_its_own_storage_class(rendered: dict[str, Rendered]) -> None:
    assert rendered["local"].of_kind("StorageClass") == []


def test_the_alert_rules_pass_promtool_and_carry_the_runtime_rules(
    rendered: dict[str, Rendered], tmp_path: Path
) -> None:
    rule = rendered["production"].one("PrometheusRule", "strata-platform")
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = subprocess.run(["promtool", "check", "rules", str(rules_file)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 8 rules found" in check.stdout
    # The catalog alerts are the ones env=local's runtime evaluates (roles/runtime), with the same expressions.
    runtime = (ROOT / "roles/runtime/templates/catalog-rules.yml.j2").read_text()
    k8s = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    for name in re.findall(r"- alert: (\w+)", runtime.split("- name: postgres")[0]):
        assert name in k8s, name
        head = k8s[name]["expr"].split(">")[0].split("==")[0].strip()
        assert " ".join(head.split()) in " ".join(runtime.split()), (name, head)


def test_dashboards_are_valid_and_query_metrics_the_service_exports(rendered: dict[str, Rendered]) -> None:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported = {
        family.name + suffix
        for metric in (metrics.REQUESTS, metrics.LATENCY, metrics.IN_FLIGHT, metrics.DB_POOL_SIZE,
                       metrics.DB_CHECKED_OUT, metrics.DB_CHECKOUTS)
        for family in metric.describe()
        for suffix in suffixes[family.type]
    }  # fmt: skip
    assert "catalog_http_request_duration_seconds_bucket" in exported and "catalog_db_pool_size" in exported
    maps = [
        c for c in rendered["staging"].of_kind("ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert {m["metadata"]["name"] for m in maps} == {"grafana-dashboard-catalog", "grafana-dashboard-platform"}
    uids = set()
    for config_map in maps:
        (body,) = config_map["data"].values()
        dashboard = json.loads(body)
        uids.add(dashboard["uid"])
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        assert exprs and all(p["datasource"]["type"] == "prometheus" for p in dashboard["panels"])
        for name in {m for e in exprs for m in re.findall(r"\bcatalog_[a-z_]+", e)}:
            assert name in exported, f"{config_map['metadata']['name']} queries {name}, which the service never exports"
    assert len(uids) == 2


def test_a_second_render_changes_nothing(rendered: dict[str, Rendered]) -> None:
    folder = rendered["staging"].folder
    again = run([*PLAYBOOK, "-e", "env=staging", "-e", f"kubernetes_render_dir={folder}"], venv_env())
    assert again.returncode == 0, again.output[-3000:]
    assert again.recap["changed"] == 0, again.output[-3000:]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("k8s_app_min_replicas=30", "k8s_app_min_replicas (30) must be >= 1 and <= k8s_app_max_replicas (9)"),
        (
            "k8s_observability_db_sslmode=require",
            "k8s_observability_db_sslmode must be verify-full in staging and production (got require)",
        ),
    ],
    ids=["replicas", "exporter-sslmode"],
)
def test_bad_input_names_the_variable_before_anything_is_written(tmp_path: Path, extra: str, message: str) -> None:
    folder = tmp_path / "render"
    bad = run([*PLAYBOOK, "-e", "env=staging", "-e", f"kubernetes_render_dir={folder}", "-e", extra], venv_env())
    assert bad.returncode != 0
    assert message in " ".join(bad.output.split())
    assert not folder.exists()


def test_without_a_cluster_the_apply_path_is_skipped_visibly() -> None:
    none = run([*PLAYBOOK, "-e", "env=local"], venv_env())
    assert none.returncode == 0, none.output[-3000:]
    assert "SKIPPED, no cluster: no cluster configured for env=local" in " ".join(none.output.split())
    assert "Apply the objects" not in none.output


def test_a_cluster_that_does_not_answer_is_reported_and_skipped(tmp_path: Path) -> None:
    """kubernetes.core asks a kubeconfig's server (a closed loopback port here) and the play reports it."""
    kubeconfig = tmp_path / "kubeconfig"
    server = f"https://127.0.0.1:{free_port()}"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "dead", "user": {"token": "not-a-token"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
    }))  # fmt: skip
    dead = run([*PLAYBOOK, "-e", "env=local", "--check"], venv_env(STRATA_KUBECONFIG=str(kubeconfig)))
    assert dead.returncode == 0, dead.output[-3000:]
    text = " ".join(dead.output.split())
    assert "SKIPPED, no cluster: the cluster of env=local did not answer" in text
    assert "Apply the objects" not in dead.output


def test_the_apply_path_in_check_mode_against_a_reachable_cluster() -> None:
    """With STRATA_KUBECONFIG naming a reachable cluster (kind, k3d: docs/runbooks/kubernetes-local-cluster.md)."""
    kubeconfig = os.environ.get("STRATA_KUBECONFIG")
    if not kubeconfig:
        pytest.skip("no cluster on this machine: set STRATA_KUBECONFIG to a kind or k3d cluster's kubeconfig")
    check: Run = run([*PLAYBOOK, "-e", "env=local", "--check"], venv_env(STRATA_KUBECONFIG=kubeconfig))
    assert check.returncode == 0, check.output[-4000:]
    assert "APPLY: Kubernetes" in check.output
