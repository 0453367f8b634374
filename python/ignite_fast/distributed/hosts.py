"""Whether an address is this machine's: what the worker context and the home node both ask."""

from __future__ import annotations

import ipaddress
import socket


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def is_this_host(host: str) -> bool:
    """Whether ``host`` (an address or a name) is one of this machine's own addresses: loopback,
    or an address a socket here can bind to (the kernel's answer; no interface list needed)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return False
    for family, _type, _proto, _name, sockaddr in infos:
        ip = str(sockaddr[0])
        if is_loopback(ip):
            return True
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.bind((ip, 0, *sockaddr[2:]))
            return True
        except OSError:
            continue
    return False
