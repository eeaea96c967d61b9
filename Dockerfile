# syntax=docker/dockerfile:1
# One image with the `promenade` binary and its site folder (browser bundle and assets).
#   docker build -t promenade .
#   docker run -p 3000:3000 -v promenade-data:/data promenade

FROM rust:1-bookworm AS build
# Node runs the pinned wasm-opt of tools/ (binaryen from npm, the one `make test` checks
# in a browser); Debian's binaryen breaks the bundles (docs/building.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN cargo install wasm-bindgen-cli --version "=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
COPY tools/package.json tools/package-lock.json tools/
RUN cd tools && npm ci --no-audit --no-fund --loglevel=error
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN cargo xtask build --release

FROM debian:bookworm-slim
# libssl3: git over HTTPS (OpenSSL, trusting ca-certificates plus --ca-file).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 promenade \
 && useradd --system --uid 10001 --gid 10001 --home /data promenade \
 && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /src/target/release/promenade /usr/local/bin/promenade
COPY --from=build /src/target/site-release /usr/share/promenade/site
# Numeric, so Kubernetes' runAsNonRoot can verify it (deploy/kubernetes/).
USER 10001:10001
ENV PROMENADE_ADDR=0.0.0.0:3000 \
    PROMENADE_DATA_DIR=/data \
    LEPTOS_SITE_ROOT=/usr/share/promenade/site \
    PROMENADE_LOG_FORMAT=json
EXPOSE 3000
VOLUME /data
# Asks /healthz on PROMENADE_ADDR, reached on loopback.
HEALTHCHECK --interval=30s --timeout=6s --start-period=30s \
  CMD ["/usr/local/bin/promenade", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/promenade"]
CMD ["serve"]
