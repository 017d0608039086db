// Package registry lists the traffic providers this build of Tranche has. It lives apart
// from package providers because it imports every provider package, and they import that one.
package registry

import (
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/istio"
	"github.com/tranche-dev/tranche/providers/kubernetes"
	"github.com/tranche-dev/tranche/providers/linkerd"
	"github.com/tranche-dev/tranche/providers/nginx"
	"github.com/tranche-dev/tranche/providers/smi"
	"github.com/tranche-dev/tranche/providers/traefik"
)

// Default returns the registry of every provider that exists, keyed by the JSON name of its
// field in spec.provider (see providers.Name). It is an explicit map, so that what a build
// supports can be read here; a Rollout naming any other provider gets
// providers.ErrUnknownProvider. The map is new on every call, so a caller (a test) may add to it.
func Default() providers.Registry {
	return providers.Registry{
		"gatewayAPI": gatewayapi.New,
		"istio":      istio.New,
		"kubernetes": kubernetes.New,
		"linkerd":    linkerd.New,
		"nginx":      nginx.New,
		"smi":        smi.New,
		"traefik":    traefik.New,
	}
}
