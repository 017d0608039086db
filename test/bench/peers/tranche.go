package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
	"github.com/tranche-dev/tranche/test/stack"
)

// tranche is Tranche's manager. The threshold variant is the manager the stack runs, with the
// threshold analysis the peers have; the compare variant runs a manager of its own, with the
// Compare judge at its defaults, as a user would pick in Tranche.
type tranche struct {
	ns      string
	compare bool
}

func (t tranche) name() string {
	if t.compare {
		return "tranche-compare"
	}
	return "tranche"
}

func (t tranche) namespace() string { return t.ns }

// userAgent: the manager's requests carry its binary's name, and the compare variant's
// binary is a link named after the variant, so that the audit log tells the two apart.
func (t tranche) userAgent() string { return t.name() + "/" }

// start finds the manager the stack runs for the threshold variant, which watches the
// stack's namespace, and starts one for the compare variant.
func (t tranche) start(ctx context.Context, s *setup) (int, error) {
	if !t.compare {
		return s.stack.ManagerPid(), nil
	}
	manager, err := filepath.Abs(s.stack.Manager)
	if err != nil {
		return 0, err
	}
	binary := filepath.Join(s.dir, t.name())
	if err := os.Symlink(manager, binary); err != nil {
		return 0, err
	}
	log, err := os.Create(filepath.Join(s.dir, t.name()+".log"))
	if err != nil {
		return 0, err
	}
	m := &harness.Manager{Binary: binary, Kubeconfig: s.stack.Kubeconfig, Log: log, Args: []string{
		"--leader-elect=false", "--metrics-bind-address=0", "--namespaces=" + t.ns, "--prometheus-address=" + s.stack.Prometheus.URL(),
	}}
	if err := m.Start(); err != nil {
		return 0, err
	}
	go func() { <-ctx.Done(); _ = m.Stop(); _ = log.Close() }()
	return m.Pid(), nil
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
	metric := trancheapi.Metric{Name: "success-rate", TemplateRef: &trancheapi.NamespacedObjectReference{Name: template.Name}, Min: ptr.To(set.minimum)}
	if t.compare {
		// The same Traefik counters, of the canary and of the primary: their errors and
		// their requests over the window the judge asks.
		template.Name = "errors"
		template.Spec.Query = requestsIn(t.ns, `, code=~"5.."`)
		template.Spec.TotalQuery = requestsIn(t.ns, "")
		metric = trancheapi.Metric{Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Name: template.Name}, Judge: trancheapi.JudgeCompare}
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
				Interval: &metav1.Duration{Duration: set.interval},
				// What the stack's Prometheus does (harness.PrometheusOptions' default): the
				// Compare judge reads its parts no shorter.
				ScrapeInterval: &metav1.Duration{Duration: time.Second},
				FailureLimit:   int32(set.threshold),
				Metrics:        []trancheapi.Metric{metric},
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

// requestsIn is a Compare template's query: the requests Traefik sent the workload's backend of
// the app's HTTPRoute in ns over the judge's window, those matching filter.
func requestsIn(ns, filter string) string {
	series := `traefik_service_requests_total{service=~"httproute-` + ns + `-` + app + `-gw-.+-svc-` + ns + `-{{ .WorkloadService }}-[0-9]+@kubernetesgateway"` + filter + `}`
	return `(sum(` + series + `) or vector(0)) - (sum(` + series + ` offset {{ .Window }}) or vector(0))`
}
