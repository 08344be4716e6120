"""Read the file into a tree of nodes that keep their line and key path.

Only YAML's safe composer is used: we walk the node tree ourselves to keep line numbers, a
budget on nodes and depth stops alias bombs and absurd nesting, and ${VAR} references are
expanded from the environment (or their ${VAR:-default}) as each string is read. Numbers
are read as YAML 1.2 reads them, never as YAML 1.1's octal or base 60 (agent.config.core_schema).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from agent.config.core_schema import READERS, CoreResolver, NumberRefused
from agent.config.problems import Problem

MAX_BYTES = 1024 * 1024  # a config is a few KiB; anything this big is the wrong file
MAX_NODES = 100_000  # values after alias expansion: stops "billion laughs" documents
MAX_DEPTH = 40  # the deepest real key path is about 6 levels


@dataclass
class Node:
    """A YAML value with where it came from. Mappings hold dict[str, Node], lists list[Node]."""

    value: Any
    line: int
    path: str
    broken: bool = False  # already reported (bad tag, unset variable): checks skip it quietly
    key_lines: dict[str, int] = field(default_factory=dict)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class Context:
    """What every check needs: where problems go, the environment and paths to resolve against."""

    file: str
    env: Mapping[str, str]
    config_dir: Path
    problems: list[Problem] = field(default_factory=list)
    timezone: dt.tzinfo = dt.UTC  # cost.timezone, for naive maintenance times

    def report(self, line: int | None, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, path, message))

    def bad(self, node: Node, message: str) -> None:
        self.report(node.line, node.path, message)

    def missing(self, node: Node, key: str, hint: str = "") -> None:
        """Report that the mapping `node` lacks `key`, at the mapping's own line."""
        self.report(node.line, _join(node.path, key), f"required key is missing{hint}")


def kind(value: object) -> str:
    """Given a YAML value, return how a person would name its type in a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def optional_section(node: Node | None) -> Node | None:
    """An empty section (every line commented out) reads as null: treat it as absent."""
    return None if node is None or (node.value is None and not node.broken) else node


def one_or_list(node: Node) -> list[Node]:
    """The node's items if it is a list, else the node itself as the only item."""
    return node.value if isinstance(node.value, list) and not node.broken else [node]


def list_items(node: Node | None) -> list[Node]:
    """The node's list items, or none if it is not a list (reported elsewhere)."""
    return node.value if node is not None and isinstance(node.value, list) else []


def raw_string(node: Node | None) -> str | None:
    """The node's string value if it has one (its type problems are reported elsewhere)."""
    if node is None or node.broken or not isinstance(node.value, str):
        return None
    return node.value


# --- from composed YAML to nodes ------------------------------------------------------------------


class _TooBig(Exception):
    """The document expands beyond the node or depth budget."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


_TOO_DEEP = f"values are nested more than {MAX_DEPTH} levels deep"
_TAG = "tag:yaml.org,2002:"
_STR, _TIMESTAMP, _MERGE = f"{_TAG}str", f"{_TAG}timestamp", f"{_TAG}merge"
_SCALAR_TAGS = frozenset(f"{_TAG}{name}" for name in ("null", "bool", "int", "float"))
# $${ (a literal), ${NAME} or ${NAME:-default} (the default runs to the first '}'), or a
# stray ${
_ENV_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turn a composed YAML node graph into Node trees, expanding aliases under a budget."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()
        self.resolver = CoreResolver()

    def build(self, node: yaml.Node, path: str, depth: int = 0) -> Node:
        self._spend(node, depth)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            children = [
                self.build(item, f"{path}[{index}]", depth + 1)
                for index, item in enumerate(node.value)
            ]
            return self._tagged(Node(children, _line(node), path), node, f"{_TAG}seq")
        return self._scalar(cast(yaml.ScalarNode, node), path)  # the only other kind

    def _spend(self, node: yaml.Node, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            message = f"the document expands to more than {MAX_NODES:,} values (alias bomb?)"
            raise _TooBig(_line(node), message)
        if depth > MAX_DEPTH:
            raise _TooBig(_line(node), _TOO_DEEP)

    def _tagged(self, result: Node, node: yaml.Node, expected: str) -> Node:
        if node.tag != expected:
            self.ctx.bad(result, f"unsupported YAML tag {_short_tag(node.tag)}")
            result.broken = True
        return result

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> Node:
        result = Node({}, _line(node), path)
        for key_node, value_node in self._entries(node, path, depth):
            if not isinstance(key_node, yaml.ScalarNode):
                self.ctx.report(_line(key_node), path, "keys must be plain strings")
                continue
            key, line = str(key_node.value), _line(key_node)
            if key in result.value:
                first = result.key_lines[key]
                self.ctx.report(line, _join(path, key), f"duplicate key (first on line {first})")
                continue
            result.key_lines[key] = line
            result.value[key] = self.build(value_node, _join(path, key), depth + 1)
        return self._tagged(result, node, f"{_TAG}map")

    def _entries(self, node: yaml.MappingNode, path: str, depth: int) -> list[tuple[Any, Any]]:
        """Given a mapping, return its pairs with `<<: *anchor` merges applied (own keys win)."""
        own, merged = [], []
        for key, value in node.value:
            if key.tag != _MERGE:
                own.append((key, value))
                continue
            for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                self._spend(source, depth + 1)
                if isinstance(source, yaml.MappingNode):
                    merged.extend(self._entries(source, path, depth + 1))
                else:
                    self.ctx.report(_line(source), path, "a merge key (<<) must name a mapping")
        seen = {key.value for key, _ in own if isinstance(key, yaml.ScalarNode)}
        for key, value in merged:
            if isinstance(key, yaml.ScalarNode) and key.value not in seen:
                seen.add(key.value)
                own.append((key, value))
        return own

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Node:
        result = Node(None, _line(node), path)
        if node.tag in (_STR, _TIMESTAMP):  # a timestamp stays text; maintenance parses it
            result.value = node.value
            if "$" in node.value:
                self._substitute(result, plain=not node.style)  # None, or '' from libyaml
        elif node.tag in _SCALAR_TAGS:
            self._construct(result, node)
        else:
            self.ctx.bad(result, f"unsupported YAML tag {_short_tag(node.tag)}")
            result.broken = True
        return result

    def _construct(self, result: Node, node: yaml.ScalarNode) -> None:
        read = READERS.get(node.tag)
        try:
            result.value = read(node.value) if read else self.constructor.construct_object(node)
        except NumberRefused as err:
            self.ctx.bad(result, str(err))
            result.broken = True
        except (ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError):
            name = node.tag.rpartition(":")[2]
            self.ctx.bad(result, f"cannot read {node.value[:40]!r} as {name}")
            result.broken = True

    def _substitute(self, result: Node, plain: bool) -> None:
        """Replace ${VAR} from the environment; a plain scalar is then re-read as YAML would."""
        text, errors = _substitute(result.value, self.ctx.env)
        for message in errors:
            self.ctx.bad(result, message)
        changed = text != result.value
        result.value, result.broken = text, bool(errors)
        if changed and plain and not errors:
            tag = self.resolver.resolve(yaml.ScalarNode, text, (True, False))
            if tag in _SCALAR_TAGS:
                self._construct(result, yaml.ScalarNode(tag, text))


def _substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Given text with ${VAR} and ${VAR:-default} references, return it expanded and any
    errors ($${ is a `${`). As in the shell, the default stands in for a variable that is
    unset or empty, so a shipped file checks on a machine that sets none of them."""
    errors: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1, 2)
        if match.group(0) == "$${":
            return "${"
        if name is None:
            errors.append("'${' must start a reference like ${NAME} (write '$${' for a literal)")
        elif env.get(name) or (default is None and name in env):
            return env[name]
        elif default is not None:
            return default
        else:
            errors.append(f"environment variable {name} is not set")
        return ""

    return _ENV_REFERENCE.sub(replace, text), errors


# --- reading the file -----------------------------------------------------------------------------


def _read_text(ctx: Context) -> str | None:
    """Return the file's text, or None after reporting why it cannot be used."""
    try:
        with open(ctx.file, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as err:
        ctx.report(None, "", f"cannot read the file: {err.strerror or err}")
        return None
    if len(data) > MAX_BYTES:
        ctx.report(None, "", "the file is larger than 1 MiB; is it the right file?")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        ctx.report(line, "", f"not UTF-8 text (byte 0x{data[err.start]:02x})")
        return None


class _Loader(yaml.SafeLoader):
    """The safe loader, reading numbers as YAML 1.2 does (agent.config.core_schema) and
    refusing deep nesting as it composes: PyYAML's composer recurses, and its scanner slows
    quadratically with depth."""

    yaml_implicit_resolvers = CoreResolver.yaml_implicit_resolvers
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooBig(self.peek_event().start_mark.line + 1, _TOO_DEEP)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """libyaml's safe loader, reading numbers as YAML 1.2 does."""

        yaml_implicit_resolvers = CoreResolver.yaml_implicit_resolvers


_COLLECTION_START = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_COLLECTION_END = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _compose_with_libyaml(text: str) -> yaml.Node | None:
    """The node graph through libyaml, or None to leave the file to `_Loader`.

    PyYAML's own composer takes about 2.5 s for a config of 10,000 systems, libyaml's a
    fifth of that. libyaml's composer recurses in C, though, so its parser's events are read
    first: deeper nesting than `_Loader` allows, a syntax error or anything unusual goes to
    `_Loader`, whose limits and messages are the ones reported.
    """
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, _COLLECTION_START):
                depth += 1
                if depth >= MAX_DEPTH:
                    return None
            elif isinstance(event, _COLLECTION_END):
                depth -= 1
        return yaml.compose(text, Loader=_CLoader)
    except yaml.YAMLError:
        return None


def _compose(ctx: Context, text: str) -> yaml.Node | None:
    """Return the document's YAML node graph, or None after reporting a syntax error."""
    node = _compose_with_libyaml(text)
    if node is not None:
        return node
    try:
        node = yaml.compose(text, Loader=_Loader)
    except _TooBig as err:
        ctx.report(err.line, "", str(err))
        return None
    except yaml.MarkedYAMLError as err:
        ctx.report(*_yaml_error(err))
        return None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        ctx.report(line, "", f"invalid YAML: {err.reason} character {err.character!r}")
        return None
    if node is None:
        ctx.report(1, "", "the file is empty")
    return node


def _yaml_error(err: yaml.MarkedYAMLError) -> tuple[int | None, str, str]:
    """Given a YAML syntax error, return its line and a message naming where the context began."""
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark else None
    message = f"invalid YAML: {err.problem or err.context}"
    if err.problem and err.context:
        start = err.context_mark.line + 1 if err.context_mark else line
        message += f" ({err.context}" + (f" from line {start})" if start != line else ")")
    return line, "", message


def read_tree(ctx: Context) -> Node | None:
    """Return the file as a Node tree, or None after reporting why it cannot be read."""
    text = _read_text(ctx)
    document = _compose(ctx, text) if text is not None else None
    if document is None:
        return None
    try:
        root = _Builder(ctx).build(document, "")
    except _TooBig as err:
        ctx.report(err.line, "", str(err))
        return None
    if not isinstance(root.value, dict):
        got = kind(root.value)
        ctx.bad(root, f"the top level must be a mapping (agent, cost, systems...), got {got}")
        return None
    return root
