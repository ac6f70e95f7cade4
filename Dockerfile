# tfpr's image: a static tfpr, its lean tfpr-worker (what every run starts,
# found beside tfpr) and tfpr-lint (tfpr lint alone, for CI), a pinned
# terraform, git (tfpr mirrors repositories with git) and bubblewrap (each
# terraform run's sandbox with TFPR_EXECUTOR=local), running as a non-root
# user.
#   docker build -t REGISTRY/tfpr:TAG .
# TERRAFORM_VERSION and TERRAFORM_SHA256 pin the binary; change both together
# (the sums are in terraform_<version>_SHA256SUMS on releases.hashicorp.com).
# The image is linux/amd64 (the pinned sum is that zip's).
ARG GO_VERSION=1.26
ARG DEBIAN=bookworm

FROM golang:${GO_VERSION}-${DEBIAN} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tfpr ./cmd/tfpr \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/tfpr-worker ./cmd/tfpr-worker \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/tfpr-lint ./cmd/tfpr-lint

FROM debian:${DEBIAN}-slim AS terraform
ARG TERRAFORM_VERSION=1.11.4
ARG TERRAFORM_SHA256=1ce994251c00281d6845f0f268637ba50c0005657eb3cf096b92f753b42ef4dc
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl unzip && rm -rf /var/lib/apt/lists/*
RUN curl -fsSLo /tmp/terraform.zip "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip" \
 && echo "${TERRAFORM_SHA256}  /tmp/terraform.zip" | sha256sum -c - \
 && unzip -d /out /tmp/terraform.zip terraform

FROM debian:${DEBIAN}-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd -g 65532 tfpr && useradd -u 65532 -g tfpr -d /var/lib/tfpr -s /usr/sbin/nologin tfpr \
 && install -d -o tfpr -g tfpr -m 0700 /var/lib/tfpr
COPY --from=terraform /out/terraform /usr/local/bin/terraform
COPY --from=build /out/tfpr /out/tfpr-worker /out/tfpr-lint /usr/local/bin/
USER 65532:65532
ENV TFPR_DATA_DIR=/var/lib/tfpr TFPR_TERRAFORM_BIN=/usr/local/bin/terraform HOME=/tmp
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tfpr"]
CMD ["server"]
