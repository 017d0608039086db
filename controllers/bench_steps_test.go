package controllers

import (
	"context"
	"slices"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// stepTimer times what each split of a rollout waits for, polling the Rollout's HTTPRoute and
// the Rollout: the data plane's word (from a new generation of the route to every parent
// accepting it) and Tranche's notice of it (from the word to the step's hold starting). Each
// time is late by up to the poll period on both ends.
type stepTimer struct {
	mu              sync.Mutex
	words, noticing []time.Duration
}

const stepTimerPeriod = 10 * time.Millisecond

// timeSteps polls until ctx is done.
func timeSteps(ctx context.Context, key client.ObjectKey) *stepTimer {
	st := &stepTimer{}
	go func() {
		var newest, pending int64 // the newest route generation seen; the one waited on, 0 for none
		var seen, said time.Time
		tick := time.NewTicker(stepTimerPeriod)
		defer tick.Stop()
		for ctx.Err() == nil {
			route, ro := &gatewayv1.HTTPRoute{}, &trancheapi.Rollout{}
			// The route first: Tranche commits the status of a step before it writes the
			// step's routes, so the Rollout read after a new generation is that step's.
			if cp.Client.Get(ctx, key, route) == nil && cp.Client.Get(ctx, key, ro) == nil {
				now := time.Now()
				if route.Generation > newest {
					if newest != 0 {
						pending, seen, said = route.Generation, now, time.Time{}
					}
					newest = route.Generation
				}
				if pending != 0 && said.IsZero() && harness.RouteSaid(route, pending) {
					said = now
					st.add(&st.words, said.Sub(seen))
				}
				if !said.IsZero() && ro.Status.StepStartedAt != nil {
					st.add(&st.noticing, now.Sub(said))
					pending, said = 0, time.Time{}
				}
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	return st
}

func (st *stepTimer) add(to *[]time.Duration, d time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	*to = append(*to, d)
}

// times returns the waits for the data plane's word and Tranche's notice of it, a split each.
func (st *stepTimer) times() (words, noticing []time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.words), slices.Clone(st.noticing)
}
