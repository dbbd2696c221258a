"""The conversion itself: validate a request, run cascadio, measure the GLB.

``Converter.convert`` is usable without gRPC (tests and bench call it); it
raises ``ConvertError`` carrying the gRPC status code the plugin answers with.
``ConverterServicer`` adapts it to the partflow.convert.v1.Converter service.

cascadio never releases the GIL and OCCT is not meant to be driven from two
threads at once, so conversions are serialised with a lock: one at a time per
process. Run more plugin processes for parallelism.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable

import grpc

from . import __version__ as PACKAGE_VERSION
from . import bounds, glb
from .pb import converter_pb2, converter_pb2_grpc

# cascadio's own defaults (cascadio/_core.pyi), used when an option is unset.
DEFAULT_LINEAR_TOLERANCE = 0.01
DEFAULT_ANGULAR_TOLERANCE = 0.5
DEFAULT_RELATIVE_TOLERANCE = False
DEFAULT_MERGE_PRIMITIVES = True

# Accepted spellings of each input format; the first is the canonical name.
_FORMAT_ALIASES = {"step": "step", "stp": "step", "iges": "iges", "igs": "iges", "glb": "glb"}
CONVERSIONS = (("step", "glb"), ("iges", "glb"))


class ConvertError(Exception):
    """A conversion failed; code is the gRPC status code to answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Options:
    """Meshing options; None means cascadio's default."""

    linear_tolerance: float | None = None
    angular_tolerance: float | None = None
    relative_tolerance: bool | None = None
    merge_primitives: bool | None = None
    max_triangles: int | None = None
    max_output_bytes: int | None = None

    @classmethod
    def from_proto(cls, opts: converter_pb2.ConvertOptions) -> "Options":
        """Read the set fields of a ConvertOptions message."""
        return cls(
            linear_tolerance=opts.linear_tolerance if opts.HasField("linear_tolerance") else None,
            angular_tolerance=opts.angular_tolerance if opts.HasField("angular_tolerance") else None,
            relative_tolerance=opts.relative_tolerance if opts.HasField("relative_tolerance") else None,
            merge_primitives=opts.merge_primitives if opts.HasField("merge_primitives") else None,
            max_triangles=opts.max_triangles if opts.HasField("max_triangles") else None,
            max_output_bytes=opts.max_output_bytes if opts.HasField("max_output_bytes") else None,
        )


@dataclass
class Result:
    """What a successful conversion produced."""

    stats: glb.GLBStats
    output_bytes: int
    duration_ms: float

    def to_proto(self) -> converter_pb2.ConvertResponse:
        """The ConvertResponse for this result."""
        return converter_pb2.ConvertResponse(
            stats=converter_pb2.Stats(
                triangles=self.stats.triangles,
                meshes=self.stats.meshes,
                materials=self.stats.materials,
                bbox_min=self.stats.bbox_min,
                bbox_max=self.stats.bbox_max,
                output_bytes=self.output_bytes,
                duration_ms=self.duration_ms,
            )
        )


def _canonical(fmt: str) -> str:
    name = fmt.strip().lower().lstrip(".")
    return _FORMAT_ALIASES.get(name, name)


def _tolerance(name: str, value: float | None, default: float) -> float:
    if value is None:
        return default
    if not math.isfinite(value) or value <= 0:
        raise ConvertError(grpc.StatusCode.INVALID_ARGUMENT, f"{name} must be a positive number, got {value!r}")
    return value


class Converter:
    """Runs cascadio conversions one at a time.

    cascadio is imported on first use, so constructing a Converter is cheap.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._lock = threading.Lock()
        self._log = logger or logging.getLogger("cascadio")
        self._cascadio = None

    def load(self) -> None:
        """Import cascadio now (the server does this before its handshake,
        so a broken install fails at start-up, not on the first call)."""
        self._module()

    def _module(self):
        if self._cascadio is None:
            import cascadio  # noqa: PLC0415 - heavy import, done once on first use

            self._cascadio = cascadio
        return self._cascadio

    def version(self) -> str:
        """cascadio's version plus this package's, e.g. "0.1.1+partflow-0.1.0"."""
        return f"{self._module().__version__}+partflow-{PACKAGE_VERSION}"

    def info(self) -> converter_pb2.InfoResponse:
        """The InfoResponse naming this converter and its conversions."""
        return converter_pb2.InfoResponse(
            name="cascadio",
            version=self.version(),
            conversions=[converter_pb2.Conversion(**{"from": a, "to": b}) for a, b in CONVERSIONS],
        )

    def convert(
        self,
        input_path: str,
        output_path: str,
        input_format: str,
        output_format: str,
        options: Options | None = None,
        before_start: Callable[[], None] | None = None,
    ) -> Result:
        """Convert input_path to output_path.

        before_start runs once the conversion lock is held, just before the
        work starts; it may raise ConvertError (the server uses it to honour
        a deadline that passed while the call waited for the lock).

        Raises ConvertError with UNIMPLEMENTED for a conversion cascadio does
        not do, INVALID_ARGUMENT for bad paths, bad options or a file cascadio
        cannot read, RESOURCE_EXHAUSTED if OCCT runs out of memory, and
        INTERNAL for anything unexpected. On failure output_path is not
        created (a file already there is left alone).
        """
        src, dst = _canonical(input_format), _canonical(output_format)
        if (src, dst) not in CONVERSIONS:
            supported = ", ".join(f"{a}->{b}" for a, b in CONVERSIONS)
            raise ConvertError(
                grpc.StatusCode.UNIMPLEMENTED,
                f"cascadio cannot convert {input_format or '(empty)'!r} to {output_format or '(empty)'!r}; "
                f"it converts {supported}",
            )
        opts = options or Options()
        kwargs = {
            "tol_linear": _tolerance("linear_tolerance", opts.linear_tolerance, DEFAULT_LINEAR_TOLERANCE),
            "tol_angular": _tolerance("angular_tolerance", opts.angular_tolerance, DEFAULT_ANGULAR_TOLERANCE),
            "tol_relative": (
                DEFAULT_RELATIVE_TOLERANCE if opts.relative_tolerance is None else bool(opts.relative_tolerance)
            ),
            "merge_primitives": (
                DEFAULT_MERGE_PRIMITIVES if opts.merge_primitives is None else bool(opts.merge_primitives)
            ),
        }
        _check_paths(input_path, output_path)
        for name in ("max_triangles", "max_output_bytes"):
            value = getattr(opts, name)
            if value is not None and value <= 0:
                raise ConvertError(grpc.StatusCode.INVALID_ARGUMENT, f"{name} must be > 0, got {value}")
        if src == "step" and opts.max_triangles is not None and not kwargs["tol_relative"]:
            self._bound_tolerance(input_path, kwargs, opts.max_triangles)

        with self._lock:
            if before_start is not None:
                before_start()
            cascadio = self._module()
            # Write next to the target and rename, so a failed or killed
            # conversion never leaves a partial file at output_path.
            fd, tmp = tempfile.mkstemp(
                prefix="." + os.path.basename(output_path) + ".", suffix=".partial", dir=os.path.dirname(output_path)
            )
            os.close(fd)
            try:
                start = time.perf_counter()
                self._run(cascadio, src, input_path, tmp, kwargs)
                size = os.path.getsize(tmp)
                if size == 0:
                    raise ConvertError(grpc.StatusCode.INVALID_ARGUMENT, _unreadable(src, input_path))
                with open(tmp, "rb") as f:
                    data = f.read()
                try:
                    stats = glb.stats_from_glb(data)
                except glb.GLBError as err:
                    raise ConvertError(grpc.StatusCode.INTERNAL, f"cascadio wrote an unreadable GLB: {err}") from err
                _check_output_bounds(opts, stats.triangles, size)
                if stats.triangles == 0:
                    raise ConvertError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"the {src.upper()} file has no surfaces cascadio can mesh (the GLB has no triangles)",
                    )
                os.replace(tmp, output_path)
                duration_ms = (time.perf_counter() - start) * 1000.0
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        return Result(stats=stats, output_bytes=size, duration_ms=duration_ms)

    def _bound_tolerance(self, input_path: str, kwargs: dict, max_triangles: int) -> None:
        """Coarsen kwargs["tol_linear"] if the file's mesh would exceed max_triangles."""
        with open(input_path, "rb") as f:
            text = f.read().decode("latin-1")
        tol, estimate = bounds.bounded_tolerance(text, kwargs["tol_linear"], max_triangles)
        if tol != kwargs["tol_linear"]:
            self._log.warning(
                "coarsening the tessellation to stay within the triangle bound",
                extra={"fields": {"estimated_triangles": int(estimate), "max_triangles": max_triangles,
                                  "tol_linear": kwargs["tol_linear"], "coarsened_tol_linear": tol}},
            )
            kwargs["tol_linear"] = tol

    def _run(self, cascadio, src: str, input_path: str, out: str, kwargs: dict) -> None:
        try:
            if src == "step":
                rc = cascadio.step_to_glb(input_path, out, **kwargs)
                if rc != 0:
                    raise ConvertError(grpc.StatusCode.INVALID_ARGUMENT, _unreadable(src, input_path))
            else:
                # cascadio 0.1.1 reads IGES only from bytes (step_to_glb is STEP-only).
                with open(input_path, "rb") as f:
                    data = f.read()
                glb_bytes = cascadio.to_glb_bytes(data, cascadio.FileType.IGES, **kwargs)
                if not glb_bytes:
                    raise ConvertError(grpc.StatusCode.INVALID_ARGUMENT, _unreadable(src, input_path))
                with open(out, "wb") as f:
                    f.write(glb_bytes)
        except MemoryError as err:
            raise ConvertError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"cascadio ran out of memory: {err}") from err
        except RuntimeError as err:
            # OCCT's Standard_Failure surfaces as RuntimeError (e.g. a mesher
            # that rejects the geometry): the input cannot be converted.
            raise ConvertError(grpc.StatusCode.INVALID_ARGUMENT, f"cascadio failed to mesh the file: {err}") from err


def _check_output_bounds(opts: Options, triangles: int, size: int) -> None:
    """OUT_OF_RANGE if the mesh came out over a bound after all."""
    if opts.max_triangles is not None and triangles > opts.max_triangles:
        raise ConvertError(
            grpc.StatusCode.OUT_OF_RANGE,
            f"the mesh has {triangles} triangles, more than the bound of {opts.max_triangles}",
        )
    if opts.max_output_bytes is not None and size > opts.max_output_bytes:
        raise ConvertError(
            grpc.StatusCode.OUT_OF_RANGE, f"the GLB takes {size} bytes, more than the bound of {opts.max_output_bytes}"
        )


def _check_paths(input_path: str, output_path: str) -> None:
    bad = grpc.StatusCode.INVALID_ARGUMENT
    if not input_path or not os.path.isabs(input_path):
        raise ConvertError(bad, f"input_path must be an absolute path, got {input_path!r}")
    if not output_path or not os.path.isabs(output_path):
        raise ConvertError(bad, f"output_path must be an absolute path, got {output_path!r}")
    if not os.path.exists(input_path):
        raise ConvertError(bad, f"input file {input_path} does not exist")
    if not os.path.isfile(input_path):
        # cascadio 0.1.1 raises MemoryError (std::bad_alloc) on a directory.
        raise ConvertError(bad, f"input path {input_path} is not a regular file")
    if not os.access(input_path, os.R_OK):
        raise ConvertError(bad, f"input file {input_path} is not readable")
    if os.path.getsize(input_path) == 0:
        raise ConvertError(bad, f"input file {input_path} is empty")
    parent = os.path.dirname(output_path)
    if not os.path.isdir(parent):
        raise ConvertError(bad, f"output directory {parent} does not exist")
    if os.path.isdir(output_path):
        raise ConvertError(bad, f"output path {output_path} is a directory")


def _unreadable(src: str, input_path: str) -> str:
    """A human explanation of why cascadio rejected input_path."""
    kind = src.upper()
    base = f"cascadio could not read the {kind} file"
    try:
        with open(input_path, "rb") as f:
            head = f.read(64)
            f.seek(max(os.path.getsize(input_path) - 2048, 0))
            tail = f.read()
    except OSError as err:
        return f"{base}: {err}"
    if src == "step":
        if not head.lstrip().startswith(b"ISO-10303-21;"):
            return f"{base}: it does not start with ISO-10303-21; (not a STEP file)"
        if b"END-ISO-10303-21;" not in tail:
            return f"{base}: it is truncated (no END-ISO-10303-21; at the end)"
        return f"{base}: it has no geometry that can be transferred (no shapes)"
    return f"{base}: it is malformed or has no geometry (no shapes)"


class ConverterServicer(converter_pb2_grpc.ConverterServicer):
    """partflow.convert.v1.Converter backed by a Converter."""

    def __init__(self, converter: Converter, logger: logging.Logger | None = None) -> None:
        self._conv = converter
        self._log = logger or logging.getLogger("cascadio")

    def Info(self, request, context):  # noqa: N802 - gRPC method name
        """Name, version and conversions."""
        return self._conv.info()

    def Convert(self, request, context):  # noqa: N802 - gRPC method name
        """Run one conversion; failures become gRPC status codes."""
        fields = {
            "input_path": request.input_path,
            "output_path": request.output_path,
            "input_format": request.input_format,
            "output_format": request.output_format,
        }

        def before_start() -> None:
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise ConvertError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed before the conversion started")
            if not context.is_active():
                raise ConvertError(grpc.StatusCode.CANCELLED, "call cancelled before the conversion started")

        try:
            result = self._conv.convert(
                request.input_path,
                request.output_path,
                request.input_format,
                request.output_format,
                Options.from_proto(request.options),
                before_start=before_start,
            )
        except ConvertError as err:
            self._log.warning("conversion failed", extra={"fields": {**fields, "code": err.code.name, "error": err.message}})
            context.abort(err.code, err.message)
        except Exception as err:  # never let a bug surface as UNKNOWN without a log line
            self._log.exception("conversion crashed", extra={"fields": fields})
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in the cascadio plugin: {err!r}")
        self._log.info(
            "converted",
            extra={
                "fields": {
                    **fields,
                    "triangles": result.stats.triangles,
                    "meshes": result.stats.meshes,
                    "materials": result.stats.materials,
                    "output_bytes": result.output_bytes,
                    "duration_ms": round(result.duration_ms, 3),
                }
            },
        )
        return result.to_proto()
