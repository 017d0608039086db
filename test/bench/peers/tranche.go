package main

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// tranche is Tranche's manager, the one the stack runs, with the threshold analysis the peers
// have.
type tranche struct{ ns string }

func (t tranche) name() string      { return "tranche" }
func (t tranche) namespace() string { return t.ns }
func (t tranche) userAgent() string { return "tranche/" }

// start finds the manager the stack runs: it watches the stack's namespace.
func (t tranche) start(_ context.Context, s *setup) (int, error) {
	return s.stack.ManagerPid(), nil
}

func (t tranche) deploy(ctx context.Context, s *setup) error {
	c := s.stack.ControlPlane.Client
	set := s.settings
	template := &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: "success-rate"},
		Spec: trancheapi.MetricTemplateSpec{
			Query:      successRate(httpRouteCanary(t.ns), set.interval),
			Prometheus: &trancheapi.PrometheusSource{Address: s.stack.Prometheus.URL()},
		},
	}
	var steps []trancheapi.Step
	for _, w := range set.weights {
		steps = append(steps, trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: set.interval}})
	}
	ro := &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: app},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: app},
			Service:   trancheapi.ServiceSpec{Port: stack.AppPort},
			Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
				ParentRefs: []trancheapi.ParentReference{{Name: stack.Gateway, Namespace: ptr.To(s.stack.Namespace)}},
				Hostnames:  []string{host(t)},
			}},
			Steps: steps,
			Analysis: &trancheapi.Analysis{
				Interval:     &metav1.Duration{Duration: set.interval},
				FailureLimit: int32(set.threshold),
				Metrics: []trancheapi.Metric{{
					Name: "success-rate", TemplateRef: &trancheapi.NamespacedObjectReference{Name: template.Name}, Min: ptr.To(set.minimum),
				}},
			},
		},
	}
	for _, obj := range []client.Object{template, ro} {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s: %w", obj.GetName(), err)
		}
	}
	return nil
}

func (t tranche) rollout(ctx context.Context, s *setup) (*trancheapi.Rollout, error) {
	ro := &trancheapi.Rollout{}
	return ro, s.stack.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: app}, ro)
}

func (t tranche) ready(ctx context.Context, s *setup) (bool, error) {
	ro, err := t.rollout(ctx, s)
	return err == nil && ro.Status.Phase == trancheapi.PhaseInitialized, client.IgnoreNotFound(err)
}

func (t tranche) ended(ctx context.Context, s *setup) (bool, bool, error) {
	ro, err := t.rollout(ctx, s)
	if err != nil {
		return false, false, err
	}
	switch ro.Status.Phase {
	case trancheapi.PhaseSucceeded:
		return true, true, nil
	case trancheapi.PhaseFailed:
		return true, false, nil
	}
	return false, false, nil
}
