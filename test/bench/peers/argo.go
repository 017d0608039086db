package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/test/stack"
)

// argoVersion is the release hack/build-peers.sh builds (ARGO_ROLLOUTS_VERSION).
var argoVersion = envOr("ARGO_ROLLOUTS_VERSION", "v1.10.2")

// argo is Argo Rollouts' controller, with the traffic routing it has for Traefik built in: a
// TraefikService it weights between the stable and the canary Service, behind an IngressRoute
// (its Gateway API routing is a plugin it downloads at run time, which cannot be had here).
// Its Rollout takes the app's Deployment by workloadRef, as a user adopting it would.
// Closest equivalents of the settings: a background analysis from the first step whose metric
// is measured every interval and fails past failureLimit = threshold - 1 failed measurements,
// and steps setWeight then a pause of one interval, for each weight.
type argo struct{ ns string }

func (a argo) name() string      { return "argo-rollouts" }
func (a argo) namespace() string { return a.ns }
func (a argo) userAgent() string { return "rollouts-controller/" }

func (a argo) start(ctx context.Context, s *setup) (int, error) {
	return startPeer(ctx, s, a.name(), filepath.Join("argo-rollouts-"+argoVersion, "rollouts-controller"), 2, func(ports []string) []string {
		return []string{"--kubeconfig=" + s.stack.Kubeconfig, "--namespaced", "--namespace=" + a.ns, "--leader-elect=false",
			"--metricsPort=" + ports[1], "--healthzPort=" + ports[0], "--loglevel=info"}
	})
}

func (a argo) deploy(ctx context.Context, s *setup) error {
	set := s.settings
	var steps []any
	for _, w := range set.weights {
		steps = append(steps,
			map[string]any{"setWeight": int64(w)},
			map[string]any{"pause": map[string]any{"duration": seconds(set.interval)}})
	}
	service := func(name string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: name},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{
				{Name: "http", Port: stack.AppPort, TargetPort: intstr.FromInt32(stack.AppPort)},
			}},
		}
	}
	// nativeLB: Traefik sends to the Service's ClusterIP (where the stack serves it) rather
	// than to pod IPs; its nativeLBByDefault does not reach a weighted TraefikService's.
	backend := func(name string, weight int64) map[string]any {
		return map[string]any{"name": name, "port": int64(stack.AppPort), "weight": weight, "nativeLB": true}
	}
	canarySeries := `service=~"` + a.ns + `-` + app + `-canary-[0-9]+@kubernetescrd"`
	objects := []client.Object{
		service(app + "-stable"), service(app + "-canary"),
		object("traefik.io/v1alpha1", "TraefikService", a.ns, app, map[string]any{
			"weighted": map[string]any{"services": []any{backend(app+"-stable", 100), backend(app+"-canary", 0)}},
		}),
		stack.IngressRoute(a.ns, app, host(a), app),
		object("argoproj.io/v1alpha1", "AnalysisTemplate", a.ns, "success-rate", map[string]any{
			"metrics": []any{map[string]any{
				"name": "success-rate", "interval": seconds(set.interval), "failureLimit": int64(set.threshold - 1),
				"successCondition": "result[0] >= " + strconv.FormatFloat(set.minimum, 'f', -1, 64),
				"provider": map[string]any{"prometheus": map[string]any{
					"address": s.stack.Prometheus.URL(), "query": successRate(canarySeries, set.interval),
				}},
			}},
		}),
		object("argoproj.io/v1alpha1", "Rollout", a.ns, app, map[string]any{
			"replicas":    int64(2),
			"selector":    map[string]any{"matchLabels": map[string]any{"app": app}},
			"workloadRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "scaleDown": "onsuccess"},
			"strategy": map[string]any{"canary": map[string]any{
				"stableService": app + "-stable", "canaryService": app + "-canary",
				"trafficRouting": map[string]any{"traefik": map[string]any{"weightedTraefikServiceName": app}},
				"analysis":       map[string]any{"templates": []any{map[string]any{"templateName": "success-rate"}}, "startingStep": int64(1)},
				"steps":          steps,
			}},
		}),
	}
	c := s.stack.ControlPlane.Client
	for _, obj := range objects {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	return nil
}

func (a argo) rollout(ctx context.Context, s *setup) (*unstructured.Unstructured, error) {
	ro := &unstructured.Unstructured{}
	ro.SetAPIVersion("argoproj.io/v1alpha1")
	ro.SetKind("Rollout")
	err := s.stack.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: app}, ro)
	return ro, err
}

func (a argo) ready(ctx context.Context, s *setup) (bool, error) {
	ro, err := a.rollout(ctx, s)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil && nestedString(ro, "status.phase") == "Healthy", err
}

// ended: Healthy on the release's pod template is promoted; Degraded, aborted.
func (a argo) ended(ctx context.Context, s *setup) (bool, bool, error) {
	ro, err := a.rollout(ctx, s)
	if err != nil {
		return false, false, err
	}
	phase := nestedString(ro, "status.phase")
	current := nestedString(ro, "status.currentPodHash")
	promoted := phase == "Healthy" && current != "" && current == nestedString(ro, "status.stableRS")
	return promoted || phase == "Degraded", promoted, nil
}
