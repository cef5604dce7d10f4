# Tandem images, all on Debian bookworm-slim (compose.yaml builds each
# target). The build stage compiles both programs; each runtime stage holds
# only its binaries plus the Debian packages of their shared libraries,
# and runs as the unprivileged user "tandem" (uid 10001).
#
#   docker build --target rest     -t tandem-rest .
#   docker build --target notifier -t tandem-notifier .
#   docker build --target web      -t tandem-web .

ARG DEBIAN=debian:bookworm-slim

# --- build ---------------------------------------------------------------------
FROM ${DEBIAN} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libfcgi-dev libhiredis-dev libjson-c-dev libwebsockets-dev libuv1-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the two programs are built from (see .dockerignore).
COPY Makefile ./
COPY shared/ shared/
COPY rest-fcgi/ rest-fcgi/
COPY notifier/ notifier/
COPY tests/module.mk tests/module.mk
RUN make -j"$(nproc)" build/tandem-rest build/tandem-notifier \
 && strip build/tandem-rest build/tandem-notifier

# --- common runtime base ---------------------------------------------------------
FROM ${DEBIAN} AS runtime
RUN groupadd --system --gid 10001 tandem \
 && useradd --system --uid 10001 --gid tandem --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tandem
COPY docker/healthcheck.sh /usr/local/bin/tandem-healthcheck
RUN chmod 0755 /usr/local/bin/tandem-healthcheck

# --- REST workers: spawn-fcgi + tandem-rest on TCP 9000 ----------------------------
FROM runtime AS rest
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      spawn-fcgi libfcgi-bin libfcgi0ldbl libhiredis0.14 libjson-c5 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/tandem-rest /usr/local/bin/tandem-rest
USER tandem
EXPOSE 9000
# spawn-fcgi -n opens the socket and execs tandem-rest on it (fd 0), so
# tandem-rest itself gets SIGTERM and finishes the requests in flight.
CMD ["spawn-fcgi", "-n", "-a", "0.0.0.0", "-p", "9000", "--", "/usr/local/bin/tandem-rest"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["tandem-healthcheck", "fcgi", "127.0.0.1:9000"]

# --- notifier ------------------------------------------------------------------------
FROM runtime AS notifier
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libwebsockets17 libuv1 libhiredis0.14 libjson-c5 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/tandem-notifier /usr/local/bin/tandem-notifier
USER tandem
ENV TANDEM_WS_LISTEN=0.0.0.0:8081
EXPOSE 8081
CMD ["/usr/local/bin/tandem-notifier"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["tandem-healthcheck", "http", "127.0.0.1:8081", "/healthz"]

# --- nginx: the demo page, /api (FastCGI to rest), /ws (proxy to notifier) ----------
FROM runtime AS web
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /tmp/nginx && chown tandem:tandem /tmp/nginx
COPY nginx/docker.conf.in /etc/tandem/nginx.conf.in
COPY nginx/tandem-errors.conf /etc/tandem/tandem-errors.conf
COPY nginx/tandem-maps.conf /etc/tandem/tandem-maps.conf
COPY nginx/cors-map.sh /etc/tandem/cors-map.sh
COPY docker/nginx-entrypoint.sh /usr/local/bin/tandem-nginx
COPY web/demo/ /srv/tandem/web/demo/
COPY web/tandem.js /srv/tandem/web/tandem.js
RUN chmod 0755 /usr/local/bin/tandem-nginx
USER tandem
EXPOSE 8080
CMD ["tandem-nginx"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["tandem-healthcheck", "http", "127.0.0.1:8080", "/api/v1/_health"]
