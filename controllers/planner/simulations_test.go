package planner

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The golden simulations: each scenario runs decide through a simulated world (see
// simulate_test.go) and compares every reconcile's line with testdata/simulations.

func simRollout(steps ...trancheapi.Step) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"},
			Provider:  trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{}},
			Steps:     steps,
			Analysis: &trancheapi.Analysis{
				Interval:     &metav1.Duration{Duration: 30 * time.Second},
				FailureLimit: 2,
				Metrics:      []trancheapi.Metric{{Name: "success-rate", Builtin: trancheapi.BuiltinRequestSuccessRate, Min: ptr.To(99.0)}},
			},
			ProgressDeadline: &metav1.Duration{Duration: 5 * time.Minute},
		},
	}
}

// compareRollout holds 5% and 50% for five minutes each, judged by a Compare metric.
func compareRollout(endHoldEarly bool) *trancheapi.Rollout {
	ro := simRollout(weightStep(5, 5*time.Minute), weightStep(50, 5*time.Minute), weightStep(100, 30*time.Second))
	ro.Spec.Analysis.Metrics = []trancheapi.Metric{{
		Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "errors"}, Judge: trancheapi.JudgeCompare,
	}}
	ro.Spec.Analysis.EndHoldEarly = endHoldEarly
	ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 10 * time.Minute}
	return ro
}

func weightStep(w int32, hold time.Duration) trancheapi.Step {
	s := trancheapi.Step{Weight: ptr.To(w)}
	if hold > 0 {
		s.Hold = &metav1.Duration{Duration: hold}
	}
	return s
}

func newSim(ro *trancheapi.Rollout) *simWorld {
	return &simWorld{
		ro:         ro,
		target:     simWorkload{revision: "rev1", replicas: 3},
		readyDelay: 5 * time.Second,
		neverReady: map[string]bool{},
		verdict:    func(time.Duration, *simWorld) trancheapi.Verdict { return trancheapi.VerdictPass },
	}
}

func at(d time.Duration, do func(w *simWorld)) scripted { return scripted{at: d, do: do} }

func annotate(key, value string) func(w *simWorld) {
	return func(w *simWorld) {
		if w.ro.Annotations == nil {
			w.ro.Annotations = map[string]string{}
		}
		w.ro.Annotations[key] = value
	}
}

func TestSimulations(t *testing.T) {
	canary := func() *trancheapi.Rollout {
		return simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, 30*time.Second))
	}
	release := func(rev string) func(w *simWorld) { return func(w *simWorld) { w.release(rev) } }

	scenarios := map[string]func() *simWorld{
		"good-canary": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"bad-canary-at-5": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{at(time.Minute, release("rev2"))}
			w.verdict = func(_ time.Duration, w *simWorld) trancheapi.Verdict {
				if w.target.revision == "rev2" {
					return trancheapi.VerdictFail
				}
				return trancheapi.VerdictPass
			}
			return w
		},
		"canary-never-ready": func() *simWorld {
			w := newSim(canary())
			w.neverReady["rev2"] = true
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"prometheus-down": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{at(time.Minute, release("rev2"))}
			w.verdict = func(t time.Duration, _ *simWorld) trancheapi.Verdict {
				if t > 3*time.Minute {
					return trancheapi.VerdictInconclusive // no answer is never a pass
				}
				return trancheapi.VerdictPass
			}
			return w
		},
		"slow-data-plane": func() *simWorld {
			// The routing object says the new split 20s after it is written (a controller
			// of the mesh that rewrites it, say): each step's hold starts when it does.
			w := newSim(canary())
			w.routeLag = 20 * time.Second
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"data-plane-never-takes-the-split": func() *simWorld {
			w := newSim(canary())
			w.routeLag = time.Hour
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"data-plane-stops-taking-splits-at-step-2": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{at(time.Minute, release("rev2")), at(2*time.Minute, func(w *simWorld) { w.routeLag = time.Hour })}
			return w
		},
		"compare-rolls-a-bad-canary-back-at-once": func() *simWorld {
			w := newSim(compareRollout(false))
			w.script = []scripted{at(time.Minute, release("rev2"))}
			w.sureAfter = time.Second
			w.verdict = func(_ time.Duration, w *simWorld) trancheapi.Verdict {
				if w.target.revision == "rev2" {
					return trancheapi.VerdictFail
				}
				return trancheapi.VerdictPass
			}
			return w
		},
		"compare-ends-holds-early-when-sure": func() *simWorld {
			w := newSim(compareRollout(true))
			w.script = []scripted{at(time.Minute, release("rev2"))}
			w.sureAfter = time.Minute // two runs into each 5-minute hold
			return w
		},
		"compare-pauses-without-data": func() *simWorld {
			ro := compareRollout(false)
			ro.Spec.Analysis.Metrics[0].Compare = &trancheapi.CompareSpec{InsufficientData: trancheapi.InsufficientPause}
			w := newSim(ro)
			w.verdict = func(t time.Duration, _ *simWorld) trancheapi.Verdict {
				if t < 8*time.Minute {
					return trancheapi.VerdictWaiting
				}
				return trancheapi.VerdictPass
			}
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(9*time.Minute, annotate(trancheapi.AnnotationPromote, "t1")),
			}
			return w
		},
		"compare-waits-for-data": func() *simWorld {
			w := newSim(compareRollout(false))
			w.verdict = func(t time.Duration, _ *simWorld) trancheapi.Verdict {
				if t < 9*time.Minute {
					return trancheapi.VerdictWaiting
				}
				return trancheapi.VerdictPass
			}
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"compare-never-gets-data": func() *simWorld {
			// The canary gets no traffic: the step holds past its hold for data, until the
			// progress deadline.
			w := newSim(compareRollout(false))
			w.verdict = func(time.Duration, *simWorld) trancheapi.Verdict { return trancheapi.VerdictWaiting }
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"compare-undecided-fails-at-the-end-of-the-hold": func() *simWorld {
			ro := compareRollout(false)
			ro.Spec.Analysis.Metrics[0].Compare = &trancheapi.CompareSpec{Undecided: trancheapi.UndecidedFail}
			w := newSim(ro)
			w.verdict = func(time.Duration, *simWorld) trancheapi.Verdict { return trancheapi.VerdictUndecided }
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"compare-undecided-passes-by-policy": func() *simWorld {
			w := newSim(compareRollout(false))
			w.verdict = func(time.Duration, *simWorld) trancheapi.Verdict { return trancheapi.VerdictUndecided }
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"compare-undecided-extends-the-hold": func() *simWorld {
			// The judge says a verdict takes 7 minutes: each 5-minute hold is extended to 7.
			ro := compareRollout(false)
			ro.Spec.Analysis.Metrics[0].Compare = &trancheapi.CompareSpec{Undecided: trancheapi.UndecidedExtend}
			w := newSim(ro)
			w.needs = 7 * time.Minute
			w.verdict = func(time.Duration, *simWorld) trancheapi.Verdict { return trancheapi.VerdictUndecided }
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"dry-run-metric-fails-beside-a-passing-one": func() *simWorld {
			ro := canary()
			ro.Spec.Analysis.Metrics = append(ro.Spec.Analysis.Metrics,
				trancheapi.Metric{Name: "latency", Builtin: trancheapi.BuiltinRequestDuration, Max: ptr.To(100.0), DryRun: true})
			w := newSim(ro)
			w.dryRunVerdict = func(time.Duration, *simWorld) trancheapi.Verdict { return trancheapi.VerdictFail }
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"sticky-sessions": func() *simWorld {
			ro := canary()
			ro.Spec.SessionAffinity = &trancheapi.SessionAffinity{}
			w := newSim(ro)
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"new-revision-mid-rollout": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{at(time.Minute, release("rev2")), at(3*time.Minute, release("rev3"))}
			return w
		},
		"manual-approval": func() *simWorld {
			ro := simRollout(weightStep(10, time.Minute), trancheapi.Step{Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual})
			w := newSim(ro)
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(10*time.Minute, annotate(trancheapi.AnnotationPromote, "t1")),
			}
			return w
		},
		"promote-early-then-full": func() *simWorld {
			ro := simRollout(weightStep(10, time.Minute), weightStep(50, time.Minute),
				trancheapi.Step{Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual})
			w := newSim(ro)
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				// Sent while nothing waits: ignored, and it must not approve the gate later.
				at(90*time.Second, annotate(trancheapi.AnnotationPromote, "early")),
				at(150*time.Second, annotate(trancheapi.AnnotationPromote, trancheapi.PromoteFullPrefix+"now")),
			}
			return w
		},
		"traffic-gate-closed-past-deadline": func() *simWorld {
			ro := canary()
			ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{{Name: "capacity", Type: trancheapi.WebhookConfirmTrafficIncrease, URL: "http://capacity.test/"}}
			w := newSim(ro)
			w.script = []scripted{at(time.Minute, release("rev2"))}
			w.gate = func(trancheapi.WebhookType, time.Duration) bool { return false }
			return w
		},
		"paused-while-the-canary-fails": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(150*time.Second, annotate(trancheapi.AnnotationPaused, "true")),
				at(3*time.Minute, func(w *simWorld) { w.target.neverReady = true }), // its pods crash
			}
			return w
		},
		"new-revision-during-promotion": func() *simWorld {
			w := newSim(canary())
			w.readyDelay = 20 * time.Second                                                               // the primary takes a while
			w.script = []scripted{at(time.Minute, release("rev2")), at(240*time.Second, release("rev3"))} // rev3 arrives while the primary gets rev2
			return w
		},
		"steps-removed-mid-rollout": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(200*time.Second, func(w *simWorld) { w.ro.Spec.Steps = w.ro.Spec.Steps[:1] }),
			}
			return w
		},
		"primary-deleted-after-a-failure": func() *simWorld {
			w := newSim(canary())
			w.verdict = func(time.Duration, *simWorld) trancheapi.Verdict { return trancheapi.VerdictFail }
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(5*time.Minute, func(w *simWorld) { w.primary = nil }),
			}
			return w
		},
		"approval-while-a-run-fails": func() *simWorld {
			ro := simRollout(weightStep(10, time.Minute), trancheapi.Step{Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual})
			ro.Spec.Analysis.FailureLimit = 3
			w := newSim(ro)
			w.verdict = func(t time.Duration, _ *simWorld) trancheapi.Verdict {
				if t > 4*time.Minute && t < 5*time.Minute {
					return trancheapi.VerdictFail // one bad run while it waits
				}
				return trancheapi.VerdictPass
			}
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(4*time.Minute+45*time.Second, annotate(trancheapi.AnnotationPromote, "t1")),
			}
			return w
		},
		"abort-then-retry": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(2*time.Minute, annotate(trancheapi.AnnotationAbort, "a1")),
				at(5*time.Minute, annotate(trancheapi.AnnotationRetry, "r1")),
			}
			return w
		},
		"pause-and-resume": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(2*time.Minute, annotate(trancheapi.AnnotationPaused, "true")),
				at(6*time.Minute, annotate(trancheapi.AnnotationPaused, "false")),
			}
			return w
		},
		"blue-green-with-gates": func() *simWorld {
			ro := simRollout()
			ro.Spec.Provider = trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}}
			ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{
				{Name: "smoke", Type: trancheapi.WebhookPreRollout, URL: "http://smoke.test/"},
				{Name: "window", Type: trancheapi.WebhookConfirmPromotion, URL: "http://window.test/"},
			}
			w := newSim(ro)
			w.script = []scripted{at(time.Minute, release("rev2"))}
			w.gate = func(kind trancheapi.WebhookType, t time.Duration) bool {
				return kind != trancheapi.WebhookConfirmPromotion || t >= 4*time.Minute // the change window opens at 4m
			}
			return w
		},
	}
	for name, setup := range scenarios {
		t.Run(name, func(t *testing.T) { matchGolden(t, name, setup().run(t, 30*time.Minute)) })
	}
}

// matchGolden compares a simulation's lines with testdata/simulations/name.golden, which
// -update writes.
func matchGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "simulations", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create the golden file")
	require.Equal(t, string(want), got)
}
