"""deploy/: the image, compose file, Kubernetes manifests and nginx example agree with each other and the app.

No container runtime or nginx is needed: the files are parsed, and what they rely on (the CLI's flags,
the probe routes, the ACS size limit, the paths in gateway.yaml) is checked against the gateway itself.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from gateway.app import MAX_REQUEST_BYTES
from gateway.app import create_app
from gateway.cli import build_parser
from gateway.saml.acs import MAX_RESPONSE_BYTES
from gateway.settings.load import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


# --- readers -------------------------------------------------------------------------------------


def _runtime_stage() -> list[tuple[str, str]]:
    """The last stage of deploy/Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages: list[list[tuple[str, str]]] = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), rest.strip()))
    assert len(stages) >= 1, "deploy/Dockerfile has no FROM"
    return stages[-1]


def _last(stage: list[tuple[str, str]], instruction: str) -> str:
    values = [rest for name, rest in stage if name == instruction]
    assert values, f"the runtime stage of deploy/Dockerfile has no {instruction}"
    return values[-1]


def _exec_form(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    value = json.loads(_last(stage, instruction))
    assert isinstance(value, list), f"{instruction} must be in exec form (a JSON array)"
    return value


def _image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, rest in stage:
        if name == "ENV":
            env.update(token.split("=", 1) for token in shlex.split(rest))  # type: ignore[arg-type]
    return env


def _exposed_port(stage: list[tuple[str, str]]) -> int:
    return int(_last(stage, "EXPOSE").split("/")[0])


def _yaml_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _compose() -> dict[str, Any]:
    (compose,) = _yaml_documents(DEPLOY / "compose.yaml")
    return compose  # type: ignore[no-any-return]


def _kubernetes(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for path in sorted(KUBERNETES.glob("*.yaml"))
        for doc in _yaml_documents(path)
        if doc.get("kind") == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''} under deploy/kubernetes, found {len(found)}"
    return found[0]


def _pod() -> dict[str, Any]:
    return _kubernetes("Deployment")["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def _container() -> dict[str, Any]:
    (container,) = _pod()["containers"]
    return container  # type: ignore[no-any-return]


def _container_port(port: int | str) -> int:
    """A probe's or Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in _container()["ports"] if p.get("name") == port]
    return int(number)


class _TagLoader(yaml.SafeLoader):
    """Reads gateway.yaml without resolving `!env` and `!envfile` (no secrets here)."""


_TagLoader.add_constructor("!env", lambda loader, node: f"<env {loader.construct_scalar(node)}>")
_TagLoader.add_constructor("!envfile", lambda loader, node: f"<envfile {loader.construct_scalar(node)}>")


def _nginx_directives() -> list[tuple[str, list[str]]]:
    """Every simple directive of the nginx example, comments dropped, as (name, arguments)."""
    text = (DEPLOY / "nginx.conf.example").read_text(encoding="utf-8")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";{}")
    lexer.whitespace_split = True  # `#` starts a comment; quoted strings may hold `;`
    directives: list[tuple[str, list[str]]] = []
    words: list[str] = []
    for token in lexer:
        if token in (";", "{", "}"):
            if words:
                directives.append((words[0], words[1:]))
            words = []
        else:
            words.append(token)
    assert not words, "the nginx example ends inside a directive"
    return directives


def _nginx_size(value: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmM]?)", value)
    assert match, f"not an nginx size: {value}"
    return int(match[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[match[2].lower()]


# --- the app, for its routes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """A development gateway without the sandbox (keys made in a temporary folder)."""
    folder = tmp_path_factory.mktemp("deploy")
    config = folder / "gateway.yaml"
    config.write_text(yaml.safe_dump({"sandbox": False, "keys_dir": "keys"}), encoding="utf-8")
    return create_app(load_settings(config))


# --- every file parses -----------------------------------------------------------------------------


def test_every_yaml_file_in_deploy_parses_to_mappings() -> None:
    paths = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    names = {p.relative_to(DEPLOY).as_posix() for p in paths}
    assert {
        "compose.yaml",
        "kubernetes/deployment.yaml",
        "kubernetes/service.yaml",
        "kubernetes/config.example.yaml",
    } <= names
    for path in paths:
        documents = _yaml_documents(path)
        assert documents, f"{path} is empty"
        assert all(isinstance(doc, dict) for doc in documents), f"{path} holds a document that is not a mapping"


def test_the_example_gateway_yaml_parses_and_its_paths_are_the_mounted_ones() -> None:
    data = _kubernetes("ConfigMap", "eid-gateway-config")["data"]
    gateway = yaml.load(data["gateway.yaml"], Loader=_TagLoader)  # noqa: S506 - a SafeLoader subclass
    assert gateway["environment"] == "production"
    mounts = {m["mountPath"]: m for m in _container()["volumeMounts"]}
    assert gateway["keys_dir"] in mounts, "keys_dir is not where the keys Secret is mounted"
    cache = Path(gateway["saml"]["metadata_refresh"]["cache_dir"])
    writable = [Path(p) for p, m in mounts.items() if not m.get("readOnly")]
    assert any(cache == p or p in cache.parents for p in writable), "the metadata cache_dir is not writable"
    env = {e["name"]: e for e in _container()["env"]}
    assert gateway["secret_key"] == "<envfile EID_GATEWAY_SECRET_FILE>"
    assert "EID_GATEWAY_SECRET_FILE" in env
    assert gateway["store"]["url"] == "<env EID_GATEWAY_REDIS_URL>"
    assert "EID_GATEWAY_REDIS_URL" in env


# --- the image -----------------------------------------------------------------------------------


def test_the_image_runs_as_a_non_root_user_the_image_creates() -> None:
    stage = _runtime_stage()
    user, _, group = _last(stage, "USER").partition(":")
    assert user not in ("root", "0", "")
    assert group not in ("root", "0")
    created = re.search(r"useradd\b[^&;]*--uid (\d+)", " ".join(rest for name, rest in stage if name == "RUN"))
    assert created, "the runtime stage creates no user with a fixed uid"
    assert user in (created[1], "eidgw")


def test_the_image_starts_the_cli_serving_on_its_exposed_port() -> None:
    stage = _runtime_stage()
    entrypoint = _exec_form(stage, "ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert entrypoint == ["eid-gateway"]
    assert entrypoint[0] in scripts
    args = build_parser().parse_args(_exec_form(stage, "CMD"))  # fails (SystemExit) on an unknown flag
    assert args.command == "serve"
    host, _, port = args.bind.rpartition(":")
    assert host == "0.0.0.0"  # noqa: S104 - inside a container, reached through its published port
    assert int(port) == _exposed_port(stage)


def test_the_image_points_the_cli_at_the_mounted_configuration() -> None:
    config = _image_env(_runtime_stage())["EID_GATEWAY_CONFIG"]
    assert config == "/etc/eid-gateway/gateway.yaml"
    compose_env = _compose()["services"]["gateway"]["environment"]
    assert compose_env["EID_GATEWAY_CONFIG"] == config
    env = {e["name"]: e.get("value") for e in _container()["env"]}
    assert env["EID_GATEWAY_CONFIG"] == config


def test_the_image_carries_the_repositorys_gunicorn_settings_where_gunicorn_reads_them() -> None:
    stage = _runtime_stage()
    workdir = Path(_last(stage, "WORKDIR"))
    copies = [shlex.split(rest) for name, rest in stage if name == "COPY"]
    targets = {Path(words[-1]) if words[-1].startswith("/") else workdir / words[-1]: words[:-1] for words in copies}
    assert "deploy/gunicorn.conf.py" in targets.get(workdir / "gunicorn.conf.py", [])


def test_the_image_health_check_asks_healthz_on_the_exposed_port(app: Flask) -> None:
    stage = _runtime_stage()
    healthcheck = _last(stage, "HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[0] == "python"  # no curl in python:3.11-slim
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", " ".join(command))
    assert match, "the health check asks no local URL"
    assert int(match[1]) == _exposed_port(stage)
    assert match[2] == "/healthz"
    assert match[2] in {rule.rule for rule in app.url_map.iter_rules()}


# --- compose ---------------------------------------------------------------------------------------


def test_compose_runs_the_image_command_published_on_loopback_only() -> None:
    stage = _runtime_stage()
    services = _compose()["services"]
    gateway = services["gateway"]
    assert gateway.get("entrypoint", _exec_form(stage, "ENTRYPOINT")) == _exec_form(stage, "ENTRYPOINT")
    assert gateway["command"] == _exec_form(stage, "CMD")
    assert gateway["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / gateway["build"]["context"]).resolve() == ROOT
    (published,) = gateway["ports"]
    host, host_port, container_port = str(published).split(":")
    assert host == "127.0.0.1"
    assert int(container_port) == _exposed_port(stage)
    assert int(host_port) > 0
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_mounts_configuration_and_keys_read_only_and_runs_redis_7() -> None:
    services = _compose()["services"]
    mounts = {}
    for volume in services["gateway"]["volumes"]:
        source, target, *mode = volume.split(":")
        mounts[target] = (source, mode)
    assert mounts["/etc/eid-gateway"] == ("./config", ["ro"])
    assert mounts["/var/lib/eid-gateway/keys"] == ("./keys", ["ro"])
    assert services["gateway"]["read_only"] is True
    image = re.fullmatch(r"redis:(\d+)(\.[\w.-]+)?(-\w+)?", services["redis"]["image"])
    assert image, "the redis service does not use the official redis image with a version tag"
    assert int(image[1]) >= 7  # GETDEL and PEXPIRE NX (gateway/store/redis_store.py)
    assert "ports" not in services["redis"]


# --- Kubernetes ------------------------------------------------------------------------------------


def test_kubernetes_runs_the_image_command_on_the_exposed_port() -> None:
    stage = _runtime_stage()
    deployment = _kubernetes("Deployment")
    assert deployment["spec"]["replicas"] == 2
    container = _container()
    assert container.get("command", _exec_form(stage, "ENTRYPOINT")) == _exec_form(stage, "ENTRYPOINT")
    assert container["args"] == _exec_form(stage, "CMD")
    assert [p["containerPort"] for p in container["ports"]] == [_exposed_port(stage)]
    service = _kubernetes("Service")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert _container_port(port["targetPort"]) == _exposed_port(stage)


def test_kubernetes_probes_ask_routes_the_app_serves(app: Flask) -> None:
    container = _container()
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    client = app.test_client()
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] in routes, f"{probe} asks {http['path']}, which the app does not serve"
        assert _container_port(http["port"]) == _exposed_port(_runtime_stage())
        assert client.get(http["path"]).status_code == 200


def test_kubernetes_pod_is_non_root_read_only_and_bounded() -> None:
    pod, container = _pod(), _container()
    user = _last(_runtime_stage(), "USER").partition(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == user
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]  # noqa: S108 - the mount, not a file, "gunicorn's worker tmp dir needs a writable /tmp"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys()


def test_kubernetes_keys_are_one_secret_mounted_whole_by_every_replica() -> None:
    pod, container = _pod(), _container()
    volumes = {v["name"]: v for v in pod["volumes"]}
    (keys,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/var/lib/eid-gateway/keys"]
    assert "secret" in volumes[keys["name"]], "the keys must come from a Secret shared by all replicas"
    assert "subPath" not in keys, "a subPath mount never sees a key rollover"
    assert keys["readOnly"] is True
    secret_name = volumes[keys["name"]]["secret"]["secretName"]
    example = _kubernetes("Secret", secret_name)
    assert {"oidc-signing.pem", "saml-signing.pem", "saml-encryption.pem"} <= example["stringData"].keys()


# --- nginx ---------------------------------------------------------------------------------------------


def test_nginx_accepts_the_largest_saml_response_and_no_more_than_the_app() -> None:
    directives = _nginx_directives()
    (limit,) = [args for name, args in directives if name == "client_max_body_size"]
    size = _nginx_size(limit[0])
    largest_post = len("SAMLResponse=") + MAX_RESPONSE_BYTES * 4 // 3 + 4  # what acs.decode_post accepts
    assert size >= largest_post
    assert size <= MAX_REQUEST_BYTES


def test_nginx_forwards_the_headers_proxyfix_reads_to_the_exposed_port() -> None:
    directives = _nginx_directives()
    headers = {args[0].lower(): args[1] for name, args in directives if name == "proxy_set_header"}
    assert headers["x-forwarded-for"] in ("$remote_addr", "$proxy_add_x_forwarded_for")
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["connection"] == ""  # upstream keepalive
    assert ["1.1"] in [args for name, args in directives if name == "proxy_http_version"]
    (upstream,) = [args for name, args in directives if name == "upstream"]
    assert [args for name, args in directives if name == "proxy_pass"] == [[f"http://{upstream[0]}"]]
    (server,) = [args for name, args in directives if name == "server" and args]  # `server {` has none
    assert int(server[0].rsplit(":", 1)[1]) == _exposed_port(_runtime_stage())
    assert any(name == "keepalive" for name, _ in directives)
    hsts = [args for name, args in directives if name == "add_header" and args[0] == "Strict-Transport-Security"]
    assert hsts, "no HSTS header"
    assert int(re.search(r"max-age=(\d+)", hsts[0][1])[1]) >= 31536000  # type: ignore[index]
    assert "always" in hsts[0]
