# The manager's image. Build: docker build -t ghcr.io/tranche-dev/tranche:dev .
FROM golang:1.27 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY analysis/ analysis/
COPY controllers/ controllers/
COPY cmd/ cmd/
COPY notify/ notify/
COPY providers/ providers/
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /tranche ./cmd/tranche

FROM gcr.io/distroless/static:nonroot
COPY --from=build /tranche /tranche
USER 65532:65532
ENTRYPOINT ["/tranche"]
