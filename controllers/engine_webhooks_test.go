package controllers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// hookServer answers webhooks like a user's endpoints: gates open or closed on demand, and
// it records every payload it receives.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	payloads []analysis.Payload
	open     atomic.Bool
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p analysis.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.payloads = append(h.payloads, p)
		h.mu.Unlock()
		if r.URL.Path == "/gate" && !h.open.Load() {
			http.Error(w, "the change window is closed", http.StatusForbidden)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// received maps each webhook type to the first payload received for it.
func (h *hookServer) received() map[string]analysis.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	byType := map[string]analysis.Payload{}
	for _, p := range h.payloads {
		if _, ok := byType[p.Type]; !ok {
			byType[p.Type] = p
		}
	}
	return byType
}

func TestWebhooksGateAndHearAboutTheRollout(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t)
	ro := canaryRollout(cp.Namespace(t))
	hook := func(name string, kind trancheapi.WebhookType, path string) trancheapi.Webhook {
		return trancheapi.Webhook{Name: name, Type: kind, URL: hooks.URL + path,
			Timeout: &metav1.Duration{Duration: 2 * time.Second}, Metadata: map[string]string{"team": "shop"}}
	}
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{
		hook("smoke", trancheapi.WebhookPreRollout, "/smoke"),
		hook("load", trancheapi.WebhookRollout, "/load"),
		hook("window", trancheapi.WebhookConfirmPromotion, "/gate"),
		hook("done", trancheapi.WebhookPostRollout, "/done"),
		hook("audit", trancheapi.WebhookEvent, "/audit"),
	}
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)

	// The promotion gate is closed: the rollout holds at the last step and says why.
	require.Eventually(t, func() bool {
		st := e.get().Status
		return st.CurrentStep == 2 && st.Phase == trancheapi.PhaseProgressing &&
			strings.Contains(st.Message, "the change window is closed")
	}, time.Minute, 50*time.Millisecond, "waits at the closed gate")
	time.Sleep(3 * time.Second)
	assert.Equal(t, trancheapi.PhaseProgressing, e.get().Status.Phase, "a closed gate holds the promotion")

	hooks.open.Store(true)
	done := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list())
	var loadChecks int
	for _, c := range done.Status.LastChecks {
		if c.Metric == "webhook/load" {
			loadChecks++
			assert.Equal(t, trancheapi.VerdictPass, c.Verdict)
		}
	}
	assert.Positive(t, loadChecks, "the Rollout webhook runs with every analysis")

	require.Eventually(t, func() bool { return len(hooks.received()) == 5 }, 10*time.Second, 50*time.Millisecond,
		"every kind of webhook was called; got %v", hooks.received())
	got := hooks.received()
	pre := got[string(trancheapi.WebhookPreRollout)]
	assert.Equal(t, "podinfo", pre.Name)
	assert.Equal(t, e.ns, pre.Namespace)
	assert.Equal(t, done.Status.CanaryRevision, pre.Revision)
	assert.Equal(t, map[string]string{"team": "shop"}, pre.Metadata)
	assert.NotEmpty(t, got[string(trancheapi.WebhookEvent)].Message, "events carry their message")
}

func TestPreRolloutRefusalRollsBack(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t) // /gate stays closed
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{{Name: "smoke", Type: trancheapi.WebhookPreRollout, URL: hooks.URL + "/gate"}}
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)

	failed := e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
	assert.Contains(t, failed.Status.Message, "pre-rollout webhook said no")
	assert.Equal(t, []int32{0}, e.weights.list(), "no traffic reached the canary")
	e.assertPrimaryOnly(goodImage)
}
