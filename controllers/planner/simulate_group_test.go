package planner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// simGroup runs the Rollouts of one group side by side on one clock: each member decides on
// its own world and on the others' status, as the reconciler gives it them, and a member's
// status change wakes the others, as the watch on the group's Rollouts does.
type simGroup struct {
	members []*simWorld
}

func newSimGroup(members ...*simWorld) *simGroup {
	g := &simGroup{members: members}
	for i, w := range members {
		w.peers = func() []Member { return g.peersOf(i) }
	}
	return g
}

// peersOf is what member i is told of the others.
func (g *simGroup) peersOf(i int) []Member {
	var peers []Member
	for j, w := range g.members {
		if j != i {
			peers = append(peers, w.asMember())
		}
	}
	return peers
}

// asMember is the member as the reconciler reads it from its Rollout and target: its target
// is ahead of it when its status has not seen the target's revision yet.
func (w *simWorld) asMember() Member {
	return MemberOf(w.ro, w.target.revision != w.ro.Status.Target.Revision)
}

// run reconciles the members until none has anything due, one line per reconcile, each
// after its member's name.
func (g *simGroup) run(t *testing.T, limit time.Duration) string {
	t.Helper()
	var out strings.Builder
	const idle = time.Duration(-1)
	next := make([]time.Duration, len(g.members))
	for i := 0; i < 2000; i++ {
		now := idle
		for _, n := range next {
			if n != idle && (now == idle || n < now) {
				now = n
			}
		}
		if now == idle || now > limit {
			break
		}
		for k, w := range g.members {
			if next[k] != now {
				continue
			}
			w.t = now
			before := memberKey(w)
			n, ok := w.reconcile(t, &out, fmt.Sprintf("%-9s", w.ro.Name))
			next[k] = idle
			if ok {
				next[k] = n
			}
			if memberKey(w) == before {
				continue
			}
			for j := range g.members { // the watch on the group's Rollouts
				if wake := now + 300*time.Millisecond; j != k && (next[j] == idle || next[j] > wake) {
					next[j] = wake
				}
			}
		}
	}
	return out.String()
}

// memberKey is what the others read of a member: a change of it wakes them.
func memberKey(w *simWorld) string {
	m := w.asMember()
	return fmt.Sprintf("%s/%t/%d/%t/%s", m.Phase, m.Pending, m.PassedSteps, m.StepsPassed, m.EndedAt)
}

func TestGroupSimulations(t *testing.T) {
	member := func(name string, after ...trancheapi.GroupOrder) *simWorld {
		ro := simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, 30*time.Second))
		ro.Name = name
		ro.Spec.Group = &trancheapi.Group{Name: "checkout", After: after}
		return newSim(ro)
	}
	release := func(rev string) func(w *simWorld) { return func(w *simWorld) { w.release(rev) } }
	afterAll := trancheapi.GroupOrder{Rollout: "backend"}
	afterOne := trancheapi.GroupOrder{Rollout: "backend", Steps: ptrTo[int32](1)}

	scenarios := map[string]func() *simGroup{
		"group-backend-first": func() *simGroup {
			// Both change in one commit: the frontend's canary waits until the backend has
			// passed its first step, and both promote together.
			backend, frontend := member("backend"), member("frontend", afterOne)
			backend.script = []scripted{at(time.Minute, release("rev2"))}
			frontend.script = []scripted{at(time.Minute, release("rev2"))}
			return newSimGroup(backend, frontend)
		},
		"group-backend-fails-at-5": func() *simGroup {
			// The backend fails at its first step: the frontend, waiting for it, never takes
			// traffic and is rolled back with it.
			backend, frontend := member("backend"), member("frontend", afterAll)
			backend.verdict = failsAt(5)
			backend.script = []scripted{at(time.Minute, release("rev2"))}
			frontend.script = []scripted{at(time.Minute, release("rev2"))}
			return newSimGroup(backend, frontend)
		},
		"group-frontend-fails-at-50": func() *simGroup {
			// The frontend fails at 50% while the backend waits to promote with it: both roll
			// back, and neither was promoted.
			backend, frontend := member("backend"), member("frontend", afterOne)
			frontend.verdict = failsAt(50)
			backend.script = []scripted{at(time.Minute, release("rev2"))}
			frontend.script = []scripted{at(time.Minute, release("rev2"))}
			return newSimGroup(backend, frontend)
		},
		"group-member-released-alone": func() *simGroup {
			// Only the frontend changes: the backend has nothing under way, so nothing waits.
			backend, frontend := member("backend"), member("frontend", afterAll)
			frontend.script = []scripted{at(time.Minute, release("rev2"))}
			return newSimGroup(backend, frontend)
		},
		"group-in-a-circle": func() *simGroup {
			a, b := member("backend", trancheapi.GroupOrder{Rollout: "frontend"}), member("frontend", afterAll)
			a.script = []scripted{at(time.Minute, release("rev2"))}
			b.script = []scripted{at(time.Minute, release("rev2"))}
			return newSimGroup(a, b)
		},
	}
	for name, setup := range scenarios {
		t.Run(name, func(t *testing.T) { matchGolden(t, name, setup().run(t, 30*time.Minute)) })
	}
}

func ptrTo[T any](v T) *T { return &v }
