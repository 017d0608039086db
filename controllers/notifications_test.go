package controllers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/test/harness"
)

// slackReceiver stands in for a Slack incoming webhook: it keeps the fallback text of each
// message, after hang.
type slackReceiver struct {
	hang  time.Duration
	mu    sync.Mutex
	texts []string
}

func (s *slackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(s.hang):
	case <-r.Context().Done():
		return
	}
	var msg struct{ Text string }
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.texts = append(s.texts, msg.Text)
	s.mu.Unlock()
}

func (s *slackReceiver) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

// subscribe creates a Slack NotificationProvider whose Secret points at url, and subscribes
// ro to it with severity.
func subscribe(t *testing.T, ro *trancheapi.Rollout, url string, timeout time.Duration, severity trancheapi.Severity) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cp.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "slack"},
		StringData: map[string]string{"address": url + "/services/T0/B0/s3cr3t"},
	}))
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.NotificationProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "slack"},
		Spec: trancheapi.NotificationProviderSpec{
			Type: trancheapi.NotificationSlack, SecretRef: trancheapi.LocalObjectReference{Name: "slack"},
			Channel: "#releases", Timeout: &metav1.Duration{Duration: timeout},
		},
	}))
	ro.Spec.Notify = []trancheapi.NotificationRef{{ProviderRef: trancheapi.NamespacedObjectReference{Name: "slack"}, Severity: severity}}
}

// slackScenario starts a canary Rollout subscribed to a Slack receiver for the news of
// severity and above.
func slackScenario(t *testing.T, severity trancheapi.Severity) (*slackReceiver, *engineEnv) {
	t.Helper()
	slack := &slackReceiver{}
	server := httptest.NewServer(slack)
	t.Cleanup(server.Close)
	ro := canaryRollout(cp.Namespace(t))
	subscribe(t, ro, server.URL, 5*time.Second, severity)
	return slack, startScenario(t, prom, exporter, ro)
}

func TestSlackHearsOfEachStep(t *testing.T) {
	t.Parallel()
	slack, e := slackScenario(t, trancheapi.SeverityInfo)
	e.release(goodImage2)
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)

	want := []string{"rollout started", "step passed", "step passed", "promoted"}
	require.Eventually(t, func() bool { return len(slack.received()) >= len(want) }, 20*time.Second, 50*time.Millisecond)
	got := slack.received()
	require.Len(t, got, len(want), "%q", got)
	for i, text := range got {
		assert.Contains(t, text, e.ns+"/podinfo "+want[i])
	}
	assert.NotContains(t, e.get().Status.Message, "s3cr3t")
}

func TestErrorSubscribersHearOnlyOfTheRollback(t *testing.T) {
	t.Parallel()
	slack, e := slackScenario(t, trancheapi.SeverityError)
	e.release(badImage)
	e.waitForPhase(trancheapi.PhaseFailed, time.Minute)

	rolledBack := func() bool {
		got := slack.received()
		return len(got) > 0 && strings.Contains(got[len(got)-1], "rolled back: Rolled back revision")
	}
	require.Eventually(t, rolledBack, 20*time.Second, 50*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // nothing more comes
	got := slack.received()
	require.Len(t, got, 3, "two failed runs, then the rollback: %q", got)
	for _, text := range got[:2] {
		assert.Contains(t, text, e.ns+"/podinfo analysis failing: ", "a failed run, by its value or for want of data")
	}
	assert.Contains(t, got[1], "(2/2)")
}

// An undo is news for those who hear of errors: a person put the earlier revision back, in
// an incident most likely; the message says who asked.
func TestErrorSubscribersHearOfAnUndo(t *testing.T) {
	t.Parallel()
	slack, e := slackScenario(t, trancheapi.SeverityError)
	e.release(goodImage2)
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Empty(t, slack.received(), "a good release is no error")

	e.annotate(trancheapi.AnnotationUndo, "u1 by alice")
	e.waitForPhase(trancheapi.PhaseAborted, 10*time.Second)
	require.Eventually(t, func() bool { return len(slack.received()) > 0 }, 20*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second) // nothing more comes
	got := slack.received()
	require.Len(t, got, 1, "%q", got)
	assert.Contains(t, got[0], e.ns+"/podinfo undone: Undone revision")
	assert.Contains(t, got[0], "on request by alice")
}

// The endpoint hangs 30 s on every call: the rollout goes at its own pace, and the messages
// fail after their timeout, counted.
func TestAHangingSlackDoesNotSlowTheRollout(t *testing.T) {
	t.Parallel()
	slack := &slackReceiver{hang: 30 * time.Second}
	server := httptest.NewServer(slack)
	defer server.Close()
	ro := canaryRollout(cp.Namespace(t))
	subscribe(t, ro, server.URL, time.Second, trancheapi.SeverityInfo)
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)
	done := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)

	took := done.Status.Conditions[0].LastTransitionTime.Sub(done.Status.RolloutStartedAt.Time)
	holds := 3 * 2 * time.Second
	t.Logf("the rollout took %s for %s of holds, with every call to Slack hanging", took, holds)
	assert.Less(t, took, holds+15*time.Second, "the rollout took %s for %s of holds", took, holds)
	provider := e.ns + "/slack"
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(notify.Notifications.WithLabelValues(provider, notify.ResultFailed)) > 0
	}, time.Minute, 100*time.Millisecond, "failed deliveries counted")
	assert.Empty(t, slack.received())
}

func TestABadReferenceIsNews(t *testing.T) {
	t.Parallel()
	slack := &slackReceiver{}
	server := httptest.NewServer(slack)
	defer server.Close()
	ns := cp.Namespace(t)
	ro := canaryRollout(ns)
	ro.Spec.Analysis.Metrics[0].TemplateRef.Name = "no-such-template"
	subscribe(t, ro, server.URL, 5*time.Second, trancheapi.SeverityError)
	ctx := context.Background()
	require.NoError(t, cp.Client.Create(ctx, harness.Deployment(ns, "podinfo", goodImage)))
	require.NoError(t, cp.Client.Create(ctx, ro))

	require.Eventually(t, func() bool { return len(slack.received()) > 0 }, 20*time.Second, 50*time.Millisecond)
	assert.Contains(t, slack.received()[0], ns+"/podinfo stalled: MetricTemplate")
	assert.Contains(t, slack.received()[0], "no-such-template")
}

// shapeMessages gives the Slack provider of ro's namespace message templates.
func shapeMessages(t *testing.T, ns string, templates map[string]trancheapi.MessageTemplate) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &trancheapi.NotificationProvider{}
		if err := cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "slack"}, p); err != nil {
			return err
		}
		p.Spec.Templates = templates
		return cp.Client.Update(context.Background(), p)
	}))
}

// providerReadyIs waits until the Slack provider of ns has a Ready condition of status for
// its generation, and returns it.
func providerReadyIs(t *testing.T, ns string, status metav1.ConditionStatus) metav1.Condition {
	t.Helper()
	var ready *metav1.Condition
	require.Eventually(t, func() bool {
		p := &trancheapi.NotificationProvider{}
		if cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "slack"}, p) != nil {
			return false
		}
		ready = meta.FindStatusCondition(p.Status.Conditions, trancheapi.ConditionReady)
		return p.Status.ObservedGeneration == p.Generation && ready != nil && ready.Status == status
	}, 10*time.Second, 20*time.Millisecond, "the provider's Ready condition never became %s: %+v", status, ready)
	return *ready
}

func TestProviderTemplatesShapeTheMessages(t *testing.T) {
	t.Parallel()
	slack := &slackReceiver{}
	server := httptest.NewServer(slack)
	defer server.Close()
	ro := canaryRollout(cp.Namespace(t))
	subscribe(t, ro, server.URL, 5*time.Second, trancheapi.SeverityInfo)
	shapeMessages(t, ro.Namespace, map[string]trancheapi.MessageTemplate{
		"Default":  {Title: "{{ .Cluster }}: {{ .Rollout }} {{ .Title }}", Text: "{{ .Kind }}, canary at {{ .Weight }}%"},
		"Promoted": {Text: "{{ .Canary }} serves all traffic{{ range .Checks }}; {{ .Metric }} {{ .Value }}{{ end }}"},
	})
	ready := providerReadyIs(t, ro.Namespace, metav1.ConditionTrue)
	assert.Equal(t, "The templates render every kind of news", ready.Message)
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)

	require.Eventually(t, func() bool { return len(slack.received()) >= 4 }, 20*time.Second, 50*time.Millisecond)
	got := slack.received()
	require.Len(t, got, 4, "%q", got)
	assert.Equal(t, "test-cluster: podinfo rollout started: Started, canary at 0%", got[0])
	assert.Regexp(t, `^test-cluster: podinfo step passed: StepReached, canary at (5|50)%$`, got[1])
	promoted := e.get().Status.StableRevision
	assert.Regexp(t, `^test-cluster: podinfo promoted: `+promoted+` serves all traffic; \S+ \S+`, got[3], "the Default title, Promoted's own text")
}

func TestABrokenTemplateIsReportedAndTheDefaultWordsSent(t *testing.T) {
	t.Parallel()
	slack := &slackReceiver{}
	server := httptest.NewServer(slack)
	defer server.Close()
	ro := canaryRollout(cp.Namespace(t))
	subscribe(t, ro, server.URL, 5*time.Second, trancheapi.SeverityInfo)
	shapeMessages(t, ro.Namespace, map[string]trancheapi.MessageTemplate{
		"Promoted": {Text: "{{ .Revision }} is out"}, // parses, but TemplateData has no Revision
	})
	ready := providerReadyIs(t, ro.Namespace, metav1.ConditionFalse)
	assert.Equal(t, trancheapi.ReasonTemplateInvalid, ready.Reason)
	assert.Contains(t, ready.Message, "templates.Promoted.text, for news Promoted")
	assert.Contains(t, ready.Message, "can't evaluate field Revision")
	provider := &trancheapi.NotificationProvider{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "slack"}}
	waitForEvent(t, provider, trancheapi.ReasonTemplateInvalid)

	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	require.Eventually(t, func() bool { return len(slack.received()) >= 4 }, 20*time.Second, 50*time.Millisecond)
	assert.Equal(t, e.ns+"/podinfo promoted: Promoted revision "+e.get().Status.StableRevision, slack.received()[3], "Tranche's own words")

	shapeMessages(t, ro.Namespace, map[string]trancheapi.MessageTemplate{"Promoted": {Text: "{{ .Canary }} is out"}})
	providerReadyIs(t, ro.Namespace, metav1.ConditionTrue)
}
