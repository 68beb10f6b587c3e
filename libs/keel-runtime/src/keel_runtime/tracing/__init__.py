"""OpenTelemetry traces of every Keel service, wired once here.

- ``provider``: the exporters (OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, a local
  JSON-lines file when ``KEEL_TRACES_FILE`` is), configured by ``serve`` for the process.
- ``spans``: the spans the runtime records: a server span per RPC (the interceptor chain), a
  client span per outgoing call (``keel_runtime.clients``), a producer span per outbox
  publish (the relay), a consumer span per delivery (the consumer, continuing the trace
  from the message's ``traceparent`` header).
- ``statements``: a span per database statement, at the driver.
- ``python -m keel_runtime.traces``: prints a trace from the local files as a tree.

With no exporter configured nothing is recorded, and the request context
(``keel_runtime.context``) carries W3C trace context between services as before.
"""

from keel_runtime.tracing.provider import TracingSettings, configure, force_flush, shutdown
from keel_runtime.tracing.spans import REQUEST_ID, recording

__all__ = ["REQUEST_ID", "TracingSettings", "configure", "force_flush", "recording", "shutdown"]
