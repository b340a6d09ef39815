# syntax=docker/dockerfile:1
# crashdiag's container image: `docker build -t localhost/crashdiag:0.1.0 .` (the name the
# manifests run). Without Docker, scripts/build-image.sh builds the same runtime image as an OCI
# archive, from this file's package list and the same release build.
#
# Two stages. The build stage is the project's own Debian 12 toolchain (scripts/install-deps.sh,
# the same packages CI uses); the runtime stage is bookworm-slim with only the shared libraries the
# binary links, so the binary runs against exactly the library versions it was built with.
# tests/ship/dockerfile_libs_test.sh checks the runtime package list against `ldd` of the binary.

FROM debian:bookworm AS build
WORKDIR /src
# Dependencies first: this layer is reused until install-deps.sh itself changes.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# The rule packs and the CRD are embedded in the binary, so /out holds the binary alone.
RUN scripts/build-release.sh /out build-release

FROM debian:bookworm-slim
# Exactly the libraries `ldd crashdiag` resolves, as Debian packages (libc6, libgcc-s1 and
# libstdc++6 are in the base image already: apt depends on them). No shell tools, no
# ca-certificates: in a cluster the API server's CA comes with the ServiceAccount token.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libfmt9 \
      libprometheus-cpp-core1.0 \
      libre2-9 \
      libsimdjson14 \
      libspdlog1.10 \
      libssl3 \
      libyaml-cpp0.7 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
# 65532 is the conventional "nonroot" uid/gid (distroless); the Deployment's securityContext
# asks for the same, and runAsNonRoot can verify a numeric USER.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/crashdiag"]
CMD ["run"]
