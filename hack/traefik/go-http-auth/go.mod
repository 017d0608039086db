// abbot/go-http-auth v0.4.0 has no go.mod; the build copies this one beside its sources so that
// the copy can replace the Traefik fork, whose zip the Go module proxy refuses. The packages it
// imports (golang.org/x/crypto, golang.org/x/net) come at the versions Traefik requires.
module github.com/abbot/go-http-auth

go 1.21
