package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/registry"
	"github.com/tranche-dev/tranche/test/harness"
)

// Images of the demo app the tests release. The traffic generator gives a canary running
// badImage 30% errors.
const (
	goodImage  = "podinfo:6.0.0"
	goodImage2 = "podinfo:6.1.0"
	goodImage3 = "podinfo:6.2.0"
	badImage   = "podinfo:6.1.0-bad"
)

// errorRateQuery is the percent of the canary's requests answered with a 5xx, from the test
// exporter's counters as the real Prometheus scraped them. The window spans five scrapes
// rather than one analysis interval: rate needs two samples in it, and on a busy machine a
// late scrape would otherwise leave one and read as no data.
const errorRateQuery = `100 * (sum(rate(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .Canary }}-canary", code=~"5.."}[5s])) or vector(0))
  / sum(rate(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .Canary }}-canary"}[5s]))`

// canaryRollout is a Gateway API canary over 5/50/100 with short holds, judged by the error
// rate from the given Prometheus.
func canaryRollout(ns string) *trancheapi.Rollout {
	step := func(w int32) trancheapi.Step {
		return trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: 2 * time.Second}}
	}
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
				ParentRefs: []trancheapi.ParentReference{{Name: "public"}},
			}},
			Steps: []trancheapi.Step{step(5), step(50), step(100)},
			Analysis: &trancheapi.Analysis{
				Interval:     &metav1.Duration{Duration: 2 * time.Second},
				FailureLimit: 2,
				Metrics: []trancheapi.Metric{{
					Name: "error-rate", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "error-rate"}, Max: ptr.To(5.0),
				}},
			},
			ProgressDeadline: &metav1.Duration{Duration: time.Minute},
			ScaleDownDelay:   &metav1.Duration{Duration: scaleDownDelay},
		},
	}
}

// scaleDownDelay is the scenarios' wait before the canary is scaled down: short, to keep
// them quick, and long enough to see.
const scaleDownDelay = 3 * time.Second

// engineEnv is one scenario's namespace with its target, template and traffic.
type engineEnv struct {
	t       testing.TB
	ns      string
	ro      *trancheapi.Rollout
	weights *weightLog
	traffic *servedTraffic
}

// startScenario creates the target, the error-rate template on prom and the Rollout, starts
// traffic and a recorder of the route's weights, and waits until the Rollout is Initialized.
func startScenario(t testing.TB, prom *harness.Prometheus, exporter *harness.Exporter, ro *trancheapi.Rollout) *engineEnv {
	t.Helper()
	return startScenarioAt(t, prom.URL(), exporter, ro)
}

// startScenarioAt is startScenario with the template asking the Prometheus at address.
func startScenarioAt(t testing.TB, address string, exporter *harness.Exporter, ro *trancheapi.Rollout) *engineEnv {
	t.Helper()
	return startScenarioWith(t, address, exporter, ro, harness.Deployment(ro.Namespace, ro.Spec.TargetRef.Name, goodImage))
}

// startScenarioWith is startScenarioAt with a target of the test's own, a Deployment or a
// DaemonSet.
func startScenarioWith(t testing.TB, address string, exporter *harness.Exporter, ro *trancheapi.Rollout, target client.Object) *engineEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := ro.Namespace
	require.NoError(t, cp.Client.Create(ctx, target))
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "error-rate"},
		Spec: trancheapi.MetricTemplateSpec{
			Prometheus: &trancheapi.PrometheusSource{Address: address},
			Query:      errorRateQuery,
		},
	}))
	require.NoError(t, cp.Client.Create(ctx, ro))
	env := &engineEnv{t: t, ns: ns, ro: ro, weights: &weightLog{}, traffic: &servedTraffic{}}
	for _, m := range ro.Spec.Analysis.Metrics {
		if m.Judge == trancheapi.JudgeCompare {
			env.traffic.compare = rand.New(rand.NewPCG(1, 2))
		}
	}
	go env.traffic.run(ctx, exporter, ns, ro.Name, ro.Spec.TargetRef)
	harness.WatchCanaryWeight(ctx, watcher, ns, ro.Name, env.weights.add)
	env.waitForPhase(trancheapi.PhaseInitialized, 30*time.Second)
	return env
}

// release changes the target's image, as a commit in Git would.
func (e *engineEnv) release(image string) { e.t.Helper(); e.releaseWith(image, "") }

// releaseWith changes the target's image and what kwok makes of its pods
// (harness.PodBehaviourAnnotation; "" is a pod that becomes ready).
func (e *engineEnv) releaseWith(image, behaviour string) {
	e.t.Helper()
	key := types.NamespacedName{Namespace: e.ns, Name: e.ro.Spec.TargetRef.Name}
	require.NoError(e.t, retryUpdateWorkload(e.ro.Spec.TargetRef.Kind, key, func(obj client.Object) {
		template := podTemplate(obj)
		template.Spec.Containers[0].Image = image
		harness.SetPodBehaviour(template, behaviour)
	}))
}

func (e *engineEnv) annotate(key, value string) {
	e.t.Helper()
	ro := &trancheapi.Rollout{}
	require.NoError(e.t, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(e.ro), ro))
	patch := client.MergeFrom(ro.DeepCopy())
	if ro.Annotations == nil {
		ro.Annotations = map[string]string{}
	}
	ro.Annotations[key] = value
	require.NoError(e.t, cp.Client.Patch(context.Background(), ro, patch))
}

// get reads the Rollout as it is now.
func (e *engineEnv) get() *trancheapi.Rollout {
	e.t.Helper()
	ro := &trancheapi.Rollout{}
	require.NoError(e.t, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(e.ro), ro))
	return ro
}

// waitForPhase waits until the Rollout reaches phase, failing at once if it ends in another
// terminal phase.
func (e *engineEnv) waitForPhase(phase trancheapi.Phase, limit time.Duration) *trancheapi.Rollout {
	e.t.Helper()
	var last *trancheapi.Rollout
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		last = e.get()
		if last.Status.Phase == phase {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Failf(e.t, "phase not reached", "want %s within %s; last status: phase %s, step %d, weight %d, message %q; weights seen %v",
		phase, limit, last.Status.Phase, last.Status.CurrentStep, last.Status.CanaryWeight, last.Status.Message, e.weights.list())
	return nil
}

// waitForWeight waits until the routing object sends w percent to the canary.
func (e *engineEnv) waitForWeight(w int32, limit time.Duration) {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		got, ok := harness.RoutedCanaryWeight(context.Background(), cp.Client, e.ns, e.ro.Name)
		seen := e.weights.list()
		// The weight log sees the change a moment later (a watch event, a poll): wait for it too.
		return ok && got == w && len(seen) > 0 && seen[len(seen)-1] == w
	}, limit, 20*time.Millisecond, "canary weight %d not reached; seen %v", w, e.weights.list())
}

func (e *engineEnv) deployment(name string) *appsv1.Deployment {
	e.t.Helper()
	d := &appsv1.Deployment{}
	require.NoError(e.t, cp.Client.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: name}, d))
	return d
}

// assertPrimaryOnly checks the world at rest after a rollback or promotion: the data plane
// sends everything to the primary, which runs image, and the target is scaled to zero.
func (e *engineEnv) assertPrimaryOnly(image string) {
	e.t.Helper()
	target := e.ro.Spec.TargetRef.Name
	require.Eventually(e.t, func() bool {
		w, ok := harness.RoutedCanaryWeight(context.Background(), cp.Client, e.ns, e.ro.Name)
		return ok && w == 0 && ptr.Deref(e.deployment(target).Spec.Replicas, 1) == 0
	}, 10*time.Second, 50*time.Millisecond, "routes back on the primary and the canary scaled to zero")
	assert.Equal(e.t, image, e.deployment(target + trancheapi.PrimarySuffix).Spec.Template.Spec.Containers[0].Image)
}

// reconcileNow reconciles the Rollout once, beside the running controller and reading the
// API server directly, and returns when the reconciler asked to look again and the events it
// recorded: what the controller decides now, and whether anything is due before the world
// changes. Call it when the Rollout is at rest: the running controller writes nothing then.
func (e *engineEnv) reconcileNow() (ctrl.Result, []string) {
	e.t.Helper()
	recorder := events.NewFakeRecorder(16)
	r := &RolloutReconciler{Client: cp.Client, Recorder: recorder, Providers: registry.Default(), Now: time.Now, PrometheusAddress: prom.URL()}
	result, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(e.ro)})
	require.NoError(e.t, err)
	var said []string
	for len(recorder.Events) > 0 {
		said = append(said, <-recorder.Events)
	}
	return result, said
}

func retryUpdate(key types.NamespacedName, mutate func(*appsv1.Deployment)) error {
	return retryUpdateWorkload(trancheapi.KindDeployment, key, func(obj client.Object) { mutate(obj.(*appsv1.Deployment)) })
}

// retryUpdateWorkload updates a workload of the kind, as a person would: read, change,
// write, and again on a conflict.
func retryUpdateWorkload(kind string, key types.NamespacedName, mutate func(client.Object)) error {
	var err error
	for range 10 {
		obj := newWorkload(kind)
		if err = cp.Client.Get(context.Background(), key, obj); err != nil {
			return err
		}
		mutate(obj)
		if err = cp.Client.Update(context.Background(), obj); err == nil {
			return nil
		}
	}
	return fmt.Errorf("updating %s: %w", key, err)
}

// waitUntilScraped waits until p has scraped the exporter once, so that a scenario on a
// Prometheus of its own does not judge the canary before the server has any data.
func waitUntilScraped(t testing.TB, p *harness.Prometheus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, p.WaitForSeries(ctx, `up{job="tranche-test"} == 1`))
}

// durationsObserved is how many rollouts of the Rollout ending in phase the duration
// histogram has timed. (Collecting a curried vector would count every namespace's series.)
func durationsObserved(t testing.TB, ns, name string, phase trancheapi.Phase) uint64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, rolloutDuration.WithLabelValues(ns, name, string(phase)).(prometheus.Metric).Write(&m))
	return m.GetHistogram().GetSampleCount()
}
