package planner

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The golden simulations of the ways back to the stable version (paced rollbacks, undo) and
// of the replicas a share needs; see TestSimulations.

func TestWayBackSimulations(t *testing.T) {
	canary := func() *trancheapi.Rollout {
		return simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, 30*time.Second))
	}
	release := func(rev string) func(w *simWorld) { return func(w *simWorld) { w.release(rev) } }

	scenarios := map[string]func() *simWorld{
		"undo-after-promotion": func() *simWorld {
			// rev2 is promoted and turns out bad in production: an undo puts rev1 back on the
			// primary at once; rev2 is not rolled out again until a retry, which walks it anew.
			w := newSim(canary())
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(6*time.Minute, annotate(trancheapi.AnnotationUndo, "u1 by alice")),
				at(7*time.Minute, annotate(trancheapi.AnnotationRetry, "r1")),
			}
			return w
		},
		"undo-with-nothing-to-go-back-to": func() *simWorld {
			// Before any promotion the primary has run one revision: the undo is refused, and
			// says why.
			w := newSim(canary())
			w.script = []scripted{at(time.Minute, annotate(trancheapi.AnnotationUndo, "u1"))}
			return w
		},
		"undo-during-a-rollout": func() *simWorld {
			w := newSim(canary())
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(2*time.Minute, release("rev3")),
				at(3*time.Minute, annotate(trancheapi.AnnotationUndo, "u1")),
			}
			return w
		},
		"canary-shrunk-by-its-autoscaler": func() *simWorld {
			// The canary's autoscaler shrank it to 1 replica while it had 5%: before it gets
			// 50% it is scaled up to the 2 that share needs, and the step waits for them.
			w := newSim(canary())
			w.autoscaler = &Autoscaling{Name: "podinfo", Min: 1, Max: 4, Settled: true}
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(90*time.Second, func(w *simWorld) { w.target.replicas = 1 }),
			}
			return w
		},
		"paced-rollback-at-50": func() *simWorld {
			// A canary that fails at 50% hands its traffic back through 5%, each weight held
			// 30s; the primary has every replica ready throughout.
			w := newSim(paced(canary()))
			w.verdict = failsAt(50)
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"paced-rollback-waits-for-the-primary": func() *simWorld {
			// The primary's autoscaler shrank it to 2 of 4 while the canary carried half: it
			// takes 95% only once its floor is raised and 4 replicas are ready.
			w := newSim(paced(canary()))
			w.target.replicas = 4
			w.readyDelay = 20 * time.Second
			w.autoscaler = &Autoscaling{Name: "podinfo", Min: 1, Max: 6, Settled: true}
			w.verdict = failsAt(50)
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(150*time.Second, func(w *simWorld) { w.primary.replicas = 2 }),
			}
			return w
		},
		"paced-rollback-holds-while-the-primary-fails": func() *simWorld {
			// The primary fails its success rate for a minute after it takes 95% back (cold):
			// it is given the rest only once it passes again.
			w := newSim(paced(canary()))
			w.verdict = failsAt(50)
			w.primaryVerdict = func(t time.Duration) trancheapi.Verdict {
				if t > 3*time.Minute+30*time.Second && t < 4*time.Minute+30*time.Second {
					return trancheapi.VerdictFail
				}
				return trancheapi.VerdictPass
			}
			w.script = []scripted{at(time.Minute, release("rev2"))}
			return w
		},
		"paced-abort-from-100": func() *simWorld {
			// Aborted while the canary waits for approval at 100%: back through 50 and 5.
			ro := paced(simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute),
				trancheapi.Step{Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual}))
			w := newSim(ro)
			w.script = []scripted{at(time.Minute, release("rev2")), at(4*time.Minute, annotate(trancheapi.AnnotationAbort, "a1"))}
			return w
		},
		"paced-rollback-of-a-canary-that-crashes": func() *simWorld {
			// The canary's pods crash on the way back: what is left goes back at once.
			w := newSim(paced(canary()))
			w.verdict = failsAt(50)
			w.script = []scripted{
				at(time.Minute, release("rev2")),
				at(200*time.Second, func(w *simWorld) { w.target.neverReady = true }),
			}
			return w
		},
	}
	for name, setup := range scenarios {
		t.Run(name, func(t *testing.T) { matchGolden(t, name, setup().run(t, 30*time.Minute)) })
	}
}

// paced hands traffic back in steps of 30s.
func paced(ro *trancheapi.Rollout) *trancheapi.Rollout {
	ro.Spec.Rollback = &trancheapi.Rollback{Pace: trancheapi.RollbackSteps, Hold: &metav1.Duration{Duration: 30 * time.Second}}
	return ro
}

// failsAt fails the new revision's analysis once it has weight percent of the traffic.
func failsAt(weight int32) func(time.Duration, *simWorld) trancheapi.Verdict {
	return func(_ time.Duration, w *simWorld) trancheapi.Verdict {
		if w.target.revision != "rev1" && w.routes.CanaryWeight >= weight {
			return trancheapi.VerdictFail
		}
		return trancheapi.VerdictPass
	}
}
