"""Probe types: each module owns its type whole (spec, config reading, probe function), and
an entry in PROBE_TYPES is all the rest of the agent needs to read and run a new one."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.config import ConfigError, load_config
from agent.config.values import non_empty
from agent.model import Check, ProbeResult, Status
from agent.probes import PROBE_TYPES, PROBES, Prober, ProbeType, Resources

# --- a toy probe type, as docs/extending.md says to write one ----------------------------------


@dataclass(frozen=True)
class AlwaysUp:
    greeting: str = "hello"
    type: str = "always-up"


async def always_up(spec: AlwaysUp, timeout: float, resources: Resources) -> ProbeResult:
    return ProbeResult(Status.UP, 0.0, spec.greeting)


ALWAYS_UP = ProbeType("always-up", AlwaysUp, (), {"greeting": non_empty}, always_up)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROBE_TYPES, "always-up", ALWAYS_UP)


def config_with(tmp_path: Path, probe: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("cost: {annual_cost_per_user: 25000, concurrent_users: 100}\n"
                    "systems:\n"
                    "  - name: toy\n"
                    f"    probe: {probe}\n", encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    return [f"{p.line}: {p.path}: {p.message}" for p in caught.value.problems]


async def test_a_registered_probe_type_loads_from_config_and_probes(registered, tmp_path):
    config = load_config(config_with(tmp_path, "{type: always-up, greeting: hi, timeout: 2s}"),
                         env={})
    [system] = config.systems
    assert system.check == Check(AlwaysUp(greeting="hi"), timeout=2.0)
    async with Prober() as prober:
        result = await prober.run(system.check)
    assert (result.status, result.reason) == (Status.UP, "hi")


def test_a_registered_probe_types_mistakes_are_named_at_their_line(registered, tmp_path):
    path = config_with(tmp_path, '{type: always-up, greeting: "", colour: red}')
    assert problems(path) == [
        "4: systems[0].probe.colour: unknown key for probe type always-up "
        "(known: degraded_after, greeting, timeout, type)",
        "4: systems[0].probe.greeting: must not be empty",
    ]


def test_an_unregistered_probe_type_is_unknown(tmp_path):
    assert problems(config_with(tmp_path, "{type: always-up}")) == [
        "4: systems[0].probe.type: unknown probe type 'always-up' "
        "(known: http, tcp, dns, icmp, command, heartbeat)",
    ]


def test_probes_reads_through_to_the_registry(registered):
    assert PROBES["always-up"] is always_up
    assert list(PROBES) == ["http", "tcp", "dns", "icmp", "command", "heartbeat", "always-up"]


# --- the built-in types ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["http", "tcp", "dns", "icmp", "command"])
def test_each_probe_type_lives_whole_in_its_own_module(name):
    module = importlib.import_module(f"agent.probes.{name}")
    probe_type = PROBE_TYPES[name]
    assert module.TYPE is probe_type and probe_type.name == name
    assert probe_type.spec.__module__ == probe_type.probe.__module__ == module.__name__
    assert set(probe_type.required) <= set(probe_type.fields)
    defaults = {f.name: f.default for f in dataclasses.fields(probe_type.spec)}  # type: ignore[arg-type]
    assert defaults["type"] == name


@pytest.mark.parametrize("name", ["HttpProbe", "TcpProbe", "DnsProbe", "IcmpProbe", "CommandProbe"])
def test_each_probe_spec_is_still_importable_from_agent_model(name):
    import agent.model

    home = importlib.import_module(f"agent.probes.{name.removesuffix('Probe').lower()}")
    assert getattr(agent.model, name) is getattr(home, name)


def test_agent_model_loads_no_probe_notifier_or_config_code():
    """model.py is the bottom layer: the modules that hold the specs import it, not it them."""
    code = ("import sys, agent.model; print(sorted(m for m in sys.modules "
            "if m.startswith(('agent.probes', 'agent.notify', 'agent.config'))))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).parents[2])
    assert shown.stdout.strip() == "[]"
