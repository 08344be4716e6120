"""Read `agent.web_config`: a Prometheus exporter-toolkit web-config.yml in its own file.

    tls_server_config: {cert_file, key_file, client_auth_type, client_ca_file,
                        min_version, max_version}
    basic_auth_users: {name: bcrypt hash, ...}

Problems in it are reported at its own lines, with the main config's. Paths in it are
relative to its own folder, as exporters read them. Only keys the agent honours are allowed:
an unknown one is an error, so a setting copied from another exporter is never ignored.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

from agent.config.tree import Context, Node, read_tree
from agent.config.values import Parser, as_mapping, choice, existing_file, known_fields, string
from agent.model import WebConfig, WebTls
from agent.web.security import (
    CLIENT_AUTH,
    MAX_COST,
    MIN_COST,
    TLS_VERSIONS,
    UNSUPPORTED_CLIENT_AUTH,
    bcrypt_cost,
    server_context,
)

_OPENSSL_NOISE = re.compile(r"^\[\w+\] | \(_ssl\.c:\d+\)$")  # "[SSL] PEM lib (_ssl.c:3926)"
_BCRYPT = re.compile(r"\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}")
_MAKE_ONE = ("make one with: htpasswd -nBC 10 '' | tr -d ':\\n' "
             "(or python3 -c 'import bcrypt; print(bcrypt.hashpw(b\"PASSWORD\", "
             "bcrypt.gensalt()).decode())')")
_HASH_HINT = "not a bcrypt hash; " + _MAKE_ONE


def read_web_config(ctx: Context, node: Node) -> WebConfig | None:
    """Given the web_config path node, return its TLS and users; None after reporting."""
    name = existing_file(ctx, node)
    if name is None:
        return None
    own = Context(file=name, env=ctx.env, config_dir=Path(name).parent, problems=ctx.problems)
    before = len(ctx.problems)
    root = read_tree(own)
    fields = (known_fields(own, root, (), ("tls_server_config", "basic_auth_users"))
              if root is not None else None) or {}
    tls = _tls(own, fields["tls_server_config"]) if "tls_server_config" in fields else None
    users = _users(own, fields["basic_auth_users"]) if "basic_auth_users" in fields else ()
    if len(ctx.problems) > before:
        return None
    return WebConfig(path=name, tls=tls, users=users)


def _client_auth(ctx: Context, node: Node) -> str | None:
    text = string(ctx, node)
    if text in UNSUPPORTED_CLIENT_AUTH:
        ctx.bad(node, "not supported (Python's TLS verifies any certificate it asks for): "
                "use VerifyClientCertIfGiven or RequireAndVerifyClientCert")
        return None
    return choice(ctx, node, CLIENT_AUTH) if text is not None else None


def _version(ctx: Context, node: Node) -> str | None:
    text = string(ctx, node)
    if text in ("TLS10", "TLS11"):
        ctx.bad(node, "TLS 1.0 and 1.1 are not supported: use TLS12 or TLS13")
        return None
    return choice(ctx, node, TLS_VERSIONS) if text is not None else None


_TLS_FIELDS: dict[str, Parser] = {
    "cert_file": existing_file,
    "key_file": existing_file,
    "client_ca_file": existing_file,
    "client_auth_type": _client_auth,
    "min_version": _version,
    "max_version": _version,
}


def _tls(ctx: Context, node: Node) -> WebTls | None:
    required = ("cert_file", "key_file")
    fields = known_fields(ctx, node, required, _TLS_FIELDS)
    if fields is None:
        return None
    values = {key: parse(ctx, fields[key]) for key, parse in _TLS_FIELDS.items() if key in fields}
    if None in values.values() or any(key not in fields for key in required):
        return None
    tls = WebTls(**values)
    return tls if _usable(ctx, node, tls) else None


def _usable(ctx: Context, node: Node, tls: WebTls) -> bool:
    """Report a TLS setting that cannot serve: load it now, not at the first handshake."""
    if tls.client_auth_type != "NoClientCert" and not tls.client_ca_file:
        ctx.bad(node, f"client_auth_type {tls.client_auth_type} needs client_ca_file")
        return False
    if tls.max_version and TLS_VERSIONS[tls.max_version] < TLS_VERSIONS[tls.min_version]:
        ctx.bad(node, "max_version must not be below min_version")
        return False
    try:
        server_context(tls)
    except (ssl.SSLError, OSError) as err:
        reason = _OPENSSL_NOISE.sub("", str(getattr(err, "reason", None) or err.strerror or err))
        ctx.bad(node, "cannot use cert_file and key_file (PEM files, the key unencrypted and "
                f"matching the certificate): {reason}")
        return False
    return True


def _users(ctx: Context, node: Node) -> tuple[tuple[str, str], ...]:
    """Given the basic_auth_users mapping, return (name, hash) pairs; never echo a hash."""
    mapping = as_mapping(ctx, node)
    users = []
    for name, child in (mapping or {}).items():
        hashed = string(ctx, child)
        if not name or ":" in name:
            ctx.report(node.key_lines[name], child.path, "a user name must not be empty or "
                       "contain ':'")
        elif hashed is not None and _usable_hash(ctx, child, hashed):
            users.append((name, hashed))
    return tuple(users)


def _usable_hash(ctx: Context, node: Node, hashed: str) -> bool:
    """Whether `hashed` is a bcrypt hash of a cost the guard can afford to check (see
    agent.web.security.MAX_COST); report it at `node` if not, never echoing it."""
    if not _BCRYPT.fullmatch(hashed):
        ctx.bad(node, _HASH_HINT)
        return False
    cost = bcrypt_cost(hashed)
    if not MIN_COST <= cost <= MAX_COST:
        ctx.bad(node, f"bcrypt cost {cost} is not supported: use {MIN_COST} to {MAX_COST} "
                f"(each step doubles the work of every login; {MAX_COST} takes about 0.3 s); "
                + _MAKE_ONE)
        return False
    return True
