package controllers

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

var update = flag.Bool("update", false, "rewrite the golden files of the simulations")

// simWorld plays everything decide observes: Deployments that become ready some time after
// they change, a data plane that applies routes at once (or routeLag later), a judge that
// gives scripted verdicts, and people who send requests at given times.
type simWorld struct {
	t       time.Duration // since the start
	ro      *trancheapi.Rollout
	target  simWorkload
	primary *simWorkload
	routes  providers.Routes

	routeLag  time.Duration     // how long the data plane takes to say the routes it was given
	pending   *providers.Routes // routes given and not yet said
	appliesAt time.Duration
	unchanged bool // the last action changed nothing, so no watch event follows it

	readyDelay  time.Duration                                         // how long a scaled or updated Deployment takes to be ready
	neverReady  map[string]bool                                       // revisions whose pods never become ready
	verdict     func(t time.Duration, w *simWorld) trancheapi.Verdict // every metric's verdict at time t
	gate        func(kind trancheapi.WebhookType, t time.Duration) bool
	script      []scripted // changes made by people, in time order
	analysisRun int
	sureAfter   time.Duration // how long into a step a Compare metric's verdict becomes final; 0: never
	needs       time.Duration // what an Undecided check says a verdict needs; 0: unknown
	// dryRunVerdict, when set, gives the verdicts of dry-run metrics (the others get verdict's).
	dryRunVerdict func(t time.Duration, w *simWorld) trancheapi.Verdict
	onDecide      func(w *simWorld) // called with each decision's status in place, for tests that watch a run
}

// stepStart is when the current step's hold began, as the status says.
func (w *simWorld) stepStart() time.Duration {
	if w.ro.Status.StepStartedAt == nil {
		return w.t
	}
	return w.ro.Status.StepStartedAt.Time.Sub(simStart)
}

type simWorkload struct {
	revision   string
	replicas   int32
	readyAt    time.Duration // when the last change becomes ready
	neverReady bool
}

type scripted struct {
	at time.Duration
	do func(w *simWorld)
}

var simStart = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func (w *simWorld) observe() world {
	if w.pending != nil && w.t >= w.appliesAt {
		w.routes, w.pending = *w.pending, nil
	}
	obs := world{now: simStart.Add(w.t), rollout: w.ro, target: w.target.view(w.t), routes: w.routes}
	if w.primary != nil {
		p := w.primary.view(w.t)
		obs.primary = &p
	}
	return obs
}

func (s simWorkload) view(t time.Duration) workload {
	return workload{revision: s.revision, replicas: s.replicas, ready: s.replicas > 0 && !s.neverReady && t >= s.readyAt}
}

// fulfil answers what decide asked for.
func (w *simWorld) fulfil(obs world, n need) world {
	if n.analysis {
		w.analysisRun++
		run := analysisRun{}
		for _, m := range w.ro.Spec.Analysis.Metrics {
			v := w.verdict(w.t, w)
			if m.DryRun && w.dryRunVerdict != nil {
				v = w.dryRunVerdict(w.t, w)
			}
			// A Compare metric's pass or fail is final once its test is sure: here, from the
			// sure time on.
			final := m.Judge == trancheapi.JudgeCompare && w.sureAfter > 0 && w.t-w.stepStart() >= w.sureAfter &&
				(v == trancheapi.VerdictPass || v == trancheapi.VerdictFail)
			c := trancheapi.CheckResult{
				Metric: m.Name, Value: valueFor(v), Verdict: v, Final: final, DryRun: m.DryRun, At: metav1.NewMicroTime(obs.now),
			}
			if v == trancheapi.VerdictUndecided && w.needs > 0 {
				c.Needs = &metav1.Duration{Duration: w.needs}
				c.Message = "no verdict yet"
			}
			run.checks = append(run.checks, c)
		}
		obs.analysis = &run
	}
	if n.gate != "" {
		if obs.gates == nil {
			obs.gates = map[trancheapi.WebhookType]gateAnswer{}
		}
		open := w.gate == nil || w.gate(n.gate, w.t)
		obs.gates[n.gate] = gateAnswer{open: open, message: map[bool]string{true: "yes", false: "503 Service Unavailable"}[open]}
	}
	return obs
}

func describeAnswer(obs world, n need) string {
	if n.analysis {
		var parts []string
		for _, c := range obs.analysis.checks {
			part := fmt.Sprintf("%s=%s %s", c.Metric, c.Value, c.Verdict)
			if c.DryRun {
				part += " (dry run)"
			}
			parts = append(parts, part)
		}
		return "analysis: " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("gate %s: %s", n.gate, obs.gates[n.gate].message)
}

func valueFor(v trancheapi.Verdict) string {
	switch v {
	case trancheapi.VerdictPass, trancheapi.VerdictUndecided:
		return "99.9"
	case trancheapi.VerdictFail:
		return "70"
	}
	return ""
}

// apply makes the action happen in the simulated world.
func (w *simWorld) apply(a action) string {
	w.unchanged = false
	switch a.kind {
	case actCreatePrimary:
		w.primary = &simWorkload{revision: w.target.revision, replicas: a.replicas, readyAt: w.t + w.readyDelay}
		return fmt.Sprintf("create-primary(replicas=%d)", a.replicas)
	case actUpdatePrimary:
		w.primary.revision = w.target.revision
		w.primary.readyAt = w.t + w.readyDelay
		return "update-primary(" + w.target.revision + ")"
	case actScaleTarget:
		if a.replicas > w.target.replicas {
			w.target.readyAt = w.t + w.readyDelay
		}
		w.target.replicas = a.replicas
		return fmt.Sprintf("scale-target(%d)", a.replicas)
	case actSetRoutes:
		w.unchanged = w.pending != nil && w.pending.Equal(a.routes) // the same again writes nothing
		if !w.unchanged {
			w.pending, w.appliesAt = &a.routes, w.t+w.routeLag
		}
		return "set-routes(" + describeRoutes(a.routes) + ")"
	}
	return "-"
}

// release changes the target's pod template, as a person's Git commit would.
func (w *simWorld) release(revision string) {
	w.target.revision = revision
	w.target.neverReady = w.neverReady[revision]
	if w.target.replicas > 0 {
		w.target.readyAt = w.t + w.readyDelay
	}
}

// run reconciles until nothing is left to do, jumping the clock to each requeue or world
// change, and returns one line per reconcile.
func (w *simWorld) run(t *testing.T, limit time.Duration) string {
	t.Helper()
	var out strings.Builder
	for i := 0; i < 500 && w.t <= limit; i++ {
		for len(w.script) > 0 && w.script[0].at <= w.t {
			w.script[0].do(w)
			w.script = w.script[1:]
		}
		obs := w.observe()
		lagging, stepBefore := w.pending != nil, w.ro.Status.CurrentStep
		p := decide(obs)
		var asked []string
		for p.need.any() {
			require.False(t, lagging && p.need.analysis, "at %s: analysis before the data plane said the routes", w.t)
			require.Less(t, len(asked), 4, "decide keeps asking: %+v", p.need)
			obs = w.fulfil(obs, p.need)
			asked = append(asked, describeAnswer(obs, p.need))
			p = decide(obs)
		}
		if p.stalled != nil {
			fmt.Fprintf(&out, "%8s  stalled %s: %s\n", w.t, p.stalled.reason, p.stalled.message)
			break
		}
		require.False(t, lagging && p.status.CurrentStep > stepBefore, "at %s: a new step before the data plane said the routes", w.t)
		w.ro.Status = roundTrip(t, p.status)
		if w.onDecide != nil {
			w.onDecide(w)
		}
		w.checkInvariants(t, p)
		done := w.apply(p.action)
		fmt.Fprintf(&out, "%8s  %-15s step=%d weight=%-3d failed=%d  %-38s %s\n",
			w.t, w.ro.Status.Phase, w.ro.Status.CurrentStep, w.ro.Status.CanaryWeight, w.ro.Status.FailedChecks, done, w.ro.Status.Message)
		for _, a := range asked {
			fmt.Fprintf(&out, "%8s    asked %s\n", "", a)
		}
		for _, e := range p.events {
			fmt.Fprintf(&out, "%8s    event %s: %s\n", "", e.reason, e.message)
		}
		for _, h := range p.hooks {
			fmt.Fprintf(&out, "%8s    webhook %s\n", "", h)
		}
		next, ok := w.next(p)
		if !ok {
			break
		}
		w.t = next
	}
	return out.String()
}

// roundTrip stores a status as the API server does: through JSON, where times keep only
// whole seconds.
func roundTrip(t *testing.T, st trancheapi.RolloutStatus) trancheapi.RolloutStatus {
	t.Helper()
	data, err := json.Marshal(st)
	require.NoError(t, err)
	var stored trancheapi.RolloutStatus
	require.NoError(t, json.Unmarshal(data, &stored))
	return stored
}

// checkInvariants fails the test when a plan breaks a promise Tranche makes whatever happens.
func (w *simWorld) checkInvariants(t *testing.T, p plan) {
	t.Helper()
	if p.action.kind == actSetRoutes && !isPrimaryOnly(p.action.routes) {
		require.True(t, w.target.view(w.t).ready, "at %s: traffic routed to a canary that is not ready", w.t)
	}
	if p.action.kind == actSetRoutes {
		require.NoError(t, p.action.routes.Validate(), "at %s: routes no provider takes", w.t)
	}

	if p.action.kind == actUpdatePrimary {
		require.NotEqual(t, w.primary.revision, w.target.revision, "at %s: revision promoted twice", w.t)
		require.Equal(t, p.status.CanaryRevision, w.target.revision, "at %s: the primary gets a revision that was not tested", w.t)
		require.Equal(t, trancheapi.PhasePromoting, p.status.Phase, "at %s: primary changed outside a promotion", w.t)
	}
	if p.status.Phase == trancheapi.PhaseSucceeded {
		require.NotEqual(t, trancheapi.VerdictFail, lastVerdict(p.status.LastChecks), "at %s: promoted on a failed check", w.t)
	}
}

func lastVerdict(checks []trancheapi.CheckResult) trancheapi.Verdict {
	if len(checks) == 0 {
		return ""
	}
	return checks[0].Verdict
}

// next is when the next reconcile happens: at the requeue, after an action (the watch sees
// the change at once), when a Deployment becomes ready, or when a person acts.
func (w *simWorld) next(p plan) (time.Duration, bool) {
	var candidates []time.Duration
	if p.action.kind != actNone && !w.unchanged {
		candidates = append(candidates, w.t+300*time.Millisecond) // the watch event of the change
	}
	if w.pending != nil {
		candidates = append(candidates, w.appliesAt+300*time.Millisecond) // the data plane's change
	}
	if p.requeue > 0 {
		candidates = append(candidates, w.t+p.requeue)
	}
	for _, wl := range []*simWorkload{&w.target, w.primary} {
		if wl != nil && wl.replicas > 0 && !wl.neverReady && wl.readyAt > w.t {
			candidates = append(candidates, wl.readyAt)
		}
	}
	if len(w.script) > 0 {
		candidates = append(candidates, w.script[0].at)
	}
	if len(candidates) == 0 {
		return 0, false
	}
	next := candidates[0]
	for _, c := range candidates[1:] {
		next = min(next, c)
	}
	return max(next, w.t+100*time.Millisecond), true
}
