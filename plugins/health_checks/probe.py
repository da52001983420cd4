"""Running one check: the rules of a :class:`~.plan.CheckPlan` over anyio streams.

Connections are anyio TCP/unix streams; HTTP responses are parsed with h11 (the request
bytes are written as HAProxy writes them, so HTTP/1.0 requests stay HTTP/1.0).  Timeouts
follow HAProxy: the connection must be established within ``inter`` (within ``min(inter,
timeout connect)`` when ``timeout check`` is set), then the check must end within
``timeout check`` if set, else within what is left of ``inter``.  The outcome is a
:class:`~.state.CheckResult` with HAProxy's status code and info text.
"""

from __future__ import annotations

import os
import time
from typing import Any

import anyio
import h11
from anyio.streams.tls import TLSAttribute, TLSStream

from . import rules as R
from .h2check import H2_NAMES, H2CheckExchange, check_proto
from .plan import CheckPlan
from .pooled import take_idle
from .state import CheckResult

BUFSIZE = 16384


class _Stop(Exception):
    """The check ended with ``result``."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.status)
        self.result = result


class _Channel:
    """A connection opened by the check itself."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.eof = False

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self) -> bytes:
        try:
            return await self.stream.receive(BUFSIZE)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self.eof = True
            return b""

    async def close(self) -> None:
        try:
            await self.stream.aclose()
        except (OSError, anyio.BrokenResourceError):
            pass


def _errno_of(exc: BaseException) -> int | None:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno:
            return exc.errno
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


class Probe:
    """One run of a server's check rules."""

    def __init__(self, plan: CheckPlan, srv: Any, server_down: bool) -> None:
        self.plan = plan
        self.srv = srv
        self.server_down = server_down
        self.chan: Any = None
        self.connected = False
        self.current: R.Rule | None = None
        self.buf = bytearray()
        self.code = 0
        self.deadline = 0.0
        self.reused = False
        #: the check connection speaks TLS (the server's ``check_transport``)
        self.tls = False
        #: the check connection speaks HTTP/2 (see h2check.py), and its exchange
        self.h2 = False
        self.h2x: H2CheckExchange | None = None

    # -- driver ------------------------------------------------------------------------------
    async def run(self) -> CheckResult:
        t0 = time.monotonic()
        try:
            result = await self._run()
        except _Stop as stop:
            result = stop.result
        finally:
            if self.chan is not None:
                with anyio.CancelScope(shield=True):
                    await self.chan.close()
        result.duration = int((time.monotonic() - t0) * 1000)
        return result

    async def _run(self) -> CheckResult:
        plan = self.plan
        now = anyio.current_time()
        self.deadline = now + plan.inter / 1000
        self.connect_deadline = self.deadline
        if plan.timeout_check and plan.timeout_connect:
            self.connect_deadline = min(self.deadline, now + plan.timeout_connect / 1000)
        rules = plan.rules
        if plan.reuse_pool:
            chan = take_idle(self.srv)
            if chan is not None:
                self.chan, self.connected, self.reused = chan, True, True
                rules = rules[1:]
                if plan.timeout_check:
                    self.deadline = now + plan.timeout_check / 1000
        for rule in rules:
            self.current = rule
            self.code = 0
            if isinstance(rule, R.Connect):
                await self._connect(rule)
            elif isinstance(rule, R.Send):
                await self._send(rule)
            elif isinstance(rule, R.Expect):
                if rule.http:
                    await self._expect_http(rule)
                else:
                    await self._expect_tcp(rule)
        return self._success()

    async def _handshake(self, tls: Any) -> None:
        """TLS over the check connection (the server's ``check_transport``: its context and
        ``check-sni``): a failure is HAProxy's L6RSP, running out of time L6TOUT."""
        try:
            with anyio.fail_after(self._left(self.connect_deadline)):
                stream = await TLSStream.wrap(self.chan.stream, server_side=False,
                                              hostname=tls.sni, ssl_context=tls.context,
                                              standard_compatible=False)
        except TimeoutError:
            raise _Stop(CheckResult("L6TOUT", 0, self._conn_suffix().lstrip())) from None
        except (OSError, anyio.BrokenResourceError, anyio.EndOfStream):
            raise _Stop(CheckResult("L6RSP", 0, "SSL handshake failure" +
                                    self._conn_suffix())) from None
        self.chan.stream = stream
        self.tls = True

    def _success(self) -> CheckResult:
        rule = self.current
        tcp_family = self.plan.family == "tcp"
        if isinstance(rule, R.Expect):
            if rule.http and self.plan.disable_on_404 and self.code == 404 and \
                    not self.server_down:
                return CheckResult("L7OKC", self.code)
            status = rule.ok_status or "L7OK"
            return CheckResult(status, self.code, "(tcp-check)" if tcp_family else "")
        if isinstance(rule, R.Connect):
            return CheckResult("L6OK" if self.tls else "L4OK", 0,
                               "" if rule.implicit else "(tcp-check)")
        return CheckResult("L7OK", 0, "(tcp-check)")

    # -- failures ------------------------------------------------------------------------------
    def _step(self) -> int:
        rule = self.current
        if rule is None:
            return 1
        if isinstance(rule, R.Connect) and rule.implicit:
            return 0
        return rule.index + 1

    def _conn_suffix(self) -> str:
        """What HAProxy appends to connection errors of a tcp-check rule set."""
        if self.plan.family != "tcp":
            return ""
        step = self._step()
        if not step:
            return " at initial connection step of tcp-check"
        out = f" at step {step} of tcp-check"
        rule = self.current
        if isinstance(rule, R.Connect):
            out += f" (connect port {rule.port})" if rule.port else " (connect)"
        elif isinstance(rule, R.Expect):
            out += {
                "string": f" (expect string '{rule.pattern}')",
                "binary": f" (expect binary '{rule.pattern.upper()}')",
                "rstring": " (expect regex)",
                "rbinary": " (expect binary regex)",
            }.get(rule.match, "")
        elif isinstance(rule, R.Send):
            out += " (send)"
        if rule is not None and rule.comment:
            out += f" comment: '{rule.comment}'"
        return out

    def _conn_error(self, exc: BaseException | None) -> _Stop:
        num = _errno_of(exc) if exc is not None else None
        text = (os.strerror(num) if num else "") + self._conn_suffix()
        if not self.connected:
            return _Stop(CheckResult("L4CON", 0, text))
        return _Stop(CheckResult("SOCKERR", 0, text))

    def _timeout(self) -> _Stop:
        text = self._conn_suffix()
        if not self.connected:
            return _Stop(CheckResult("L4TOUT", 0, text))
        rule = self.current
        status = rule.tout_status if isinstance(rule, R.Expect) and rule.tout_status \
            else "L7TOUT"
        return _Stop(CheckResult(status, self.code, text))

    def _left(self, deadline: float) -> float:
        return max(0.0, deadline - anyio.current_time())

    # -- rules ---------------------------------------------------------------------------------
    async def _connect(self, rule: R.Connect) -> None:
        if self.chan is not None:
            await self.chan.close()
            self.chan = None
        self.connected = False
        self.buf.clear()
        kind, target = self.plan.target
        if rule.addr is not None or rule.port:
            kind = "inet"
            host = str(rule.addr.ip) if rule.addr is not None and rule.addr.ip is not None \
                else (rule.addr.host if rule.addr is not None else target[0])
            port = rule.port or (rule.addr.port if rule.addr is not None else None) or \
                target[1]
            target = (host, port)
        try:
            with anyio.fail_after(self._left(self.connect_deadline)):
                if kind == "unix":
                    stream = await anyio.connect_unix(target)
                else:
                    stream = await anyio.connect_tcp(*target)
        except TimeoutError:
            raise self._timeout() from None
        except OSError as exc:
            raise self._conn_error(exc) from None
        self.chan = _Channel(stream)
        self.connected = True
        tls = getattr(self.srv, "check_transport", None) \
            if rule.implicit or rule.default else None
        if rule.ssl:
            # ``connect ssl [sni <s>] [alpn <l>]``: the server's TLS settings (the TLS
            # plugin's check_tls_for), with this rule's SNI and ALPN
            make = getattr(self.srv, "check_tls_for", None)
            try:
                tls = make(rule.sni, rule.alpn) if make is not None else None
            except ValueError as exc:
                raise _Stop(CheckResult("L6RSP", 0, str(exc))) from None
            if tls is None:
                raise _Stop(CheckResult("L6RSP", 0, "SSL is not available" +
                                        self._conn_suffix()))
        if tls is not None:
            await self._handshake(tls)
        proto = check_proto(self.srv, rule)
        if proto is None and self.tls:
            proto = self.chan.stream.extra(TLSAttribute.alpn_protocol, None)
        self.h2 = proto in H2_NAMES
        self.h2x = None
        if self.plan.timeout_check:
            self.deadline = anyio.current_time() + self.plan.timeout_check / 1000

    async def _send(self, rule: R.Send) -> None:
        data = self._http_request(rule.http) if rule.http is not None else rule.data
        self.buf.clear()
        try:
            with anyio.fail_after(self._left(self.deadline)):
                if rule.http is not None and self.reused:
                    await self.chan.request(rule.http.meth, data)
                elif rule.http is not None and self.h2:
                    req = rule.http
                    if self.h2x is None:
                        self.h2x = H2CheckExchange("https" if self.tls else "http")
                    self._resp = None
                    await self.chan.send(self.h2x.request(req.meth or "OPTIONS", req.uri,
                                                          req.headers, req.body))
                else:
                    if rule.http is not None:
                        self.h11 = h11.Connection(h11.CLIENT)
                        self.h11.send(h11.Request(method=rule.http.meth or "OPTIONS",
                                                  target="/", headers=[("Host", "x")]))
                    await self.chan.send(data)
        except TimeoutError:
            raise self._timeout() from None
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise self._conn_error(exc) from None

    def _http_request(self, req: R.HttpRequest) -> bytes:
        """The request as HAProxy writes it: lower-case header names, a content-length
        with a body, ``connection: close`` for HTTP/1.1 (not on a reused connection)."""
        meth, uri, ver = req.meth or "OPTIONS", req.uri or "/", req.ver or "HTTP/1.0"
        lines = [f"{meth} {uri} {ver}"]
        has_conn = False
        for name, value in req.headers:
            lines.append(f"{name.lower()}: {value}")
            has_conn = has_conn or name.lower() == "connection"
        if req.body:
            lines.append(f"content-length: {len(req.body)}")
        if ver.upper() >= "HTTP/1.1" and not has_conn and not self.reused:
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + (req.body or b"")

    async def _read_more(self) -> bool:
        """Read into ``buf``; False at end of stream."""
        try:
            with anyio.fail_after(self._left(self.deadline)):
                data = await self.chan.receive()
        except TimeoutError:
            raise self._timeout() from None
        except (OSError, anyio.BrokenResourceError) as exc:
            if self.buf:
                return False
            raise self._conn_error(exc) from None
        if not data:
            return False
        self.buf += data
        return True

    async def _expect_tcp(self, rule: R.Expect) -> None:
        last_read = self.chan is None or getattr(self.chan, "eof", False)
        if not self.buf and not last_read:
            last_read = not await self._read_more()
        while True:
            if not self.buf and last_read:
                text = f"TCPCHK got an empty response at step {self._step()}"
                if rule.comment:
                    text += f" comment: '{rule.comment}'"
                raise _Stop(CheckResult(rule.error_status or "L7RSP", 0, text))
            need = len(rule.data) if rule.match in ("string", "binary") else 0
            if not last_read and (len(self.buf) < need or
                                  (rule.min_recv > 0 and len(self.buf) < rule.min_recv)):
                last_read = not await self._read_more()
                continue
            match = self._match_tcp(rule)
            if not match and not last_read and rule.min_recv == -1:
                last_read = not await self._read_more()
                last_read = last_read or len(self.buf) >= BUFSIZE
                continue
            if match != rule.inverse:
                return
            raise _Stop(CheckResult(rule.error_status or "L7RSP", 0,
                                    self._tcp_error_text(rule, match)))

    def _match_tcp(self, rule: R.Expect) -> bool:
        data = bytes(self.buf)
        if rule.match in ("string", "binary"):
            return rule.data in data
        if rule.match == "rbinary":
            return rule.regex.search(data.hex().upper().encode()) is not None
        return rule.regex.search(data) is not None

    def _tcp_error_text(self, rule: R.Expect, match: bool) -> str:
        text = "TCPCHK matched unwanted content" if match else "TCPCHK did not match content"
        step = self._step()
        text += {
            "string": f" '{rule.pattern}' at step {step}",
            "binary": f" (binary) at step {step}",
            "rstring": f" (regex) at step {step}",
            "rbinary": f" (binary regex) at step {step}",
        }[rule.match]
        if rule.comment:
            text += f" comment: {rule.comment}"
        return text

    # -- HTTP ------------------------------------------------------------------------------------
    async def _response(self, need_body: bool) -> tuple[Any, bytes, bool]:
        """(h11 Response or None on a protocol error, body, complete)."""
        if self.reused:
            try:
                with anyio.fail_after(self._left(self.deadline)):
                    return await self.chan.response(need_body)
            except TimeoutError:
                raise self._timeout() from None
        cached = getattr(self, "_resp", None)
        if cached is not None and (cached[2] or not need_body):
            return cached
        if self.h2x is not None:
            return await self._h2_response(need_body)
        conn: h11.Connection = self.h11
        resp = getattr(self, "_head", None)
        body = bytearray(getattr(self, "_body", b""))
        complete = False
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    if resp is not None and not need_body:
                        break
                    more = await self._read_more()
                    if more:
                        conn.receive_data(bytes(self.buf))
                        self.buf.clear()
                    else:
                        conn.receive_data(b"")
                    continue
                if isinstance(event, h11.Response):
                    resp = event
                    if not need_body:
                        break
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) >= BUFSIZE:
                        break
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    complete = True
                    break
                elif isinstance(event, h11.InformationalResponse):
                    continue
        except h11.RemoteProtocolError:
            return None, b"", True
        self._head, self._body = resp, bytes(body)
        self._resp = (resp, bytes(body), complete)
        return self._resp

    async def _h2_response(self, need_body: bool) -> tuple[Any, bytes, bool]:
        """The response of an HTTP/2 check stream: (head or None when broken, body,
        complete)."""
        ex = self.h2x
        while not ex.complete and (ex.head is None or need_body) and len(ex.body) < BUFSIZE:
            try:
                more = await self._read_more()
            except _Stop as stop:
                if stop.result.status != "SOCKERR":
                    raise
                more = False  # (a reset after the request: the response is empty)
            if not more:
                ex.complete = True
                ex.broken = ex.head is None
                break
            reply = ex.feed(bytes(self.buf))
            self.buf.clear()
            if reply:
                try:
                    await self.chan.send(reply)
                except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
        head = None if ex.broken else ex.head
        if head is None and not ex.body:
            # the stream or the connection ended without a response (HAProxy's wording)
            rule = self.current
            status = getattr(rule, "error_status", None) or "L7RSP"
            steps = [r for r in self.plan.rules
                     if not (isinstance(r, R.Connect) and r.implicit)]
            step = next((i for i, r in enumerate(steps) if r is rule), 0) + 1
            raise _Stop(CheckResult(status, 0, f"TCPCHK got an empty response at step {step}"))
        self._resp = (head, bytes(ex.body), ex.complete)
        return self._resp

    async def _expect_http(self, rule: R.Expect) -> None:
        body_match = rule.match in ("string", "rstring")
        resp, body, _complete = await self._response(body_match)
        if resp is None:
            raise _Stop(CheckResult(rule.error_status or "L7RSP", self.code))
        status = resp.status_code
        reason = resp.reason.decode("latin-1")
        self.code = status
        if self.plan.disable_on_404 and status == 404 and not self.server_down:
            return
        if rule.match == "status":
            match = any(lo <= status <= hi for lo, hi in rule.codes)
            error, desc = rule.error_status or "L7STS", reason
        elif rule.match == "rstatus":
            match = rule.regex.search(str(status).encode()) is not None
            error, desc = rule.error_status or "L7STS", reason
        else:
            error = rule.error_status or "L7RSP"
            if not body:
                raise _Stop(CheckResult(error, status, self._with_comment(
                    "HTTP content check could not find a response body", rule)))
            if rule.match == "string":
                match = rule.data in body
            else:
                match = rule.regex.search(body) is not None
            desc = "HTTP check matched unwanted content" if rule.inverse else \
                "HTTP content check did not match"
        if match != rule.inverse:
            return
        raise _Stop(CheckResult(error, status, self._with_comment(desc, rule)))

    @staticmethod
    def _with_comment(desc: str, rule: R.Rule) -> str:
        return f"{desc} comment: {rule.comment}" if rule.comment else desc

