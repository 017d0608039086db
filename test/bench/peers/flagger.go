package main

import (
	"context"
	"fmt"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/test/stack"
)

// flaggerVersion is the release hack/build-peers.sh builds (FLAGGER_VERSION).
var flaggerVersion = envOr("FLAGGER_VERSION", "v1.44.0")

// flagger is Flagger's controller with its Gateway API provider: the same HTTPRoute through
// the same Gateway as Tranche's. Closest equivalents of the settings: analysis.interval is
// the interval, analysis.threshold the failed runs that roll back, analysis.stepWeights the
// steps (Flagger promotes once the last has passed a run), and the metric's thresholdRange.min
// the success rate a run needs.
type flagger struct{ ns string }

func (f flagger) name() string      { return "flagger" }
func (f flagger) namespace() string { return f.ns }
func (f flagger) userAgent() string { return "flagger/" }

func (f flagger) start(ctx context.Context, s *setup) (int, error) {
	return startPeer(ctx, s, f.name(), filepath.Join("flagger-"+flaggerVersion, "flagger"), 1, func(ports []string) []string {
		return []string{"-kubeconfig=" + s.stack.Kubeconfig, "-mesh-provider=gatewayapi:v1", "-namespace=" + f.ns,
			"-metrics-server=" + s.stack.Prometheus.URL(), "-port=" + ports[0], "-log-level=info"}
	})
}

func (f flagger) deploy(ctx context.Context, s *setup) error {
	set := s.settings
	weights := make([]any, len(set.weights))
	for i, w := range set.weights {
		weights[i] = int64(w)
	}
	template := object("flagger.app/v1beta1", "MetricTemplate", f.ns, "success-rate", map[string]any{
		"provider": map[string]any{"type": "prometheus", "address": s.stack.Prometheus.URL()},
		"query":    successRate(httpRouteCanary(f.ns), set.interval),
	})
	canary := object("flagger.app/v1beta1", "Canary", f.ns, app, map[string]any{
		"provider":  "gatewayapi:v1",
		"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
		"service": map[string]any{
			"port": int64(stack.AppPort), "targetPort": int64(stack.AppPort),
			"hosts":       []any{host(f)},
			"gatewayRefs": []any{map[string]any{"name": stack.Gateway, "namespace": s.stack.Namespace}},
		},
		"analysis": map[string]any{
			"interval": seconds(set.interval), "threshold": int64(set.threshold), "stepWeights": weights,
			"metrics": []any{map[string]any{
				"name": "success-rate", "templateRef": map[string]any{"name": "success-rate"},
				"thresholdRange": map[string]any{"min": set.minimum}, "interval": seconds(set.interval),
			}},
		},
	})
	c := s.stack.ControlPlane.Client
	for _, obj := range []client.Object{template, canary} {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating Flagger's %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, err)
		}
	}
	return nil
}

func (f flagger) phase(ctx context.Context, s *setup) (string, error) {
	canary := &unstructured.Unstructured{}
	canary.SetAPIVersion("flagger.app/v1beta1")
	canary.SetKind("Canary")
	err := s.stack.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: app}, canary)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	return nestedString(canary, "status.phase"), err
}

func (f flagger) ready(ctx context.Context, s *setup) (bool, error) {
	phase, err := f.phase(ctx, s)
	return phase == "Initialized", err
}

func (f flagger) ended(ctx context.Context, s *setup) (bool, bool, error) {
	phase, err := f.phase(ctx, s)
	return phase == "Succeeded" || phase == "Failed", phase == "Succeeded", err
}
