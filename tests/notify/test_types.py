"""Notifier types: each module owns its type whole (spec, config reading, build and send), and
an entry in NOTIFIER_TYPES is all the rest of the agent needs to read and deliver with one."""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass

import pytest

from agent.config import load_config
from agent.config.tree import Context, Node
from agent.config.values import non_empty
from agent.model import Notifier
from agent.notify import NOTIFIER_TYPES, Message, NotifierType, senders
from agent.notify.dispatch import deliver

MESSAGE = Message(alert="outage", status="test", title="email is DOWN", at=time.time(),
                  currency="GBP")


# --- a toy notifier type, as docs/extending.md says to write one -------------------------------


@dataclass(frozen=True)
class Notebook:
    page: str
    type: str = "notebook"


WRITTEN: list[tuple[str, str]] = []


def read(ctx: Context, fields: dict[str, Node]) -> Notebook | None:
    page = non_empty(ctx, fields["page"])
    return Notebook(page) if page else None


def send(spec: Notebook, message: Message, timeout: float) -> None:
    WRITTEN.append((spec.page, message.title))


NOTEBOOK = NotifierType("notebook", ("page",), (), read, send)


def test_a_registered_notifier_type_loads_from_config_and_delivers(monkeypatch, tmp_path):
    monkeypatch.setitem(NOTIFIER_TYPES, "notebook", NOTEBOOK)
    path = tmp_path / "config.yaml"
    path.write_text("cost: {annual_cost_per_user: 25000, concurrent_users: 100}\n"
                    "systems:\n"
                    "  - {name: core, probe: {type: tcp, target: 'core.example.internal:443'}}\n"
                    "notifiers:\n"
                    "  - {name: log, type: notebook, page: outages, retries: 0}\n",
                    encoding="utf-8")
    [notifier] = load_config(path, env={}).notifiers
    assert notifier == Notifier(name="log", spec=Notebook("outages"), retries=0)
    assert deliver(notifier, MESSAGE, senders()["notebook"], lambda name, result: None)
    assert WRITTEN[-1] == ("outages", "email is DOWN")


# --- the built-in types ------------------------------------------------------------------------

BUILT_IN = {"webhook": "WebhookNotifier", "slack": "SlackNotifier", "teams": "TeamsNotifier",
            "email": "EmailNotifier"}


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_notifier_type_lives_whole_in_its_own_module(name):
    module = importlib.import_module(f"agent.notify.{name}")
    notifier_type = NOTIFIER_TYPES[name]
    assert module.TYPE is notifier_type and notifier_type.name == name
    assert notifier_type.read.__module__ == notifier_type.send.__module__ == module.__name__
    spec = getattr(module, BUILT_IN[name])
    assert {f.name: f.default for f in dataclasses.fields(spec)}["type"] == name


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_notifier_spec_is_still_importable_from_agent_model(name):
    import agent.model

    home = importlib.import_module(f"agent.notify.{name}")
    assert getattr(agent.model, BUILT_IN[name]) is getattr(home, BUILT_IN[name])

