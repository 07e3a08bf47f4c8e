"""Webhook targets and server-side request forgery: where the gateway may send a delivery.

A target's host is resolved and every address it resolves to must be globally routable: private,
loopback, link-local (169.254.169.254, the cloud metadata address), multicast, reserved,
unspecified and shared (100.64/10) addresses are refused, IPv4 and IPv6 alike, IPv4-mapped and
6to4/Teredo-embedded IPv4 included — unless the office set ``allow_private`` on the subscription.
The check runs when the subscription is saved and again before every delivery, and the delivery
connects to the very address that was checked (no second lookup that DNS rebinding could change).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Target", "TargetRefused", "address_refused", "check_target", "parse_target"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target may not receive deliveries; ``reason`` says why (Chinese), ``code`` is stable."""

    def __init__(self, reason: str, code: str = "target_not_allowed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    #: The checked address the delivery connects to.
    address: str

    def pinned_url(self, url: str) -> str:
        """``url`` with its host replaced by the checked address (the Host header keeps the name)."""
        parts = urlsplit(url)
        host = f"[{self.address}]" if ":" in self.address else self.address
        netloc = f"{host}:{self.port}"
        return parts._replace(netloc=netloc).geturl()


def parse_target(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a webhook URL, or :class:`TargetRefused`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("地址格式不正确", "invalid_url") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("只支持 http 或 https 地址", "invalid_url")
    if not parts.hostname:
        raise TargetRefused("地址缺少主机名", "invalid_url")
    if parts.username or parts.password:
        raise TargetRefused("地址中不能包含用户名或密码", "invalid_url")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def address_refused(address: IPAddress) -> str | None:
    """Why a delivery may not go to ``address`` (Chinese), or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            # The connection goes to the embedded IPv4 address: judge that one.
            return address_refused(embedded)
    if address.is_loopback:
        return "回环地址"
    if address.is_link_local:
        return "链路本地地址（含云元数据地址）"
    if address.is_multicast:
        return "组播地址"
    if address.is_unspecified:
        return "未指定地址"
    if address.is_private:
        return "内网地址"
    if address.is_reserved:
        return "保留地址"
    if not address.is_global:
        return "非公网地址"
    return None


async def check_target(url: str, *, allow_private: bool) -> Target:
    """Resolve the host of ``url`` and check every address; the first address to connect to."""
    scheme, host, port = parse_target(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), timeout=5
            )
        except (OSError, TimeoutError) as exc:
            raise TargetRefused(f"无法解析主机名 {host}", "unresolvable_host") from exc
        addresses = []
        for info in infos:
            # Drop an IPv6 scope id ("fe80::1%eth0") before parsing.
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise TargetRefused(f"无法解析主机名 {host}", "unresolvable_host")
    if not allow_private:
        for address in addresses:
            reason = address_refused(address)
            if reason is not None:
                # Every address must pass: a name with one public and one private address is refused.
                raise TargetRefused(f"接收地址 {host} 解析到{reason} {address}，不允许推送（防止服务端请求伪造）")
    return Target(scheme=scheme, host=host, port=port, address=str(addresses[0]))
