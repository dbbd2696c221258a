"""End to end: run `python -m partflow_cascadio` as go-plugin would and talk gRPC to it."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import BOX_EXTENTS, cad, fixture
from partflow_cascadio.pb import converter_pb2, converter_pb2_grpc, grpc_controller_pb2, grpc_controller_pb2_grpc
from partflow_cascadio.server import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

HANDSHAKE = re.compile(r"^1\|1\|unix\|(/[^|]+)\|grpc\n$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
DEADLINE = 60.0  # generous: CI machines are small and may be busy


def plugin_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_") and k != MAGIC_COOKIE_KEY}
    env.update({MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "1"})
    env.update(extra)
    return env


def read_until_eof(stream, timeout: float) -> bytes:
    """Everything left on a pipe, waiting at most timeout for its writers to close it."""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    chunks = []
    end = time.monotonic() + timeout
    try:
        while (left := end - time.monotonic()) > 0:
            if not sel.select(left):
                break
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        sel.close()
    raise AssertionError(f"pipe still open after {timeout}s; read so far: {b''.join(chunks)!r}")


def read_line(stream, timeout: float) -> bytes:
    """One line from a pipe, byte by byte so nothing after it is consumed."""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    line = b""
    end = time.monotonic() + timeout
    try:
        while not line.endswith(b"\n"):
            left = end - time.monotonic()
            assert left > 0 and sel.select(left), f"no handshake line within {timeout}s (got {line!r})"
            byte = os.read(stream.fileno(), 1)
            if not byte:
                break
            line += byte
    finally:
        sel.close()
    return line


class Plugin:
    """A running plugin subprocess with its stderr captured in a file."""

    def __init__(self, env: dict[str, str], argv: list[str] | None = None) -> None:
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "partflow_cascadio"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
        )
        line = read_line(self.proc.stdout, DEADLINE).decode()
        match = HANDSHAKE.match(line)
        assert match, f"bad handshake line {line!r}; stderr: {self.stderr()}"
        self.socket = match.group(1)
        self.channel = grpc.insecure_channel("unix:" + self.socket)
        grpc.channel_ready_future(self.channel).result(timeout=DEADLINE)
        self.converter = converter_pb2_grpc.ConverterStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.controller = grpc_controller_pb2_grpc.GRPCControllerStub(self.channel)

    def stderr(self) -> str:
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode(errors="replace")

    def wait(self) -> int:
        """Exit code, after checking nothing but the handshake went to stdout."""
        rest = read_until_eof(self.proc.stdout, DEADLINE)
        assert rest == b"", f"plugin wrote to stdout after the handshake: {rest[:200]!r}"
        return self.proc.wait(timeout=DEADLINE)

    def close(self) -> None:
        """Stop the plugin the way the host's Kill does: Shutdown, then SIGKILL if needed."""
        if self.proc.poll() is None:
            try:
                self.controller.Shutdown(grpc_controller_pb2.Empty(), timeout=5)
                self.proc.wait(timeout=DEADLINE)
            except (grpc.RpcError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.channel.close()
        self.proc.stdout.close()
        self.stderr_file.close()


@pytest.fixture
def plugin():
    p = Plugin(plugin_env())
    yield p
    p.close()


def convert_request(input_path: str, output_path: str, src: str = "step", **options) -> converter_pb2.ConvertRequest:
    return converter_pb2.ConvertRequest(
        input_path=input_path,
        output_path=output_path,
        input_format=src,
        output_format="glb",
        options=converter_pb2.ConvertOptions(**options),
    )


def test_full_session_then_shutdown_removes_socket_dir(plugin, tmp_path):
    socket_dir = Path(plugin.socket).parent
    assert socket_dir.stat().st_mode & 0o777 == 0o700

    health = plugin.health.Check(health_pb2.HealthCheckRequest(service="plugin"), timeout=DEADLINE)
    assert health.status == health_pb2.HealthCheckResponse.SERVING

    info = plugin.converter.Info(converter_pb2.InfoRequest(), timeout=DEADLINE)
    assert info.name == "cascadio"
    assert ("step", "glb") in [(getattr(c, "from"), c.to) for c in info.conversions]

    out = tmp_path / "part.glb"
    resp = plugin.converter.Convert(
        convert_request(fixture("box.step"), str(out), linear_tolerance=0.01), timeout=DEADLINE
    )
    assert out.read_bytes()[:4] == b"glTF"
    assert resp.stats.triangles > 0
    assert resp.stats.output_bytes == out.stat().st_size
    extents = [hi - lo for lo, hi in zip(resp.stats.bbox_min, resp.stats.bbox_max)]
    assert extents == pytest.approx(BOX_EXTENTS, abs=1e-6)
    assert resp.stats.duration_ms > 0

    # A broken file makes OCCT print to fd 1; that must land on stderr.
    half = tmp_path / "half.step"
    box = open(fixture("box.step"), "rb").read()
    half.write_bytes(box[: len(box) // 2])
    with pytest.raises(grpc.RpcError) as exc:
        plugin.converter.Convert(convert_request(str(half), str(tmp_path / "t.glb")))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "truncated" in exc.value.details()

    with pytest.raises(grpc.RpcError) as exc:
        plugin.converter.Convert(convert_request(fixture("two_cubes_ascii.stl"), str(tmp_path / "s.glb"), src="stl"))
    assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED

    # The process still converts after the failures.
    resp = plugin.converter.Convert(convert_request(fixture("box.step"), str(tmp_path / "m.glb")))
    assert resp.stats.triangles > 0

    plugin.controller.Shutdown(grpc_controller_pb2.Empty(), timeout=DEADLINE)
    assert plugin.wait() == 0
    assert not socket_dir.exists()

    stderr = plugin.stderr()
    assert "StepFile" in stderr, "OCCT's parse error should reach stderr"
    entries = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert {e["@message"] for e in entries} >= {"serving", "converted", "conversion failed", "stopping"}
    for e in entries:
        assert e["@level"] in {"trace", "debug", "info", "warn", "error"}
        assert TIMESTAMP.match(e["@timestamp"]), e["@timestamp"]
    failed = next(e for e in entries if e["@message"] == "conversion failed")
    assert failed["code"] == "INVALID_ARGUMENT"


def test_concurrent_converts_are_serialised_and_both_succeed(plugin, tmp_path):
    with futures.ThreadPoolExecutor(max_workers=2) as pool:
        calls = [
            pool.submit(
                plugin.converter.Convert,
                convert_request(cad(name), str(tmp_path / f"{i}.glb")),
                timeout=DEADLINE,
            )
            for i, name in enumerate(["base_interface_ap214.step", "red_cube_blue_cylinder.step"])
        ]
        results = [c.result() for c in calls]
    assert [r.stats.meshes for r in results] == [1, 2]


def test_large_request_is_rejected_by_receive_limit(plugin, tmp_path):
    with pytest.raises(grpc.RpcError) as exc:
        plugin.converter.Convert(convert_request("/" + "x" * (2 << 20), str(tmp_path / "x.glb")), timeout=DEADLINE)
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_sigterm_exits_cleanly(plugin):
    socket_dir = Path(plugin.socket).parent
    plugin.proc.send_signal(signal.SIGTERM)
    assert plugin.wait() == 0
    assert not socket_dir.exists()


def test_sigint_is_ignored_like_go_plugins(plugin):
    plugin.proc.send_signal(signal.SIGINT)
    health = plugin.health.Check(health_pb2.HealthCheckRequest(service="plugin"), timeout=DEADLINE)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    plugin.controller.Shutdown(grpc_controller_pb2.Empty(), timeout=DEADLINE)
    assert plugin.wait() == 0


def test_socket_goes_in_plugin_unix_socket_dir(tmp_path):
    p = Plugin(plugin_env(PLUGIN_UNIX_SOCKET_DIR=str(tmp_path)))
    try:
        assert Path(p.socket).parent == tmp_path
        p.controller.Shutdown(grpc_controller_pb2.Empty(), timeout=DEADLINE)
        assert p.wait() == 0
        assert tmp_path.is_dir(), "a host-owned socket dir must be kept"
        assert not Path(p.socket).exists()
    finally:
        p.close()


def test_exits_when_host_dies(tmp_path):
    # sh stands in for the host: it starts the plugin in the background and
    # exits, so the plugin is re-parented and must notice and exit.
    argv = ["sh", "-c", '"$0" -m partflow_cascadio & read -r _ || :', sys.executable]
    proc = subprocess.Popen(argv, env=plugin_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        line = read_line(proc.stdout, DEADLINE).decode()
        match = HANDSHAKE.match(line)
        assert match, line
        proc.stdin.close()  # sh's `read` ends, sh exits
        assert proc.wait(timeout=DEADLINE) == 0
        # stdout reaches EOF only once the plugin, which holds it too, exits.
        assert read_until_eof(proc.stdout, DEADLINE) == b""
        assert not Path(match.group(1)).parent.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "not meant to be run directly"),
        ({MAGIC_COOKIE_KEY: "wrong"}, "not meant to be run directly"),
        ({MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "2,3"}, "offered '2,3'"),
    ],
    ids=["no_cookie", "wrong_cookie", "no_common_version"],
)
def test_refuses_to_start_without_a_host(env, message):
    base = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_") and k != MAGIC_COOKIE_KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "partflow_cascadio"],
        env={**base, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=DEADLINE,
    )
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert message in proc.stderr.decode()
