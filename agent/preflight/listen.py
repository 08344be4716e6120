"""Will `run` be able to listen? Its address is bound as the agent binds it, and let go at
once; an address in use names the process listening there."""

from __future__ import annotations

import errno
import socket

from agent.preflight.finding import Finding, in_use
from agent.preflight.holders import port_listener


def listen_finding(listen: str) -> Finding:
    """Given agent.listen (host:port), return whether run can listen there now."""
    from agent.web.listener import listening_sockets
    from agent.web.server import split_listen

    host, port = split_listen(listen)
    try:
        for sock in listening_sockets(host or None, port, backlog=1):
            sock.close()
    except OSError as exc:
        return Finding(False, f"listen {listen}: {_why(exc, port)}")
    return Finding(True, f"listen {listen}: free")


def _why(exc: OSError, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        holder = port_listener(port)
        return in_use(holder) if holder is not None else "in use by another process"
    if exc.errno == errno.EACCES and port < 1024:
        return "a port below 1024 needs root or CAP_NET_BIND_SERVICE"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host: {exc.strerror}"
    return exc.strerror or str(exc)
