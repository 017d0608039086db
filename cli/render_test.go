package cli_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files from the output")

// now is the fixed time the views are drawn at.
var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// agoExact is ago as status keeps the times of steps and analysis runs.
func agoExact(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(now.Add(-d)) }

// midStep is a Rollout at its second step, one metric passing and one failing once.
func midStep() *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo", CreationTimestamp: ago(3 * time.Hour)},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"},
			Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
				ParentRefs: []trancheapi.ParentReference{{Name: "public"}},
			}},
			Steps: []trancheapi.Step{
				{Weight: ptr.To[int32](5), Hold: &metav1.Duration{Duration: 2 * time.Minute}},
				{Weight: ptr.To[int32](50), Hold: &metav1.Duration{Duration: 5 * time.Minute}},
				{Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual},
			},
			Analysis: &trancheapi.Analysis{
				Interval:     &metav1.Duration{Duration: 30 * time.Second},
				FailureLimit: 2,
				Metrics: []trancheapi.Metric{
					{Name: "success-rate", Builtin: trancheapi.BuiltinRequestSuccessRate, Min: ptr.To(99.0)},
					{Name: "latency-p99", Builtin: trancheapi.BuiltinRequestDuration, Max: ptr.To(500.0)},
				},
			},
		},
		Status: trancheapi.RolloutStatus{
			Phase: trancheapi.PhaseProgressing, StableRevision: "7f9c2a1b3d", CanaryRevision: "1a2b3c4d5e",
			CurrentStep: 1, CanaryWeight: 50, FailedChecks: 1, StepStartedAt: ptr.To(agoExact(2 * time.Minute)),
			Message: "Step 2/3: weight 50%, held 2m0s of 5m0s; analysis failed (1/2)",
			LastChecks: []trancheapi.CheckResult{
				{Metric: "success-rate", Value: "99.7", Verdict: trancheapi.VerdictPass, At: agoExact(10 * time.Second)},
				{Metric: "latency-p99", Value: "612", Verdict: trancheapi.VerdictFail, At: agoExact(10 * time.Second)},
				// An older run: the views show each metric's newest result only.
				{Metric: "success-rate", Value: "99.9", Verdict: trancheapi.VerdictPass, At: agoExact(40 * time.Second)},
				{Metric: "latency-p99", Value: "210", Verdict: trancheapi.VerdictPass, At: agoExact(40 * time.Second)},
			},
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: "True", Reason: "ReferencesResolved", Message: "References resolve", LastTransitionTime: ago(3 * time.Hour)},
				{Type: "Reconciling", Status: "True", Reason: "Progressing", Message: "Rolling out revision 1a2b3c4d5e", LastTransitionTime: ago(6 * time.Minute)},
			},
		},
	}
}

func event(age time.Duration, kind, reason, note string) eventsv1.Event {
	return eventsv1.Event{EventTime: metav1.NewMicroTime(now.Add(-age)), Type: kind, Reason: reason, Note: note}
}

func TestGetViewMidStep(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, cli.RenderView(&out, cli.View{Rollout: midStep(), Events: []eventsv1.Event{
		event(6*time.Minute, "Normal", "RolloutStarted", "Rolling out revision 1a2b3c4d5e (stable: 7f9c2a1b3d): scaling the canary up"),
		event(2*time.Minute, "Normal", "StepCompleted", "Step 1/3 passed"),
		event(10*time.Second, "Warning", "AnalysisFailed", "Analysis failed (1/2): latency-p99 = 612"),
	}}, now, false))
	golden(t, "get-mid-step.golden", out.String())
}

func TestListOfSeveral(t *testing.T) {
	progressing := midStep()
	succeeded := midStep()
	succeeded.Namespace, succeeded.Name = "billing", "invoices"
	succeeded.Status = trancheapi.RolloutStatus{Phase: trancheapi.PhaseSucceeded, StableRevision: "9e8d7c6b5a", CanaryRevision: "9e8d7c6b5a",
		LastChecks: []trancheapi.CheckResult{{Metric: "success-rate", Value: "100", Verdict: trancheapi.VerdictPass}}}
	failed := midStep()
	failed.Name = "cart"
	failed.Status = trancheapi.RolloutStatus{Phase: trancheapi.PhaseFailed, StableRevision: "7f9c2a1b3d", CanaryRevision: "0badc0ffee",
		LastChecks: []trancheapi.CheckResult{{Metric: "success-rate", Value: "71", Verdict: trancheapi.VerdictFail}, {Metric: "latency-p99", Verdict: trancheapi.VerdictInconclusive}}}
	fresh := midStep()
	fresh.Name, fresh.Status = "new", trancheapi.RolloutStatus{}

	var out bytes.Buffer
	require.NoError(t, cli.RenderList(&out, []trancheapi.Rollout{*succeeded, *failed, *fresh, *progressing}, true, now, false))
	golden(t, "list.golden", out.String())
}

func TestColoursOnlyWhenAsked(t *testing.T) {
	var plain, coloured bytes.Buffer
	require.NoError(t, cli.RenderList(&plain, []trancheapi.Rollout{*midStep()}, false, now, false))
	require.NoError(t, cli.RenderList(&coloured, []trancheapi.Rollout{*midStep()}, false, now, true))
	assert.NotContains(t, plain.String(), "\x1b[")
	assert.Contains(t, coloured.String(), "\x1b[34mProgressing\x1b[0m")
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to write it")
	assert.Equal(t, string(want), got)
}

// Members of a group are listed with their group's name; a list without any shows no column.
func TestListOfAGroup(t *testing.T) {
	backend, frontend, alone := midStep(), midStep(), midStep()
	backend.Name, frontend.Name, alone.Name = "pay", "shopfront", "search"
	backend.Spec.Group = &trancheapi.Group{Name: "checkout"}
	frontend.Spec.Group = &trancheapi.Group{Name: "checkout", After: []trancheapi.GroupOrder{{Rollout: "pay"}}}
	frontend.Status = trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "7f9c2a1b3d", CanaryRevision: "5e6f7a8b9c",
		Message: "Waiting for pay (group checkout) to pass 3 of its 3 steps before the canary takes traffic; it has passed 1"}
	var out bytes.Buffer
	require.NoError(t, cli.RenderList(&out, []trancheapi.Rollout{*backend, *alone, *frontend}, false, now, false))
	golden(t, "list-group.golden", out.String())
}

// The view of a member shows its group: every member, in release order, with where it is
// and whom it comes after.
func TestGetViewOfAGroupMember(t *testing.T) {
	backend, frontend, other := midStep(), midStep(), midStep()
	backend.Name, frontend.Name, other.Name = "pay", "shopfront", "search"
	backend.Spec.Group = &trancheapi.Group{Name: "checkout"}
	frontend.Spec.Group = &trancheapi.Group{Name: "checkout", After: []trancheapi.GroupOrder{{Rollout: "pay", Steps: ptr.To[int32](1)}}}
	frontend.Status = trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "7f9c2a1b3d", CanaryRevision: "5e6f7a8b9c",
		Message: "Waiting for pay (group checkout) to pass 1 of its 3 steps before the canary takes traffic; it has passed 0"}
	var out bytes.Buffer
	members := cli.Members([]trancheapi.Rollout{*frontend, *other, *backend}, "shop", "checkout")
	require.NoError(t, cli.RenderView(&out, cli.View{Rollout: frontend, Members: members}, now, false))
	golden(t, "get-group-member.golden", out.String())
}

func TestMembersComeInTheOrderTheyAreReleased(t *testing.T) {
	member := func(name, group string, after ...string) trancheapi.Rollout {
		ro := trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
		if group != "" {
			ro.Spec.Group = &trancheapi.Group{Name: group}
			for _, a := range after {
				ro.Spec.Group.After = append(ro.Spec.Group.After, trancheapi.GroupOrder{Rollout: a})
			}
		}
		return ro
	}
	elsewhere := member("db", "checkout")
	elsewhere.Namespace = "other"
	for _, tc := range []struct {
		name     string
		rollouts []trancheapi.Rollout
		want     []string
	}{
		{"by name without an order", []trancheapi.Rollout{member("b", "checkout"), member("a", "checkout")}, []string{"a", "b"}},
		{"after those it comes after", []trancheapi.Rollout{member("a", "checkout", "c"), member("c", "checkout", "b"), member("b", "checkout")}, []string{"b", "c", "a"}},
		{"one after two", []trancheapi.Rollout{member("web", "checkout", "pay", "cart"), member("pay", "checkout"), member("cart", "checkout")}, []string{"cart", "pay", "web"}},
		{"a member after one that does not exist", []trancheapi.Rollout{member("web", "checkout", "gone"), member("api", "checkout", "web")}, []string{"web", "api"}},
		{"a circle last, by name", []trancheapi.Rollout{member("y", "checkout", "x"), member("x", "checkout", "y"), member("z", "checkout")}, []string{"z", "x", "y"}},
		{"only the group's, of the namespace", []trancheapi.Rollout{member("pay", "checkout"), member("search", ""), member("mail", "notify"), elsewhere}, []string{"pay"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ro := range cli.Members(tc.rollouts, "shop", "checkout") {
				got = append(got, ro.Name)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
