package planner

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
	"github.com/tranche-dev/tranche/providers/traffic"
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
	routes  traffic.Routes

	// primaryVerdict, when set, is every threshold metric's verdict on the primary at time t
	// (a paced rollback watches it); nil passes.
	primaryVerdict func(t time.Duration) trancheapi.Verdict
	// peers, when set, are the other members of the Rollout's group as their status says.
	peers func() []Member
	// autoscaler, when set, scales the target and (a copy of it) the primary: it keeps the
	// primary at the floor a paced rollback asks for, the replicas ready after readyDelay.
	autoscaler *Autoscaling

	routeLag  time.Duration   // how long the data plane takes to say the routes it was given
	pending   *traffic.Routes // routes given and not yet said
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
	revision string
	replicas int32
	readyAt  time.Duration // when the last change becomes ready
	// readyBefore counts the replicas that stay ready until then: those of a scale-up.
	readyBefore int32
	// ran are the revisions the workload ran before its current one, the latest last (what
	// a Deployment's ReplicaSets keep).
	ran        []string
	neverReady bool
}

type scripted struct {
	at time.Duration
	do func(w *simWorld)
}

var simStart = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func (w *simWorld) observe() World {
	if w.pending != nil && w.t >= w.appliesAt {
		w.routes, w.pending = *w.pending, nil
	}
	obs := World{Now: simStart.Add(w.t), Rollout: w.ro, Target: w.target.view(w.t), Routes: w.routes, Autoscaler: w.autoscaler}
	if w.peers != nil {
		obs.Group = w.peers()
	}
	if w.primary != nil {
		p := w.primary.view(w.t)
		obs.Primary = &p
	}
	return obs
}

func (s simWorkload) view(t time.Duration) Workload {
	w := Workload{Revision: s.revision, Replicas: s.replicas, Ready: s.replicas > 0 && !s.neverReady && t >= s.readyAt}
	switch {
	case w.Ready:
		w.ReadyReplicas = s.replicas
	case !s.neverReady:
		w.ReadyReplicas = min(s.replicas, s.readyBefore)
	}
	return w
}

// followFloor plays the primary's autoscaler, whose floor the reconciler raises to the one
// the status asks for.
func (w *simWorld) followFloor() {
	if floor := w.ro.Status.PrimaryMinReplicas; w.autoscaler != nil && w.primary != nil && floor > w.primary.replicas {
		w.primary.readyBefore = w.primary.view(w.t).ReadyReplicas
		w.primary.replicas, w.primary.readyAt = floor, w.t+w.readyDelay
	}
}

// fulfil answers what decide asked for.
func (w *simWorld) fulfil(obs World, n Need) World {
	if n.PrimaryAnalysis {
		v := trancheapi.VerdictPass
		if w.primaryVerdict != nil {
			v = w.primaryVerdict(w.t)
		}
		run := AnalysisRun{}
		for _, m := range w.ro.Spec.Analysis.Metrics {
			if m.Judge != trancheapi.JudgeCompare {
				run.Checks = append(run.Checks, trancheapi.CheckResult{Metric: m.Name, Value: valueFor(v), Verdict: v, At: metav1.NewMicroTime(obs.Now)})
			}
		}
		obs.PrimaryAnalysis = &run
	}
	if n.Earlier {
		obs.Earlier = &Earlier{Why: "the primary keeps no template before its current one"}
		if ran := w.primary.ran; len(ran) > 0 {
			obs.Earlier = &Earlier{Kept: true, Revision: ran[len(ran)-1]}
		}
	}
	if n.Analysis {
		w.analysisRun++
		run := AnalysisRun{}
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
				Metric: m.Name, Value: valueFor(v), Verdict: v, Final: final, DryRun: m.DryRun, At: metav1.NewMicroTime(obs.Now),
			}
			if v == trancheapi.VerdictUndecided && w.needs > 0 {
				c.Needs = &metav1.Duration{Duration: w.needs}
				c.Message = "no verdict yet"
			}
			run.Checks = append(run.Checks, c)
		}
		obs.Analysis = &run
	}
	if n.Gate != "" {
		if obs.Gates == nil {
			obs.Gates = map[trancheapi.WebhookType]GateAnswer{}
		}
		open := w.gate == nil || w.gate(n.Gate, w.t)
		obs.Gates[n.Gate] = GateAnswer{Open: open, Message: map[bool]string{true: "yes", false: "503 Service Unavailable"}[open]}
	}
	return obs
}

func describeAnswer(obs World, n Need) string {
	if n.Analysis {
		var parts []string
		for _, c := range obs.Analysis.Checks {
			part := fmt.Sprintf("%s=%s %s", c.Metric, c.Value, c.Verdict)
			if c.DryRun {
				part += " (dry run)"
			}
			parts = append(parts, part)
		}
		return "analysis: " + strings.Join(parts, ", ")
	}
	if n.PrimaryAnalysis {
		var parts []string
		for _, c := range obs.PrimaryAnalysis.Checks {
			parts = append(parts, fmt.Sprintf("%s=%s %s", c.Metric, c.Value, c.Verdict))
		}
		return "the primary's analysis: " + strings.Join(parts, ", ")
	}
	if n.Earlier {
		if e := obs.Earlier; e.Kept {
			return "the primary's earlier revision: " + e.Revision
		}
		return "the primary's earlier revision: none"
	}
	return fmt.Sprintf("gate %s: %s", n.Gate, obs.Gates[n.Gate].Message)
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
func (w *simWorld) apply(a Action) string {
	w.unchanged = false
	switch a.Kind {
	case CreatePrimary:
		w.primary = &simWorkload{revision: w.target.revision, replicas: a.Replicas, readyAt: w.t + w.readyDelay}
		return fmt.Sprintf("create-primary(replicas=%d)", a.Replicas)
	case UpdatePrimary:
		w.primary.ran = append(w.primary.ran, w.primary.revision)
		w.primary.revision = w.target.revision
		w.primary.readyAt = w.t + w.readyDelay
		return "update-primary(" + w.target.revision + ")"
	case RestorePrimary:
		w.primary.ran = append(w.primary.ran, w.primary.revision)
		w.primary.revision = a.Revision
		w.primary.readyAt = w.t + w.readyDelay
		return "restore-primary(" + a.Revision + ")"
	case ScaleTarget:
		if a.Replicas > w.target.replicas {
			w.target.readyBefore = w.target.view(w.t).ReadyReplicas // those stay ready
			w.target.readyAt = w.t + w.readyDelay
		}
		w.target.replicas = a.Replicas
		return fmt.Sprintf("scale-target(%d)", a.Replicas)
	case SetRoutes:
		w.unchanged = w.pending != nil && w.pending.Equal(a.Routes) // the same again writes nothing
		if !w.unchanged {
			w.pending, w.appliesAt = &a.Routes, w.t+w.routeLag
		}
		return "set-routes(" + describeRoutes(a.Routes) + ")"
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
		next, ok := w.reconcile(t, &out, "")
		if !ok {
			break
		}
		w.t = next
	}
	return out.String()
}

// reconcile runs one reconcile at w.t, writes its lines to out (each after prefix), and
// returns when the next is due; false when none is.
func (w *simWorld) reconcile(t *testing.T, out *strings.Builder, prefix string) (time.Duration, bool) {
	t.Helper()
	for len(w.script) > 0 && w.script[0].at <= w.t {
		w.script[0].do(w)
		w.script = w.script[1:]
	}
	obs := w.observe()
	lagging, stepBefore := w.pending != nil, w.ro.Status.CurrentStep
	p := Decide(obs)
	var asked []string
	for p.Need.Any() {
		require.False(t, lagging && p.Need.Analysis, "at %s: analysis before the data plane said the routes", w.t)
		require.Less(t, len(asked), 4, "decide keeps asking: %+v", p.Need)
		obs = w.fulfil(obs, p.Need)
		asked = append(asked, describeAnswer(obs, p.Need))
		p = Decide(obs)
	}
	if p.Stalled != nil {
		fmt.Fprintf(out, "%s%8s  stalled %s: %s\n", prefix, w.t, p.Stalled.Reason, p.Stalled.Message)
		return 0, false
	}
	require.False(t, lagging && p.Status.CurrentStep > stepBefore, "at %s: a new step before the data plane said the routes", w.t)
	w.ro.Status = roundTrip(t, p.Status)
	if w.onDecide != nil {
		w.onDecide(w)
	}
	w.checkInvariants(t, p)
	done := w.apply(p.Action)
	w.followFloor()
	fmt.Fprintf(out, "%s%8s  %-15s step=%d weight=%-3d failed=%d  %-38s %s\n", prefix,
		w.t, w.ro.Status.Phase, w.ro.Status.CurrentStep, w.ro.Status.CanaryWeight, w.ro.Status.FailedChecks, done, w.ro.Status.Message)
	for _, a := range asked {
		fmt.Fprintf(out, "%s%8s    asked %s\n", prefix, "", a)
	}
	for _, e := range p.Events {
		fmt.Fprintf(out, "%s%8s    event %s: %s\n", prefix, "", e.Reason, e.Message)
	}
	for _, h := range p.Hooks {
		fmt.Fprintf(out, "%s%8s    webhook %s\n", prefix, "", h)
	}
	return w.next(p)
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
func (w *simWorld) checkInvariants(t *testing.T, p Plan) {
	t.Helper()
	if p.Action.Kind == SetRoutes && !isPrimaryOnly(p.Action.Routes) {
		require.True(t, w.target.view(w.t).Ready, "at %s: traffic routed to a canary that is not ready", w.t)
	}
	if p.Action.Kind == SetRoutes {
		require.NoError(t, p.Action.Routes.Validate(), "at %s: routes no provider takes", w.t)
	}
	if p.Action.Kind == SetRoutes && p.Status.Phase.UnderWay() && p.Action.Routes.CanaryWeight > w.routes.CanaryWeight {
		weight := p.Action.Routes.CanaryWeight
		need := max(1, (weight*p.Status.StableReplicas+99)/100)
		if w.autoscaler != nil {
			need = min(need, w.autoscaler.Max)
		}
		require.GreaterOrEqual(t, w.target.view(w.t).readyReplicas(), need,
			"at %s: the canary gets %d%% of traffic with fewer ready replicas than the %d it needs", w.t, weight, need)
	}
	if p.Action.Kind == SetRoutes && w.ro.Spec.PacedRollback() && !p.Status.Phase.UnderWay() && w.primary != nil {
		share := 100 - p.Action.Routes.CanaryWeight
		need := max(1, (share*p.Status.StableReplicas+99)/100)
		hurried := len(p.Events) > 0 && p.Events[len(p.Events)-1].Reason == "RollbackHurried"
		require.True(t, hurried || w.primary.view(w.t).ReadyReplicas >= need,
			"at %s: the primary gets %d%% of traffic with %d ready replicas of the %d it needs", w.t, share, w.primary.view(w.t).ReadyReplicas, need)
	}

	if p.Action.Kind == UpdatePrimary {
		require.NotEqual(t, w.primary.revision, w.target.revision, "at %s: revision promoted twice", w.t)
		require.Equal(t, p.Status.CanaryRevision, w.target.revision, "at %s: the primary gets a revision that was not tested", w.t)
		require.Equal(t, trancheapi.PhasePromoting, p.Status.Phase, "at %s: primary changed outside a promotion", w.t)
	}
	if p.Status.Phase == trancheapi.PhaseSucceeded {
		require.NotEqual(t, trancheapi.VerdictFail, lastVerdict(p.Status.LastChecks), "at %s: promoted on a failed check", w.t)
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
func (w *simWorld) next(p Plan) (time.Duration, bool) {
	var candidates []time.Duration
	if p.Action.Kind != NoAction && !w.unchanged {
		candidates = append(candidates, w.t+300*time.Millisecond) // the watch event of the change
	}
	if w.pending != nil {
		candidates = append(candidates, w.appliesAt+300*time.Millisecond) // the data plane's change
	}
	if p.Requeue > 0 {
		candidates = append(candidates, w.t+p.Requeue)
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
