// Stands in for Traefik's nested module github.com/traefik/traefik/dynamic/ext, which is not in
// Traefik's module zip and which the Go module proxy does not serve.
module github.com/traefik/traefik/dynamic/ext

go 1.26.0
