# Builds the binary the way tools/test.sh (CI) does (CGO_ENABLED=1 go build -trimpath ./cmd/neurostream)
# and ships it with the configs, the ONNX models and candidate banks those configs name, and the ONNX
# Runtime library (from the npm package onnxruntime-node, as tools/install-onnxruntime.sh does).
FROM golang:1.26-bookworm AS build
# go.mod's toolchain line: the go command fetches this release from the module proxy.
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/neurostream ./cmd/neurostream

FROM node:20-bookworm-slim AS onnxruntime
WORKDIR /ort
RUN npm pack onnxruntime-node@1.24.3 >/dev/null \
 && tar -xzf onnxruntime-node-1.24.3.tgz package/bin/napi-v6/linux/x64/libonnxruntime.so.1 \
 && mv package/bin/napi-v6/linux/x64/libonnxruntime.so.1 /ort/libonnxruntime.so

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/neurostream /usr/local/bin/neurostream
COPY --from=onnxruntime /ort/libonnxruntime.so /usr/local/lib/libonnxruntime.so
COPY configs /app/configs
COPY decoders/onnx/testdata/*.onnx decoders/onnx/testdata/*.bank.json /app/decoders/onnx/testdata/
WORKDIR /app
ENV NEUROSTREAM_ONNXRUNTIME=/usr/local/lib/libonnxruntime.so
USER 65532:65532
ENTRYPOINT ["neurostream"]
CMD ["--help"]
