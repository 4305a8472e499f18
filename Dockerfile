# The flowstate container image: a Rust builder stage, then a slim Debian runtime that runs the
# daemon as an unprivileged user on /etc/flowstate/flowstate.yaml, keeps its state on a volume,
# and checks itself with `flowstate health` (no curl in the image).
#
#   docker build -t flowstate .
#   docker run -d --name flowstate -p 9900:9900 \
#       -v "$PWD/flowstate:/etc/flowstate:ro" -v flowstate-state:/var/lib/flowstate \
#       flowstate
#
# Mount the directory that holds flowstate.yaml, never the file alone: editors save by
# replacing the file, and a single-file bind mount keeps showing the old one, so the daemon
# never sees the edit.
#
# docs/deployment.md explains every choice; tests/deploy.rs checks that every COPY source
# exists and that the binary built the same way runs the default config and answers /healthz.
# The steps are plain (no BuildKit-only syntax), so any builder runs them.

FROM rust:1.95-bookworm AS builder
WORKDIR /src

# Dependencies first, in a layer of their own: the workspace's manifests and lock file with
# empty sources. Editing flowstate's code rebuilds only the layers below this one.
COPY Cargo.toml Cargo.lock ./
COPY config/Cargo.toml config/Cargo.toml
COPY actors/Cargo.toml actors/Cargo.toml
COPY plugin/Cargo.toml plugin/Cargo.toml
RUN mkdir -p src config/src actors/src plugin/src benches tests \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > benches/load.rs \
    && touch config/src/lib.rs actors/src/lib.rs plugin/src/lib.rs tests/main.rs \
    && cargo build --release --locked \
    && rm -rf src config/src actors/src plugin/src

# Then flowstate itself. `touch` makes cargo see the sources as newer than the placeholders it
# built above, whatever times the build context carried.
COPY config/src config/src
COPY actors/src actors/src
COPY plugin/src plugin/src
COPY src src
RUN touch config/src/lib.rs actors/src/lib.rs plugin/src/lib.rs src/main.rs \
    && cargo build --release --locked \
    && ./target/release/flowstate --version

FROM debian:bookworm-slim

# tini as PID 1: it forwards SIGTERM to flowstate and reaps the orphans that script checks and
# command notifiers may leave. ca-certificates for scripts that use TLS themselves (flowstate's
# own HTTPS checks carry their roots).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 flowstate \
    && useradd --system --uid 10001 --gid flowstate --home-dir /var/lib/flowstate \
        --shell /usr/sbin/nologin flowstate \
    && mkdir -p /etc/flowstate /var/lib/flowstate \
    && chown flowstate:flowstate /var/lib/flowstate

COPY --from=builder /src/target/release/flowstate /usr/local/bin/flowstate
# The default configuration: replace it with a mounted file or directory.
COPY deploy/docker/flowstate.yaml /etc/flowstate/flowstate.yaml

# Every subcommand finds the configuration here (`docker exec flowstate flowstate check`).
ENV FLOWSTATE_CONFIG=/etc/flowstate/flowstate.yaml

# A numeric user, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# state.path of the default configuration lives here.
VOLUME ["/var/lib/flowstate"]
# The API, /metrics, /healthz and /readyz (server.listen: 0.0.0.0:9900 in the config).
EXPOSE 9900
# flowstate stops cleanly on SIGTERM: checks in flight finish, alerts are saved, exit 0.
STOPSIGNAL SIGTERM
# The binary itself asks /healthz; set FLOWSTATE_API if server.listen uses another port.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["flowstate", "health", "--timeout", "5s"]

ENTRYPOINT ["/usr/bin/tini", "--", "flowstate"]
CMD ["run", "-c", "/etc/flowstate/flowstate.yaml"]
