package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/test/harness"
)

// These scenarios run the controller against the real API server and a real Prometheus
// scraping the test exporter, with the real deployment and endpointslice controllers and kwok
// nodes running the pods.

func TestGoodCanaryIsPromoted(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, canaryRollout(cp.Namespace(t)))
	e.release(goodImage2)

	ro := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list(), "the canary took 5%, 50% then 100%, then the primary took all back")
	// The canary keeps its replicas for the scale-down delay, for data planes that apply the
	// switch back late.
	require.NotNil(t, ro.Status.ScaleDownAt)
	assert.Positive(t, ptr.Deref(e.deployment("podinfo").Spec.Replicas, 0), "the canary scaled down before the delay")
	promoted := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionPromoted)
	require.NotNil(t, promoted)
	assert.WithinDuration(t, promoted.LastTransitionTime.Add(scaleDownDelay), ro.Status.ScaleDownAt.Time, 2*time.Second)
	e.assertPrimaryOnly(goodImage2)
	assert.Equal(t, ro.Status.CanaryRevision, ro.Status.StableRevision)
	assert.True(t, metaCondition(ro, trancheapi.ConditionPromoted, metav1.ConditionTrue))
	require.NotEmpty(t, ro.Status.LastChecks)
	for _, c := range ro.Status.LastChecks {
		assert.Equal(t, trancheapi.VerdictPass, c.Verdict, "%s = %s at %s: %s; Prometheus now holds:%s",
			c.Metric, c.Value, c.At.Format(time.RFC3339), c.Message, scrapesSeen(e.ns))
	}
	waitForEvent(t, ro, "Promoted")

	// The manager's metrics tell the same story.
	assert.Equal(t, []series{{family: "tranche_rollout_phase", labels: fmt.Sprint(map[string]string{"namespace": e.ns, "name": "podinfo", "phase": "Succeeded"})}},
		seriesIn(t, "tranche_rollout_phase", e.ns, "podinfo"), "one phase series, the current one")
	assert.Equal(t, 1.0, testutil.ToFloat64(rolloutPhase.WithLabelValues(e.ns, "podinfo", "Succeeded")))
	assert.Equal(t, 0.0, testutil.ToFloat64(canaryWeight.WithLabelValues(e.ns, "podinfo")))
	assert.Equal(t, 1.0, testutil.ToFloat64(rolloutInfo.WithLabelValues(e.ns, "podinfo", "gatewayAPI", "podinfo", ro.Status.StableRevision, ro.Status.CanaryRevision)))
	assert.GreaterOrEqual(t, testutil.ToFloat64(analysisChecks.WithLabelValues(e.ns, "podinfo", "error-rate", "Pass", "false")), 3.0, "one run per step at least")
	assert.Equal(t, 0.0, testutil.ToFloat64(analysisChecks.WithLabelValues(e.ns, "podinfo", "error-rate", "Fail", "false")))
	assert.Equal(t, uint64(1), durationsObserved(t, e.ns, "podinfo", trancheapi.PhaseSucceeded), "one finished rollout timed")
	assert.Equal(t, uint64(0), durationsObserved(t, e.ns, "podinfo", trancheapi.PhaseFailed))
}

func TestBadCanaryIsRolledBackAtFivePercent(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, canaryRollout(cp.Namespace(t)))
	e.release(badImage)

	ro := e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
	// The status records the decision before the route is written: wait for the route too.
	e.waitForWeight(0, 10*time.Second)
	assert.Equal(t, []int32{0, 5, 0}, e.weights.list(), "rolled back at the first step")
	e.assertPrimaryOnly(goodImage)
	assert.Equal(t, int32(2), ro.Status.FailedChecks)
	assert.Equal(t, trancheapi.VerdictFail, ro.Status.LastChecks[0].Verdict)
	assert.Contains(t, ro.Status.Message, "2 failed analysis runs")
	assert.True(t, metaCondition(ro, trancheapi.ConditionPromoted, metav1.ConditionFalse))
	waitForEvent(t, ro, "RolledBack")

	// The same bad revision is not tried again: decided once more, the controller keeps it
	// rolled back, says nothing, and means to look again only at the resync. (After the
	// scale-down nothing more happens: the simulation bad-canary-at-5 ends there.)
	result, said := e.reconcileNow()
	assert.Equal(t, resyncInterval, result.RequeueAfter, "nothing is due")
	assert.Empty(t, said, "nothing to tell")
	assert.Equal(t, trancheapi.PhaseFailed, e.get().Status.Phase)
	assert.Zero(t, ptr.Deref(e.deployment("podinfo").Spec.Replicas, 1), "the canary stays scaled down")
	assert.Equal(t, []int32{0, 5, 0}, e.weights.list())
}

// A canary whose pods never become ready, or crash again and again (kwok's CrashLoopBackOff),
// as the real deployment controller sees them, never gets traffic and is rolled back at the
// deadline.
func TestUnreadyCanaryIsRolledBackAtTheDeadline(t *testing.T) {
	t.Parallel()
	for _, behaviour := range []string{harness.PodNeverReady, harness.PodCrash} {
		t.Run(behaviour, func(t *testing.T) {
			t.Parallel()
			ro := canaryRollout(cp.Namespace(t))
			ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 3 * time.Second}
			e := startScenario(t, prom, exporter, ro)
			e.releaseWith(goodImage2, behaviour)

			got := e.waitForPhase(trancheapi.PhaseFailed, 30*time.Second)
			assert.Equal(t, []int32{0}, e.weights.list(), "a canary that is not ready never gets traffic")
			assert.Contains(t, got.Status.Message, "progress deadline")
			e.assertPrimaryOnly(goodImage)
		})
	}
}

func TestPrometheusDownNeverPromotes(t *testing.T) {
	t.Parallel()
	ownProm, err := harness.StartPrometheus(harness.PrometheusOptions{Targets: []string{exporter.Address()}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ownProm.Stop() })
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Steps[1].Hold = &metav1.Duration{Duration: time.Minute} // Prometheus goes away during this step
	ro.Spec.Analysis.InconclusiveLimit = 1
	e := startScenario(t, ownProm, exporter, ro)
	waitUntilScraped(t, ownProm)
	e.release(goodImage2)

	e.waitForWeight(50, time.Minute)
	require.NoError(t, ownProm.Kill())
	got := e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
	assert.NotContains(t, e.weights.list(), int32(100), "never promoted while Prometheus was down")
	assert.Equal(t, trancheapi.VerdictInconclusive, got.Status.LastChecks[0].Verdict)
	assert.NotEmpty(t, got.Status.LastChecks[0].Message, "the check says why it has no value")
	e.assertPrimaryOnly(goodImage)
}

// TestPrometheusSlowOrGarbledNeverPromotes puts a proxy in front of the real Prometheus that
// turns slow (answers after the query timeout) or garbled (a 200 that is not Prometheus's
// JSON) mid-rollout: no answer is a pass, so the rollout never reaches 100% and rolls back.
func TestPrometheusSlowOrGarbledNeverPromotes(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"slow", "garbled"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			var broken atomic.Bool
			upstream, err := url.Parse(prom.URL())
			require.NoError(t, err)
			forward := httputil.NewSingleHostReverseProxy(upstream)
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case !broken.Load():
					forward.ServeHTTP(w, r)
				case fault == "slow":
					select { // past the template's 1 s timeout
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
					forward.ServeHTTP(w, r)
				default:
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`<html><body>502 Bad Gateway</body></html>`))
				}
			}))
			t.Cleanup(proxy.Close)

			ro := canaryRollout(cp.Namespace(t))
			ro.Spec.Steps[1].Hold = &metav1.Duration{Duration: time.Minute} // Prometheus breaks during this step
			ro.Spec.Analysis.InconclusiveLimit = 1
			e := startScenarioAt(t, proxy.URL, exporter, ro)
			require.NoError(t, retryUpdateTemplate(e.ns, func(tmpl *trancheapi.MetricTemplate) {
				tmpl.Spec.Prometheus.Timeout = &metav1.Duration{Duration: time.Second}
			}))
			e.release(goodImage2)

			e.waitForWeight(50, time.Minute)
			broken.Store(true)
			got := e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
			assert.NotContains(t, e.weights.list(), int32(100), "never promoted while Prometheus was %s", fault)
			assert.Equal(t, trancheapi.VerdictInconclusive, got.Status.LastChecks[0].Verdict)
			assert.NotEmpty(t, got.Status.LastChecks[0].Message, "the check says why it has no value")
			t.Logf("the last check said: %s", got.Status.LastChecks[0].Message)
			e.assertPrimaryOnly(goodImage)
		})
	}
}

// retryUpdateTemplate changes the scenario's error-rate MetricTemplate.
func retryUpdateTemplate(ns string, mutate func(*trancheapi.MetricTemplate)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		tmpl := &trancheapi.MetricTemplate{}
		if err := cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "error-rate"}, tmpl); err != nil {
			return err
		}
		mutate(tmpl)
		return cp.Client.Update(context.Background(), tmpl)
	})
}

func TestManualApprovalWaitsThenPromotes(t *testing.T) {
	t.Parallel()
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Steps[1].Approval = trancheapi.ApprovalManual
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)

	waiting := e.waitForPhase(trancheapi.PhaseWaitingApproval, time.Minute)
	assert.Equal(t, int32(1), waiting.Status.CurrentStep)
	assert.Contains(t, waiting.Status.Message, "kubectl tranche promote")
	// The controller goes on judging the canary (one more analysis run) and goes on waiting.
	// (For how long it waits, see the simulation manual-approval.)
	require.Eventually(t, func() bool { return e.get().Status.LastAnalysisAt.After(waiting.Status.LastAnalysisAt.Time) },
		30*time.Second, 50*time.Millisecond, "another analysis run while waiting")
	assert.Equal(t, trancheapi.PhaseWaitingApproval, e.get().Status.Phase, "it waits for a person")
	assert.Equal(t, []int32{0, 5, 50}, e.weights.list())

	e.annotate(trancheapi.AnnotationPromote, "approve-1")
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list())
	e.assertPrimaryOnly(goodImage2)
}

func TestNewRevisionMidRolloutStartsAgain(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, canaryRollout(cp.Namespace(t)))
	e.release(goodImage2)
	e.waitForWeight(50, time.Minute)
	e.release(goodImage3)

	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 0, 5, 50, 100, 0}, e.weights.list(), "back to the primary, then every step again")
	e.assertPrimaryOnly(goodImage3)
}

// Deleted mid-rollout, a Rollout leaves the app serving as its Deployment declares it: the
// target has the primary's replicas back and is ready, the apex Service (the name the app's
// clients know) selects its pods and stays, and so does the HTTPRoute (the way in from the
// Gateway), released and sending everything to the apex Service, while the garbage
// collector deletes the primary and the rest. Created again, the Rollout takes the apex
// Service and the route back.
func TestDeletingARolloutLeavesTheAppServing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := startScenario(t, prom, exporter, canaryRollout(cp.Namespace(t)))
	primaryReplicas := ptr.Deref(e.deployment("podinfo-primary").Spec.Replicas, 1)
	e.release(goodImage2)
	e.waitForWeight(50, time.Minute)

	require.NoError(t, cp.Client.Delete(ctx, e.ro))
	require.Eventually(t, func() bool {
		err := cp.Client.Get(ctx, client.ObjectKeyFromObject(e.ro), &trancheapi.Rollout{})
		return apierrors.IsNotFound(err)
	}, 30*time.Second, 50*time.Millisecond, "the finalizer lets the Rollout go")
	target := e.deployment("podinfo")
	assert.Equal(t, primaryReplicas, ptr.Deref(target.Spec.Replicas, 0), "the target has its replicas back")
	apex := &corev1.Service{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "podinfo"}, apex))
	assert.Empty(t, apex.OwnerReferences, "the apex Service outlives the Rollout")
	assert.Equal(t, target.Spec.Selector.MatchLabels, apex.Spec.Selector, "the apex Service selects the target's pods")
	require.Eventually(t, func() bool {
		err := cp.Client.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "podinfo-primary"}, &appsv1.Deployment{})
		return apierrors.IsNotFound(err)
	}, 30*time.Second, 100*time.Millisecond, "the garbage collector deletes the primary")
	var slices discoveryv1.EndpointSliceList
	require.NoError(t, cp.Client.List(ctx, &slices, client.InNamespace(e.ns), client.MatchingLabels{discoveryv1.LabelServiceName: "podinfo"}))
	assert.Equal(t, int(primaryReplicas), readyEndpoints(slices.Items), "the apex Service's endpoints are the target's ready pods")
	route := &gatewayv1.HTTPRoute{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "podinfo"}, route), "the route outlives the Rollout")
	assert.Empty(t, route.OwnerReferences, "the route belongs to no one")
	assert.Equal(t, []string{"podinfo"}, gatewayapi.ServicesRouted(route, e.ro), "the route sends everything to the apex Service")

	again := canaryRollout(e.ns)
	require.NoError(t, cp.Client.Create(ctx, again))
	e.waitForPhase(trancheapi.PhaseInitialized, time.Minute)
	require.Eventually(t, func() bool {
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "podinfo"}, apex))
		return metav1.IsControlledBy(apex, e.get()) && apex.Annotations[trancheapi.AnnotationHandedOver] == "" &&
			apex.Spec.Selector["app"] == "podinfo"+trancheapi.PrimarySuffix
	}, 30*time.Second, 100*time.Millisecond, "the Rollout created again takes the apex Service back and points it at the primary: %v", apex)
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "podinfo"}, route))
	assert.True(t, metav1.IsControlledBy(route, e.get()), "the Rollout created again takes the route back")
	assert.Equal(t, []string{"podinfo-primary", "podinfo-canary"}, gatewayapi.ServicesRouted(route, e.ro), "and splits with it again")
}

func metaCondition(ro *trancheapi.Rollout, kind string, status metav1.ConditionStatus) bool {
	for _, c := range ro.Status.Conditions {
		if c.Type == kind {
			return c.Status == status
		}
	}
	return false
}

func TestControllerRestartResumes(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	stopped, err := runController(ctx, shardLabel+"=own")
	require.NoError(t, err)
	ro := canaryRollout(cp.Namespace(t))
	ro.Labels = map[string]string{shardLabel: "own"}
	ro.Spec.Steps[1].Hold = &metav1.Duration{Duration: 6 * time.Second} // the restart happens during this step
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)
	e.waitForWeight(50, time.Minute)

	stop()
	<-stopped
	before := e.get().Status
	require.Equal(t, int32(1), before.CurrentStep)
	ctx, stop = context.WithCancel(context.Background())
	t.Cleanup(stop)
	_, err = runController(ctx, shardLabel+"=own")
	require.NoError(t, err)

	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list(), "the new controller went on from 50%%, not from the start")
	e.assertPrimaryOnly(goodImage2)
}

func TestMetricTemplateCredentialsComeFromItsSecret(t *testing.T) {
	t.Parallel()
	authProm, err := harness.StartPrometheus(harness.PrometheusOptions{Targets: []string{exporter.Address()}, BasicAuth: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = authProm.Stop() })
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prometheus-auth"},
		StringData: map[string]string{"username": harness.PrometheusUsername, "password": harness.PrometheusPassword},
	}))
	ro := canaryRollout(ns)
	e := startScenario(t, authProm, exporter, ro)
	tmpl := &trancheapi.MetricTemplate{}
	require.NoError(t, cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "error-rate"}, tmpl))
	tmpl.Spec.Prometheus.SecretRef = &trancheapi.LocalObjectReference{Name: "prometheus-auth"}
	require.NoError(t, cp.Client.Update(context.Background(), tmpl))
	waitUntilScraped(t, authProm)
	e.release(goodImage2)

	done := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	for _, c := range done.Status.LastChecks {
		assert.Equal(t, trancheapi.VerdictPass, c.Verdict, "%s: %s", c.Value, c.Message)
		assert.NotContains(t, c.Message, harness.PrometheusPassword)
	}
}

// engineCompareRollout is canaryRollout judged by Compare over the exporter's counts, with a
// failure limit the sequential test does not wait for, and holds long enough to need it.
func engineCompareRollout(ns string, hold time.Duration) *trancheapi.Rollout {
	ro := canaryRollout(ns)
	for i := range ro.Spec.Steps {
		ro.Spec.Steps[i].Hold = &metav1.Duration{Duration: hold}
	}
	ro.Spec.Analysis.FailureLimit = 5
	ro.Spec.Analysis.Metrics = []trancheapi.Metric{{
		Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "compare-errors"}, Judge: trancheapi.JudgeCompare,
	}}
	return ro
}

func createCompareTemplate(t *testing.T, ns string) {
	t.Helper()
	require.NoError(t, cp.Client.Create(context.Background(), &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "compare-errors"},
		Spec: trancheapi.MetricTemplateSpec{
			Prometheus: &trancheapi.PrometheusSource{Address: prom.URL()},
			Query: `sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}", code=~"5.."})
  - (sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}", code=~"5.."} offset {{ .Window }}) or vector(0))`,
			TotalQuery: `sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"})
  - (sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"} offset {{ .Window }}) or vector(0))`,
		},
	}))
}

// A canary with twice the primary's errors, at 5%, is rolled back by the Compare judge as soon
// as its test is sure: fewer runs than the failure limit would have needed failed runs.
func TestCompareRollsATwiceAsBadCanaryBackBeforeItsFailureLimit(t *testing.T) {
	ns := cp.Namespace(t)
	createCompareTemplate(t, ns)
	e := startScenario(t, prom, exporter, engineCompareRollout(ns, 20*time.Second))
	e.release(twiceImage)
	ro := e.waitForPhase(trancheapi.PhaseFailed, 2*time.Minute)
	// The status records the decision before the route is written: wait for the route too.
	e.waitForWeight(0, 10*time.Second)
	assert.Contains(t, ro.Status.Message, "the canary is worse than the primary: errors: the canary's error rate is")
	runs := 0
	for _, c := range ro.Status.LastChecks {
		if c.Metric == "errors" && c.At.After(ro.Status.RolloutStartedAt.Time) {
			runs++
		}
	}
	t.Logf("rolled back after %d analysis runs (failure limit %d): %s", runs, ro.Spec.Analysis.FailureLimit, ro.Status.Message)
	assert.Less(t, runs, int(ro.Spec.Analysis.FailureLimit), "the judge waited as long as the failure limit")
	assert.Less(t, ro.Status.FailedChecks, ro.Spec.Analysis.FailureLimit)
	assert.Equal(t, []int32{0, 5, 0}, e.weights.list(), "rolled back from the first step")
}

// A canary as good as the primary goes through every step under the Compare judge.
func TestCompareKeepsAGoodCanary(t *testing.T) {
	ns := cp.Namespace(t)
	createCompareTemplate(t, ns)
	e := startScenario(t, prom, exporter, engineCompareRollout(ns, 6*time.Second))
	e.release(goodImage2)
	ro := e.waitForPhase(trancheapi.PhaseSucceeded, 3*time.Minute)
	for _, c := range ro.Status.LastChecks {
		assert.NotEqual(t, trancheapi.VerdictFail, c.Verdict, "%s: %s", c.Metric, c.Message)
	}
}
