"""Per-connection HTTP/2 limits (plugins/h2_mux/limits.py): `tune.h2.fe.max-total-streams`
(a graceful GOAWAY after that many streams, the client reconnects), `tune.h2.fe.rxbuf` and
`tune.h2.be.rxbuf` (the connection's receive budget: its window, shared by the streams
receiving a body).  Real clients: curl, a raw h2 client; an h2 origin server."""

from __future__ import annotations

import subprocess

import h2.events
import h2.settings
import httpx
import pytest
from h2util import H2Origin, RawH2, read_frames
from hyperframe.frame import DataFrame, GoAwayFrame
from netutil import HAPX_CMD, OriginServer, free_port, run_hapx, wait_until


def _cfg(port: int, origin: int, glob: str = "", srv: str = "") -> str:
    return f"""
global
    log stdout format raw local0
{glob}
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port} proto h2
    http-response set-header x-cport %[src_port]
    default_backend be
backend be
    server s1 127.0.0.1:{origin} {srv}
"""


def test_max_total_streams_goaway_after_the_last_stream():
    """After the 3rd stream: GOAWAY NO_ERROR naming it, its response is still served, a
    later stream is refused, and the connection closes; MAX_CONCURRENT_STREAMS announced
    is no more than the total."""
    port = free_port()
    glob = "    tune.h2.fe.max-total-streams 3"
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, glob),
                                            ready_ports=[port]):
        cli = RawH2(port)
        ev = cli.wait(lambda evs: [e for e in evs
                                   if isinstance(e, h2.events.RemoteSettingsChanged)])[0]
        got = {k: v.new_value for k, v in ev.changed_settings.items()}
        assert got[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 3
        for _ in range(2):
            status, _h, body = cli.response(cli.request("GET", "/"))
            assert (status, body) == (200, b"ok\n")
        third = cli.request("GET", "/")
        frames = read_frames(cli.sock, lambda fs: fs and fs[-1] is None, timeout=8)
        frames = [f for f in frames if f is not None]
        goaway = [i for i, f in enumerate(frames) if isinstance(f, GoAwayFrame)]
        assert len(goaway) == 1, frames
        assert frames[goaway[0]].error_code == 0
        assert frames[goaway[0]].last_stream_id == third
        ended = [i for i, f in enumerate(frames) if f.stream_id == third
                 and "END_STREAM" in f.flags]
        # the last stream is served, then comes the GOAWAY, then the connection closes
        assert ended and ended[0] < goaway[0], frames
        assert b"".join(f.data for f in frames if isinstance(f, DataFrame)
                        and f.stream_id == third) == b"ok\n"
        cli.close()


def test_max_total_streams_zero_or_unset_no_goaway():
    port = free_port()
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port),
                                            ready_ports=[port]):
        cli = RawH2(port)
        for _ in range(6):
            status, _h, _b = cli.response(cli.request("GET", "/"))
            assert status == 200
        assert not [e for e in cli.events if isinstance(e, h2.events.ConnectionTerminated)]
        cli.close()


def test_max_total_streams_httpx_reconnects():
    """httpx (HTTP/2) sends 5 requests one after the other: after every 2 streams hapx
    says GOAWAY and closes, httpx opens a new connection; all are served, over 3
    connections."""
    port = free_port()
    glob = "    tune.h2.fe.max-total-streams 2"
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, glob),
                                            ready_ports=[port]):
        seen = []
        with httpx.Client(http1=False, http2=True, timeout=10) as c:
            for i in range(5):
                r = c.get(f"http://127.0.0.1:{port}/u{i}")
                assert (r.status_code, r.http_version) == (200, "HTTP/2")
                seen.append(r.headers["x-cport"])
        assert len(set(seen)) == 3, seen
        assert seen[0] == seen[1] and seen[2] == seen[3] and seen[1] != seen[2]


def _settings(cli: RawH2) -> None:
    cli.wait(lambda evs: [e for e in evs if isinstance(e, h2.events.RemoteSettingsChanged)])


@pytest.mark.parametrize("codec", ["lean", "h2"])
def test_fe_rxbuf_is_the_connection_window_shared_by_uploads(codec):
    """tune.h2.fe.rxbuf 256k: the connection window is 256 KiB; a lone upload stream may
    use all of it, two parallel ones get half each (the initial window stays 65535); with
    either frontend codec (h2-codec)."""
    port = free_port()
    glob = f"    tune.h2.fe.rxbuf 256k\n    h2-codec {codec}"
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, glob),
                                            ready_ports=[port]):
        cli = RawH2(port)
        _settings(cli)
        cli.wait(lambda evs: cli.conn.outbound_flow_control_window == 256 * 1024)
        s1 = cli.request("POST", "/a", end=False, headers=[("content-length", "10")])
        cli.wait(lambda evs: cli.conn.local_flow_control_window(s1) == 256 * 1024)
        s2 = cli.request("POST", "/b", end=False, headers=[("content-length", "10")])
        cli.wait(lambda evs: cli.conn.local_flow_control_window(s2) == 128 * 1024)
        for sid in (s1, s2):
            cli.conn.send_data(sid, b"0123456789", end_stream=True)
        cli.flush()
        assert cli.response(s1)[0] == 200 and cli.response(s2)[0] == 200
        # a request without a body gets no extra window
        s3 = cli.request("GET", "/c")
        assert cli.response(s3)[0] == 200
        assert cli.conn.local_flow_control_window(s3) == 65535
        cli.close()


def test_fe_rxbuf_default_and_rounding():
    """The default budget is HAProxy's 1600k; a value is rounded up to tune.bufsize."""
    port = free_port()
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port), ready_ports=[port]):
        cli = RawH2(port)
        _settings(cli)
        cli.wait(lambda evs: cli.conn.outbound_flow_control_window == 1600 * 1024)
        cli.close()
    port = free_port()
    glob = "    tune.bufsize 32768\n    tune.h2.fe.rxbuf 100000"
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, glob),
                                            ready_ports=[port]):
        cli = RawH2(port)
        _settings(cli)
        cli.wait(lambda evs: cli.conn.outbound_flow_control_window == 4 * 32768)
        cli.close()


def test_be_rxbuf_server_connection_and_stream_windows():
    """tune.h2.be.rxbuf 512k towards an h2 server: the server sees a 512 KiB connection
    window and a 512 KiB window on a lone stream (its initial window being 65535)."""
    port = free_port()
    glob = "    tune.h2.be.rxbuf 512k"
    with H2Origin(delay=1.5) as origin, run_hapx(_cfg(port, origin.port, glob, "proto h2"),
                                                 ready_ports=[port]):
        cli = RawH2(port)
        sid = cli.request("GET", "/slow")
        wait_until(lambda: origin.streams == 1 and origin.protos, timeout=5)
        proto = next(iter(origin.protos))

        def windows() -> tuple[int, int]:
            conn = proto.conn
            return (conn.outbound_flow_control_window,
                    max((s.outbound_flow_control_window for s in conn.streams.values()),
                        default=0))
        wait_until(lambda: windows() == (512 * 1024, 512 * 1024), timeout=5)
        assert cli.response(sid)[0] == 200
        cli.close()


def test_rxbuf_keywords_active_in_doc():
    out = subprocess.run([*HAPX_CMD, "doc", "directives", "tune.h2.fe.max-total-streams"],
                         capture_output=True, text=True, timeout=30)
    assert "status : active" in out.stdout, out
