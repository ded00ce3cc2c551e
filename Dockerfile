# One image for the operator, the CSI driver and the approver:
#   csi-driver-spiffe operator | driver | approver
#
# Build: make docker-build IMG=<registry>/csi-driver-spiffe-operator:<tag>

FROM golang:1.26-bookworm AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=0.1.0

WORKDIR /workspace
# Cache dependencies before copying the sources.
COPY go.mod go.mod
COPY go.sum go.sum
RUN go mod download

COPY main.go main.go
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY driver/ driver/
COPY approver/ approver/
COPY internal/ internal/

# The same command as `make build` (a test keeps them equal).
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X github.com/cert-manager/csi-driver-spiffe-operator/internal/version.Version=v${VERSION}" -o bin/csi-driver-spiffe .

# The runtime image is empty but for the one static binary (hack/buildimage
# builds the same image without Docker: `make image`; test/packaging keeps the
# two equal). No shell, no C library, no mount binaries:
# - the driver mounts its tmpfs, bind-mounts volumes into pods and unmounts
#   them with the mount(2) and umount(2) system calls (driver/mount.go), and
#   detects mount points with k8s.io/mount-utils, which reads
#   /proc/self/mountinfo. It never runs mount-utils' Mount/Unmount, which
#   exec /bin/mount and /bin/umount, nor mount.New, which execs umount to
#   probe its behaviour: nothing in the binary execs a program;
# - every TLS connection goes to the API server, verified with the
#   ServiceAccount's CA file, so no CA certificates are needed;
# - USER is numeric, so no /etc/passwd is needed either.
FROM scratch
ARG VERSION=0.1.0
COPY --from=builder /workspace/bin/csi-driver-spiffe /usr/local/bin/csi-driver-spiffe

LABEL org.opencontainers.image.title="csi-driver-spiffe" \
      org.opencontainers.image.description="SPIFFE X.509 SVIDs for every pod, through cert-manager: operator, CSI driver and approver" \
      org.opencontainers.image.source="https://github.com/cert-manager/csi-driver-spiffe-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="cert-manager community" \
      org.opencontainers.image.version="${VERSION}"

# Non-root by default: the operator and the approver run as this user. The
# driver's DaemonSet overrides it with runAsUser 0, as mounting requires.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/csi-driver-spiffe"]
