package stack

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// AppPort is the port of the apps' Services and the one the demo app listens on in each pod
// (harness.PodApps' default).
const AppPort = 9898

// Image is the demo app's image at a version; the harness runs the version its tag names.
func Image(version string) string { return "tranche.dev/demoapp:" + version }

// App is a Deployment of the demo app at a version, with the app's flags as container args.
func App(ns, name, version string, args ...string) *appsv1.Deployment {
	d := harness.Deployment(ns, name, Image(version))
	d.Spec.Template.Spec.Containers[0].Args = args
	return d
}

// DaemonSetApp is a DaemonSet of the demo app at a version: a pod on every node.
func DaemonSetApp(ns, name, version string, args ...string) *appsv1.DaemonSet {
	ds := harness.DaemonSet(ns, name, Image(version))
	ds.Spec.Template.Spec.Containers[0].Args = args
	return ds
}

// Release changes the app's pod template to a version and flags, as a CI pipeline would. The
// app is a Deployment or, where no Deployment has its name, a DaemonSet.
func Release(ctx context.Context, c client.Client, ns, name, version string, args ...string) error {
	key := client.ObjectKey{Namespace: ns, Name: name}
	var app client.Object = &appsv1.Deployment{}
	err := c.Get(ctx, key, app)
	if apierrors.IsNotFound(err) {
		app = &appsv1.DaemonSet{}
		err = c.Get(ctx, key, app)
	}
	if err != nil {
		return err
	}
	patch := client.MergeFrom(app.DeepCopyObject().(client.Object))
	var container *corev1.Container
	switch a := app.(type) {
	case *appsv1.Deployment:
		container = &a.Spec.Template.Spec.Containers[0]
	case *appsv1.DaemonSet:
		container = &a.Spec.Template.Spec.Containers[0]
	}
	container.Image, container.Args = Image(version), args
	return c.Patch(ctx, app, patch)
}

// Thresholds the canary Rollout judges with; the report draws the error rate it allows.
const (
	MinSuccessPercent = 99.0
	MaxDurationMillis = 500.0
)

// CanaryRollout steps the app through 5%, 50% and 100% of the traffic its hostname gets at
// the stack's Gateway, holding each step for hold, and judges it with Traefik's built-in
// success rate and latency every interval: two failed runs roll it back.
func CanaryRollout(ns, app, hostname string, hold, interval time.Duration) *trancheapi.Rollout {
	step := func(w int32) trancheapi.Step {
		return trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: hold}}
	}
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: app},
			Service:   trancheapi.ServiceSpec{Port: AppPort},
			Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
				ParentRefs: []trancheapi.ParentReference{{Name: Gateway}},
				Hostnames:  []string{hostname},
			}},
			Steps: []trancheapi.Step{step(5), step(50), step(100)},
			Analysis: &trancheapi.Analysis{
				Interval:     &metav1.Duration{Duration: interval},
				FailureLimit: 2,
				Metrics: []trancheapi.Metric{
					{Name: "success-rate", Builtin: trancheapi.BuiltinRequestSuccessRate, Min: ptr.To(MinSuccessPercent)},
					{Name: "latency-p99", Builtin: trancheapi.BuiltinRequestDuration, Max: ptr.To(MaxDurationMillis)},
				},
			},
			ProgressDeadline: &metav1.Duration{Duration: time.Minute},
		},
	}
}

// BlueGreenRollout sends no traffic to the new version (step 0), holds, then switches all of
// it at once (step 100) before promoting.
func BlueGreenRollout(ns, app, hostname string, hold time.Duration) *trancheapi.Rollout {
	ro := CanaryRollout(ns, app, hostname, hold, 0)
	ro.Spec.Analysis = nil
	ro.Spec.Steps = []trancheapi.Step{
		{Weight: ptr.To[int32](0), Hold: &metav1.Duration{Duration: hold}},
		{Weight: ptr.To[int32](100), Hold: &metav1.Duration{Duration: hold}},
	}
	return ro
}

// WaitForPhase polls the Rollout until it is in one of phases, or the time is up.
func WaitForPhase(ctx context.Context, c client.Client, ns, name string, limit time.Duration, phases ...trancheapi.Phase) (*trancheapi.Rollout, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	ro := &trancheapi.Rollout{}
	for {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ro)
		if err == nil {
			for _, p := range phases {
				if ro.Status.Phase == p {
					return ro, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ro, fmt.Errorf("Rollout %s/%s is %s (%q), not %v, after %s", ns, name, ro.Status.Phase, ro.Status.Message, phases, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// IngressRoute routes the requests for hostname at Traefik's web entrypoint to a
// TraefikService, as the traefik provider asks its users to.
func IngressRoute(ns, name, hostname, traefikService string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "traefik.io/v1alpha1",
		"kind":       "IngressRoute",
		"metadata":   map[string]any{"namespace": ns, "name": name},
		"spec": map[string]any{
			"entryPoints": []any{"web"},
			"routes": []any{map[string]any{
				"kind":     "Rule",
				"match":    "Host(`" + hostname + "`)",
				"services": []any{map[string]any{"kind": "TraefikService", "name": traefikService}},
			}},
		},
	}}
}

// TraefikCompareTemplate is a MetricTemplate for a Compare metric of app's Rollout: it counts
// a workload's requests and errors as Traefik counts them for the backendRefs of the
// Rollout's route, since the step began (the counter now less the counter then, as
// docs/analysis.md says to write a Compare template). It is named <app>-errors.
func TraefikCompareTemplate(ns, app string) *trancheapi.MetricTemplate {
	series := `service=~"httproute-{{ .Namespace }}-{{ .Rollout }}-gw-.+-svc-{{ .Namespace }}-{{ .WorkloadService }}-[0-9]+@kubernetesgateway"`
	count := func(selector string) string {
		return strings.NewReplacer("SEL", selector).Replace(
			`sum(traefik_service_requests_total{SEL}) - (sum(traefik_service_requests_total{SEL} offset {{ .Window }}) or vector(0))`)
	}
	return &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app + "-errors"},
		Spec: trancheapi.MetricTemplateSpec{
			Query:      count(series + `, code=~"5.."`),
			TotalQuery: count(series),
		},
	}
}
