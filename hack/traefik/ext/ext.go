// Package ext stands in for Traefik's dynamic configuration extension. Traefik embeds these
// structs into its HTTP configuration and routers; upstream they are empty too, a hook for
// builds that add fields, so empty structs build the same Traefik.
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
