"""The hashicorp/go-plugin side: handshake, gRPC services, lifecycle.

A go-plugin host (Partflow's convert/grpcplugin) starts this program with the
magic cookie in its environment and reads one handshake line from its stdout:

    1|<app version>|unix|<socket path>|grpc

and then talks gRPC over that unix socket. This module serves there:

- partflow.convert.v1.Converter (Info, Convert);
- grpc.health.v1.Health with service "plugin" SERVING (go-plugin's Ping);
- plugin.GRPCController/Shutdown, which go-plugin's Kill calls first.

stdout carries nothing but the handshake line: fd 1 is pointed at stderr
before anything else runs (OCCT prints straight to fd 1), and the handshake is
written to a saved duplicate of the original stdout.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Mapping

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import __version__
from .converter import Converter, ConverterServicer
from .log import configure
from .pb import converter_pb2_grpc, grpc_controller_pb2, grpc_controller_pb2_grpc

#: Environment variable carrying the magic cookie (the host's HandshakeConfig).
MAGIC_COOKIE_KEY = "PARTFLOW_CONVERTER_PLUGIN"
#: The cookie value the host sets; anything else means "not started by a host".
MAGIC_COOKIE_VALUE = "4b1f0c8e-partflow-converter-v1"
#: go-plugin's core protocol version (always 1).
CORE_PROTOCOL_VERSION = 1
#: The application protocol versions this plugin speaks.
APP_PROTOCOL_VERSIONS = (1,)
#: The health service name go-plugin's Ping checks.
HEALTH_SERVICE = "plugin"
#: Requests carry paths and a few numbers; nothing near this size is legitimate.
MAX_RECEIVE_MESSAGE_BYTES = 1 << 20
#: How long in-flight calls may take to finish once shutdown starts. go-plugin
#: waits 2 s after Shutdown before SIGKILL, so stay well inside that.
SHUTDOWN_GRACE_SECONDS = 1.0
#: How often to check that the host process is still our parent. With the
#: shutdown grace this keeps an orphan's life under 2 s. (On Linux the host
#: also sets a parent-death signal, which ends us even in the middle of a
#: conversion, when cascadio holds the GIL and this check cannot run.)
PARENT_CHECK_SECONDS = 0.25

NOT_A_HOST_MESSAGE = (
    "This program is a Partflow converter plugin (cascadio, STEP/IGES to GLB). "
    "It is started by Partflow through hashicorp/go-plugin and is not meant to be "
    "run directly; see plugins/cascadio/README.md.\n"
)


class HandshakeError(Exception):
    """The environment does not describe a go-plugin host we can serve."""


@dataclass
class Handshake:
    """The negotiated part of the go-plugin handshake."""

    app_version: int
    socket_dir: str
    owns_socket_dir: bool

    @property
    def socket_path(self) -> str:
        """The unix socket inside socket_dir."""
        return os.path.join(self.socket_dir, "plugin.sock")

    def line(self) -> str:
        """The handshake line to print on stdout, newline included."""
        return f"{CORE_PROTOCOL_VERSION}|{self.app_version}|unix|{self.socket_path}|grpc\n"


def negotiate(env: Mapping[str, str]) -> int:
    """Pick the app protocol version from env, or raise HandshakeError.

    Checks the magic cookie, then PLUGIN_PROTOCOL_VERSIONS (comma separated).
    If the host sets no versions, version 1 is used, as a Go plugin would use
    its own default.
    """
    if env.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise HandshakeError(NOT_A_HOST_MESSAGE)
    offered = env.get("PLUGIN_PROTOCOL_VERSIONS", "").strip()
    if not offered:
        return APP_PROTOCOL_VERSIONS[-1]
    versions = set()
    for part in offered.split(","):
        try:
            versions.add(int(part.strip()))
        except ValueError:
            continue
    for version in sorted(APP_PROTOCOL_VERSIONS, reverse=True):
        if version in versions:
            return version
    raise HandshakeError(
        f"This plugin speaks protocol version(s) {', '.join(map(str, APP_PROTOCOL_VERSIONS))}; "
        f"the host offered {offered!r} (PLUGIN_PROTOCOL_VERSIONS).\n"
    )


def make_socket_dir(env: Mapping[str, str]) -> tuple[str, bool]:
    """Return (directory for the socket, whether we created it and must remove it).

    With PLUGIN_UNIX_SOCKET_DIR (go-plugin sets it with a RunnerFunc) the
    socket goes straight into that host-owned directory; otherwise into a new
    mkdtemp() directory, which is mode 0700.
    """
    given = env.get("PLUGIN_UNIX_SOCKET_DIR")
    if given:
        return given, False
    return tempfile.mkdtemp(prefix="partflow-cascadio-"), True


class ControllerServicer(grpc_controller_pb2_grpc.GRPCControllerServicer):
    """plugin.GRPCController: Shutdown sets the stop event."""

    def __init__(self, stop: threading.Event, logger: logging.Logger) -> None:
        self._stop = stop
        self._log = logger

    def Shutdown(self, request, context):  # noqa: N802 - gRPC method name
        """Ask the main thread to stop the server and exit."""
        self._log.info("shutdown requested by the host")
        self._stop.set()
        return grpc_controller_pb2.Empty()


def build_server(
    stop: threading.Event, logger: logging.Logger, converter: Converter | None = None
) -> tuple[grpc.Server, health.HealthServicer]:
    """A gRPC server with the Converter, Health and GRPCController services.

    Four worker threads: conversions take a lock inside Converter, so extra
    workers only keep Health and Shutdown answerable between conversions
    (cascadio holds the GIL while it runs, so nothing answers during one).
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),
        ],
    )
    conv = converter or Converter(logger)
    converter_pb2_grpc.add_ConverterServicer_to_server(ConverterServicer(conv, logger), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(ControllerServicer(stop, logger), server)
    return server, health_servicer


def _watch_parent(stop: threading.Event, logger: logging.Logger) -> None:
    """Stop if the host dies without killing us (we get re-parented)."""
    parent = os.getppid()
    while not stop.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent:
            logger.warning("host process went away; exiting", extra={"fields": {"host_pid": parent}})
            stop.set()
            # The graceful stop waits for in-flight calls nobody will read:
            # cut it short if it overruns its grace.
            hard = threading.Timer(SHUTDOWN_GRACE_SECONDS + 0.5, os._exit, args=(1,))
            hard.daemon = True
            hard.start()
            return


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the plugin until Shutdown, SIGTERM or the host's death; return the exit code."""
    env = os.environ if env is None else env
    try:
        app_version = negotiate(env)
    except HandshakeError as err:
        sys.stderr.write(str(err))
        sys.stderr.flush()
        return 1

    # From here on nothing may reach the host's stdout pipe except the
    # handshake line: keep the original stdout as a private fd and make fd 1
    # (and so OCCT's std::cout and Python's print) go to stderr.
    sys.stdout.flush()
    handshake_fd = os.dup(1)
    os.dup2(2, 1)

    logger = configure()
    converter = Converter(logger)
    try:
        converter.load()
    except ImportError as err:
        logger.error("cannot import cascadio", extra={"fields": {"error": str(err)}})
        os.close(handshake_fd)
        return 1
    stop = threading.Event()
    socket_dir, owns_dir = make_socket_dir(env)
    hs = Handshake(app_version=app_version, socket_dir=socket_dir, owns_socket_dir=owns_dir)
    server, health_servicer = build_server(stop, logger, converter)
    try:
        try:
            server.add_insecure_port("unix:" + hs.socket_path)
        except RuntimeError as err:
            logger.error("cannot listen", extra={"fields": {"socket": hs.socket_path, "error": str(err)}})
            return 1
        server.start()
        health_servicer.set(HEALTH_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)

        # SIGTERM stops us cleanly. SIGINT is ignored, as go-plugin's Go
        # plugins do: a Ctrl-C in the host's terminal reaches the whole process
        # group, and the host wants to drain and then Kill its plugins itself.
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_watch_parent, args=(stop, logger), name="parent-watch", daemon=True).start()

        os.write(handshake_fd, hs.line().encode("ascii"))
        logger.info(
            "serving",
            extra={
                "fields": {
                    "socket": hs.socket_path,
                    "protocol_version": app_version,
                    "plugin_version": __version__,
                    "pid": os.getpid(),
                }
            },
        )
        # Event.wait() without a timeout is interruptible by signals on POSIX.
        stop.wait()
        logger.info("stopping")
        health_servicer.enter_graceful_shutdown()
        server.stop(SHUTDOWN_GRACE_SECONDS).wait()
        return 0
    finally:
        server.stop(None)
        if hs.owns_socket_dir:
            shutil.rmtree(hs.socket_dir, ignore_errors=True)
        else:
            try:
                os.remove(hs.socket_path)
            except FileNotFoundError:
                pass
        os.close(handshake_fd)


def run() -> None:
    """Console-script entry point: sys.exit(main())."""
    sys.exit(main())
