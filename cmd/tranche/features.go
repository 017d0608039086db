package main

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/component-base/featuregate"
)

// client-go reads its feature gates (WatchListClient, say) from environment variables
// KUBE_FEATURE_<name>=true|false, unless the program replaces them with Kubernetes' own gates,
// which read flags alone. Importing k8s.io/kubernetes/pkg/features does that at init, and
// gitops-engine's health package brings it in. clientFeaturesFromEnv gives the variables their
// effect back, so that the manager's client features can be turned off as any client-go
// program's can (WatchListClient against an API server whose streamed lists misbehave).
func clientFeaturesFromEnv(environ []string, gate featuregate.MutableFeatureGate) error {
	known := gate.GetAll()
	settings := map[string]bool{}
	for _, variable := range environ {
		setting, ok := strings.CutPrefix(variable, "KUBE_FEATURE_")
		if !ok {
			continue
		}
		name, value, _ := strings.Cut(setting, "=")
		if _, ok := known[featuregate.Feature(name)]; !ok {
			continue // not a feature of this program, as client-go ignores it
		}
		enabled, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("KUBE_FEATURE_%s=%q: the value must be true or false", name, value)
		}
		settings[name] = enabled
	}
	return gate.SetFromMap(settings)
}
