"""Where spans go: OTLP when an endpoint is configured, a local file under ``make run``,
nowhere otherwise (then nothing is recorded and nothing is paid for).

One tracer provider per service process, made by ``serve`` (``keel_runtime.server``) with
the resource ``service.name=<service>``. The SDK and the exporters are imported only when
tracing is on: a service without an exporter does not load them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keel_runtime.settings import env_bool, env_int, env_str
from keel_runtime.tracing import spans
from keel_runtime.tracing.file_sink import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("keel.tracing")

FILE_SCHEDULE_DELAY_MS = 500
"""How soon a span reaches the local file: the trace command is used right after a call."""

_provider: TracerProvider | None = None


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """Exporters of this process's spans; neither set = tracing off."""

    otlp_endpoint: str | None = None
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``): spans are
    sent there by OTLP/gRPC; the exporter reads its other ``OTEL_EXPORTER_OTLP_*`` variables
    (headers, certificates, timeout) itself. The sampler is the SDK's, ``OTEL_TRACES_SAMPLER``
    (default: parent-based, always on)."""
    file: Path | None = None
    """``KEEL_TRACES_FILE``: JSON lines for ``python -m keel_runtime.traces`` (``make run``
    sets ``var/traces/<service>.jsonl``)."""
    file_max_bytes: int = DEFAULT_MAX_BYTES
    """``KEEL_TRACES_FILE_MAX_BYTES``: past this the file is rotated to ``<file>.1``."""

    @property
    def enabled(self) -> bool:
        return self.otlp_endpoint is not None or self.file is not None

    @classmethod
    def from_env(cls) -> TracingSettings:
        if env_bool("OTEL_SDK_DISABLED", False):
            return cls()
        endpoint = env_str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") or env_str(
            "OTEL_EXPORTER_OTLP_ENDPOINT", ""
        )
        file = env_str("KEEL_TRACES_FILE", "")
        return cls(
            otlp_endpoint=endpoint or None,
            file=Path(file) if file else None,
            file_max_bytes=env_int("KEEL_TRACES_FILE_MAX_BYTES", DEFAULT_MAX_BYTES, min=1024),
        )


def configure(service: str, settings: TracingSettings) -> bool:
    """Start recording this process's spans as ``service``; False when tracing stays off.

    Calling it again replaces the provider (the previous one is flushed and shut down).
    """
    shutdown()
    if not settings.enabled:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    global _provider
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    if settings.otlp_endpoint is not None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if settings.file is not None:
        from keel_runtime.tracing.file_sink import JsonLinesExporter

        sink = JsonLinesExporter(settings.file, settings.file_max_bytes)
        provider.add_span_processor(
            BatchSpanProcessor(sink, schedule_delay_millis=FILE_SCHEDULE_DELAY_MS)
        )
    _provider = provider
    spans.install(provider.get_tracer("keel_runtime"))
    log.info(
        "tracing on",
        extra={"otlp": settings.otlp_endpoint is not None, "file": str(settings.file or "")},
    )
    return True


def shutdown() -> None:
    """Stop recording; spans already ended are exported first."""
    global _provider
    provider, _provider = _provider, None
    spans.install(None)
    if provider is not None:
        provider.shutdown()


def force_flush() -> None:
    """Export every ended span now (tests, and a process about to exit)."""
    if _provider is not None:
        _provider.force_flush()
