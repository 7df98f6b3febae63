# Helios in a container: `docker build -t helios .`, or `docker-compose up -d`
# for the seed's three-node cluster (docker-compose.yml, build: .).
#
# Stage 1 builds both binaries with the pinned toolchain; stage 2 is Debian
# slim with only them, run as an unprivileged user. The image's default
# command is a standalone node; the compose file gives each service its Raft
# flags. The health check asks the node itself (helios-ctl health --local):
# a standalone node must answer, a Raft node must also know a leader and
# apply what it commits.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p helios-atlasd -p helios-ctl

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home helios \
    && mkdir -p /data /app && chown helios:helios /data
COPY --from=build /src/target/release/helios-atlasd /src/target/release/helios-ctl /app/
USER helios
WORKDIR /data
VOLUME /data
# 6379 clients (RESP), 7000 Raft, 8443 HTTP gateway, 9090 metrics (the last
# two only when configured).
EXPOSE 6379 7000 8443 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/app/helios-ctl", "health", "--local", "--endpoints", "127.0.0.1:6379", "--timeout", "3s", "-q"]
CMD ["/app/helios-atlasd", "-data-dir=/data", "-listen=:6379"]
