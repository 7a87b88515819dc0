# tailtraced image: the same steps as `make build`, on Debian bookworm, in three stages (the web UI,
# the daemon with the UI built in, the image that runs it).
#   docker build -t tailtraced .
#   docker run -p 4317:4317 -p 4318:4318 -p 16686:16686 -p 8888:8888 -v tailtrace-data:/var/lib/tailtrace tailtraced
# The config is read from /etc/tailtrace/tailtrace.yaml (mount your own there); data lives in
# /var/lib/tailtrace (a volume).

# The web UI (ui/), built with Debian's nodejs and npm. Its build tool (Vite) needs Node.js 20.19 or
# later: Debian 13 (trixie) has it, bookworm has 18. The built files go into the binary below
# (-DTAILTRACE_UI_DIST); the final image has no Node.js.
FROM debian:trixie AS ui
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY ui/ ./
RUN npm run --silent build -- --outDir /src/ui-dist --emptyOutDir

FROM debian:bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config make \
      protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libabsl-dev \
      librocksdb-dev libzstd-dev liblz4-dev zlib1g-dev libdeflate-dev libjemalloc-dev \
      libspdlog-dev libboost-dev libboost-system-dev libyaml-cpp-dev rapidjson-dev libssl-dev \
      libsimdjson-dev libre2-dev libcli11-dev libbenchmark-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=ui /src/ui-dist /src/ui-dist
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAILTRACE_BUILD_TESTS=OFF \
      -DTAILTRACE_UI_DIST=/src/ui-dist \
    && cmake --build build --target tailtraced

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 librocksdb7.8 libspdlog1.10 libyaml-cpp0.7 \
      libabsl20220623 libboost-system1.74.0 zlib1g libdeflate0 liblz4-1 libjemalloc2 libssl3 libre2-9 \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/tailtrace --shell /usr/sbin/nologin tailtrace \
    && mkdir -p /var/lib/tailtrace /etc/tailtrace && chown tailtrace:tailtrace /var/lib/tailtrace
COPY --from=build /src/build/daemon/tailtraced /usr/local/bin/tailtraced
# Binds 0.0.0.0 explicitly (the built-in defaults are localhost); see the file for TLS and tokens.
COPY deploy/docker/tailtrace.yaml /etc/tailtrace/tailtrace.yaml
WORKDIR /var/lib/tailtrace
USER tailtrace
VOLUME ["/var/lib/tailtrace"]
EXPOSE 4317 4318 16686 8888
HEALTHCHECK CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8888"]
ENTRYPOINT ["/usr/local/bin/tailtraced"]
CMD ["--config", "/etc/tailtrace/tailtrace.yaml"]
