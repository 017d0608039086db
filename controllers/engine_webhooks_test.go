package controllers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// These scenarios call every kind of webhook over HTTP: a server plays the user's endpoints
// and records what each was POSTed. What arrives is all they look at; how the controller
// delivers it (at once, queued, retried) is its own business.

// hookServer answers webhooks like a user's endpoints: a path answers yes unless it was
// closed, and the server records every payload it receives.
type hookServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []hookCall
	// yes is, for each closed path, how many more calls it answers yes before it says no.
	yes map[string]int
}

type hookCall struct {
	path    string
	payload analysis.Payload
}

// refusal is what a closed path answers.
const refusal = "the change window is closed"

// newHookServer starts a hookServer whose closed paths say no until opened.
func newHookServer(t *testing.T, closed ...string) *hookServer {
	t.Helper()
	h := &hookServer{yes: map[string]int{}}
	for _, path := range closed {
		h.yes[path] = 0
	}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p analysis.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, hookCall{path: r.URL.Path, payload: p})
		switch left, closed := h.yes[r.URL.Path]; {
		case closed && left == 0:
			http.Error(w, refusal, http.StatusForbidden)
		case closed:
			h.yes[r.URL.Path] = left - 1
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// open makes path answer yes from now on.
func (h *hookServer) open(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.yes, path)
}

// allow makes path answer yes n more times, then no.
func (h *hookServer) allow(path string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.yes[path] = n
}

// received maps each webhook type to the first payload received for it.
func (h *hookServer) received() map[string]analysis.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	byType := map[string]analysis.Payload{}
	for _, c := range h.calls {
		if _, ok := byType[c.payload.Type]; !ok {
			byType[c.payload.Type] = c.payload
		}
	}
	return byType
}

// of is every payload a webhook type received, in order.
func (h *hookServer) of(kind trancheapi.WebhookType) []analysis.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	var payloads []analysis.Payload
	for _, c := range h.calls {
		if c.payload.Type == string(kind) {
			payloads = append(payloads, c.payload)
		}
	}
	return payloads
}

// asked is how many calls path received.
func (h *hookServer) asked(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.calls {
		if c.path == path {
			n++
		}
	}
	return n
}

// waitAskedAgain waits until path has been called twice more than now: the controller
// looked at the gate again, twice, and decided again each time.
func (h *hookServer) waitAskedAgain(t *testing.T, path string) {
	t.Helper()
	want := h.asked(path) + 2
	require.Eventually(t, func() bool { return h.asked(path) >= want }, 30*time.Second, 20*time.Millisecond,
		"the controller did not ask %s again", path)
}

// eventReasons is the reason of every message the Event webhooks received, in order.
func (h *hookServer) eventReasons() []string {
	var reasons []string
	for _, p := range h.of(trancheapi.WebhookEvent) {
		reason, _, _ := strings.Cut(p.Message, ": ")
		reasons = append(reasons, reason)
	}
	return reasons
}

// hookOf is a webhook of the kind on the server's path, with metadata.
func hookOf(h *hookServer, name string, kind trancheapi.WebhookType, path string) trancheapi.Webhook {
	return trancheapi.Webhook{Name: name, Type: kind, URL: h.URL + path,
		Timeout: &metav1.Duration{Duration: 2 * time.Second}, Metadata: map[string]string{"team": "shop"}}
}

// assertAbout checks that a payload is about the Rollout and the revision, with the
// webhook's metadata.
func assertAbout(t *testing.T, p analysis.Payload, ro *trancheapi.Rollout, revision string) {
	t.Helper()
	assert.Equal(t, ro.Name, p.Name, "%s payload", p.Type)
	assert.Equal(t, ro.Namespace, p.Namespace, "%s payload", p.Type)
	assert.Equal(t, revision, p.Revision, "%s payload", p.Type)
	assert.Equal(t, map[string]string{"team": "shop"}, p.Metadata, "%s payload", p.Type)
}

// TestWebhooksGateAndHearAboutTheRollout: every webhook kind a promoted rollout calls is
// called with what it is owed; a closed ConfirmPromotion gate holds the rollout at its last
// step until it opens.
func TestWebhooksGateAndHearAboutTheRollout(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t, "/gate")
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{
		hookOf(hooks, "start", trancheapi.WebhookConfirmRollout, "/start"),
		hookOf(hooks, "smoke", trancheapi.WebhookPreRollout, "/smoke"),
		hookOf(hooks, "load", trancheapi.WebhookRollout, "/load"),
		hookOf(hooks, "capacity", trancheapi.WebhookConfirmTrafficIncrease, "/capacity"),
		hookOf(hooks, "window", trancheapi.WebhookConfirmPromotion, "/gate"),
		hookOf(hooks, "done", trancheapi.WebhookPostRollout, "/done"),
		hookOf(hooks, "audit", trancheapi.WebhookEvent, "/audit"),
	}
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)

	// The promotion gate is closed: the rollout holds at the last step and says why, however
	// often the controller asks again. (How long it holds, and that it rolls back at the
	// progress deadline, the simulations show: blue-green-with-gates.)
	require.Eventually(t, func() bool {
		st := e.get().Status
		return st.CurrentStep == 2 && st.Phase == trancheapi.PhaseProgressing && strings.Contains(st.Message, refusal)
	}, time.Minute, 50*time.Millisecond, "waits at the closed gate")
	hooks.waitAskedAgain(t, "/gate")
	held := e.get()
	assert.Equal(t, trancheapi.PhaseProgressing, held.Status.Phase, "a closed gate holds the promotion")
	assert.Equal(t, goodImage, e.deployment("podinfo" + trancheapi.PrimarySuffix).Spec.Template.Spec.Containers[0].Image, "the primary is not promoted")

	hooks.open("/gate")
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

	require.Eventually(t, func() bool { return len(hooks.received()) == 7 }, 10*time.Second, 50*time.Millisecond,
		"every kind of webhook was called")
	revision := done.Status.CanaryRevision
	got := hooks.received()
	for _, kind := range []trancheapi.WebhookType{trancheapi.WebhookConfirmRollout, trancheapi.WebhookPreRollout, trancheapi.WebhookRollout,
		trancheapi.WebhookConfirmTrafficIncrease, trancheapi.WebhookConfirmPromotion} {
		assertAbout(t, got[string(kind)], done, revision)
		assert.Empty(t, got[string(kind)].Message, "a question carries no message: %s", kind)
	}
	assert.Equal(t, string(trancheapi.PhaseInitialized), got[string(trancheapi.WebhookConfirmRollout)].Phase, "asked before the rollout starts")
	assert.Equal(t, string(trancheapi.PhaseProgressing), got[string(trancheapi.WebhookPreRollout)].Phase)
	assert.GreaterOrEqual(t, len(hooks.of(trancheapi.WebhookConfirmTrafficIncrease)), 3, "asked before each of the three increases: 0 to 5, 5 to 50, 50 to 100")

	// Notifications arrive once each, whatever delivers them.
	require.Eventually(t, func() bool { return len(hooks.of(trancheapi.WebhookPostRollout)) > 0 }, 10*time.Second, 20*time.Millisecond)
	post := hooks.of(trancheapi.WebhookPostRollout)
	require.Len(t, post, 1, "one promotion, one PostRollout call")
	assertAbout(t, post[0], done, revision)
	assert.Equal(t, string(trancheapi.PhaseSucceeded), post[0].Phase)
	assert.Equal(t, done.Status.Message, post[0].Message, "what the promotion said")
	assert.Empty(t, hooks.of(trancheapi.WebhookRollback), "nothing was rolled back")

	require.Eventually(t, func() bool { return slicesContain(hooks.eventReasons(), "Promoted") }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"Initialized", "RolloutStarted", "StepCompleted", "StepCompleted", "Promoting", "Promoted"}, hooks.eventReasons(),
		"each transition, in order")
	events := hooks.of(trancheapi.WebhookEvent)
	for _, p := range events[1:] { // from the start of the rollout on, about its revision
		assertAbout(t, p, done, revision)
		_, message, _ := strings.Cut(p.Message, ": ")
		assert.NotEmpty(t, message, "events carry their message: %q", p.Message)
	}
	assert.Equal(t, "Promoted: "+done.Status.Message, events[len(events)-1].Message)
	assert.Equal(t, string(trancheapi.PhaseSucceeded), events[len(events)-1].Phase)
}

func slicesContain(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// TestConfirmRolloutGateHoldsTheStart: a closed ConfirmRollout gate keeps a new revision from
// starting (no replicas, no traffic) however often it is asked; opening it starts the
// rollout.
func TestConfirmRolloutGateHoldsTheStart(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t, "/start")
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{hookOf(hooks, "start", trancheapi.WebhookConfirmRollout, "/start")}
	e := startScenario(t, prom, exporter, ro)
	// The target keeps its replicas for the scale-down delay after initializing: wait until
	// it has none, so that a start would show as a scale-up.
	require.Eventually(t, func() bool { return ptr.Deref(e.deployment("podinfo").Spec.Replicas, 1) == 0 }, 30*time.Second, 50*time.Millisecond)
	e.release(goodImage2)

	require.Eventually(t, func() bool { return strings.Contains(e.get().Status.Message, "Gate ConfirmRollout is closed") },
		30*time.Second, 50*time.Millisecond, "says why it waits")
	hooks.waitAskedAgain(t, "/start")
	held := e.get()
	assert.Equal(t, trancheapi.PhaseInitialized, held.Status.Phase, "not started")
	assert.Empty(t, held.Status.CanaryRevision)
	assert.Zero(t, ptr.Deref(e.deployment("podinfo").Spec.Replicas, 1), "the canary is not scaled up")
	assert.Equal(t, []int32{0}, e.weights.list(), "no traffic moved")

	hooks.open("/start")
	done := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list())
	asks := hooks.of(trancheapi.WebhookConfirmRollout)
	require.GreaterOrEqual(t, len(asks), 3, "asked, refused twice at least, then said yes")
	for _, p := range asks {
		assertAbout(t, p, done, done.Status.CanaryRevision)
		assert.Equal(t, string(trancheapi.PhaseInitialized), p.Phase, "asked before the rollout started")
	}
}

// TestConfirmTrafficIncreaseGateHoldsTheWeight: the gate is asked before each increase; one
// that says no holds the canary at the weight it has, and the rollout goes on once it
// opens.
func TestConfirmTrafficIncreaseGateHoldsTheWeight(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t, "/capacity")
	hooks.allow("/capacity", 1) // from 0 to 5%, and no further
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{hookOf(hooks, "capacity", trancheapi.WebhookConfirmTrafficIncrease, "/capacity")}
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)

	require.Eventually(t, func() bool {
		st := e.get().Status
		return st.CanaryWeight == 5 && strings.Contains(st.Message, "Gate ConfirmTrafficIncrease is closed: ") && strings.Contains(st.Message, refusal)
	}, time.Minute, 50*time.Millisecond, "holds at 5% and says why")
	hooks.waitAskedAgain(t, "/capacity")
	held := e.get()
	assert.Equal(t, trancheapi.PhaseProgressing, held.Status.Phase)
	assert.Equal(t, int32(1), held.Status.CurrentStep, "the second step waits for its traffic")
	assert.Equal(t, int32(5), held.Status.CanaryWeight)
	assert.Equal(t, []int32{0, 5}, e.weights.list(), "no more traffic for the canary")

	hooks.open("/capacity")
	done := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list())
	for _, p := range hooks.of(trancheapi.WebhookConfirmTrafficIncrease) {
		assertAbout(t, p, done, done.Status.CanaryRevision)
		assert.Equal(t, string(trancheapi.PhaseProgressing), p.Phase)
	}
}

// TestRollbackWebhookHearsOfTheRollback: a bad canary rolled back is POSTed to the Rollback
// webhook, with the rollback's message, and to the Event webhook; PostRollout hears nothing.
func TestRollbackWebhookHearsOfTheRollback(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t)
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{
		hookOf(hooks, "undo", trancheapi.WebhookRollback, "/undo"),
		hookOf(hooks, "done", trancheapi.WebhookPostRollout, "/done"),
		hookOf(hooks, "audit", trancheapi.WebhookEvent, "/audit"),
	}
	e := startScenario(t, prom, exporter, ro)
	e.release(badImage)

	failed := e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
	require.Eventually(t, func() bool { return len(hooks.of(trancheapi.WebhookRollback)) > 0 }, 10*time.Second, 20*time.Millisecond,
		"the Rollback webhook was called")
	rollbacks := hooks.of(trancheapi.WebhookRollback)
	require.Len(t, rollbacks, 1, "one rollback, one call")
	assertAbout(t, rollbacks[0], failed, failed.Status.CanaryRevision)
	assert.Equal(t, string(trancheapi.PhaseFailed), rollbacks[0].Phase)
	assert.Equal(t, failed.Status.Message, rollbacks[0].Message, "what the rollback said")

	require.Eventually(t, func() bool { return slicesContain(hooks.eventReasons(), "RolledBack") }, 10*time.Second, 20*time.Millisecond)
	var rolledBack analysis.Payload
	for _, p := range hooks.of(trancheapi.WebhookEvent) {
		if strings.HasPrefix(p.Message, "RolledBack: ") {
			rolledBack = p
		}
	}
	assert.Equal(t, "RolledBack: "+failed.Status.Message, rolledBack.Message)
	assert.Contains(t, rolledBack.Message, "2 failed analysis runs")
	assert.Equal(t, string(trancheapi.PhaseFailed), rolledBack.Phase)
	assert.Empty(t, hooks.of(trancheapi.WebhookPostRollout), "nothing was promoted")
}

func TestPreRolloutRefusalRollsBack(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t, "/gate") // stays closed
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{{Name: "smoke", Type: trancheapi.WebhookPreRollout, URL: hooks.URL + "/gate"}}
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)

	failed := e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
	assert.Contains(t, failed.Status.Message, "pre-rollout webhook said no")
	assert.Equal(t, []int32{0}, e.weights.list(), "no traffic reached the canary")
	e.assertPrimaryOnly(goodImage)
}
