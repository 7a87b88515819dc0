# tailtraced image: the same steps as `make build`, on Debian bookworm, in two stages.
#   docker build -t tailtraced .
#   docker run -p 4317:4317 -p 4318:4318 -p 16686:16686 -p 8888:8888 -v tailtrace-data:/var/lib/tailtrace tailtraced
# The config is read from /etc/tailtrace/tailtrace.yaml (mount your own there); data lives in
# /var/lib/tailtrace (a volume).

FROM debian:bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config make \
      protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libabsl-dev \
      librocksdb-dev libzstd-dev liblz4-dev zlib1g-dev libdeflate-dev \
      libspdlog-dev libboost-dev libboost-system-dev libyaml-cpp-dev rapidjson-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAILTRACE_BUILD_TESTS=OFF \
    && cmake --build build --target tailtraced

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 librocksdb7.8 libspdlog1.10 libyaml-cpp0.7 \
      libabsl20220623 libboost-system1.74.0 zlib1g libdeflate0 libssl3 ca-certificates \
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
