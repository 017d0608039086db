package stack

import (
	"context"
	"slices"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tranche-dev/tranche/test/harness"
)

// RouteWord times the data plane's word on an HTTPRoute: from when a generation of it is
// first seen to when every parent's Accepted condition says that generation. It polls, so
// each time is late by up to the poll period on both ends.
type RouteWord struct {
	Client    client.Client
	Namespace string
	Name      string
	Period    time.Duration

	mu      sync.Mutex
	seen    map[int64]time.Time
	waited  []time.Duration
	pending int64 // the newest generation seen and not yet said, 0 for none
}

// Run polls until ctx is done.
func (w *RouteWord) Run(ctx context.Context) {
	w.mu.Lock()
	w.seen = map[int64]time.Time{}
	w.mu.Unlock()
	tick := time.NewTicker(w.Period)
	defer tick.Stop()
	for {
		route := &gatewayv1.HTTPRoute{}
		if err := w.Client.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Name}, route); err == nil {
			w.observe(route, time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *RouteWord) observe(route *gatewayv1.HTTPRoute, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	gen := route.Generation
	if _, ok := w.seen[gen]; !ok {
		w.seen[gen] = now
		w.pending = gen
	}
	if w.pending == 0 || !harness.RouteSaid(route, w.pending) {
		return
	}
	w.waited = append(w.waited, now.Sub(w.seen[w.pending]))
	w.pending = 0
}

// Waits are the times the data plane took to say each generation, in the order said.
func (w *RouteWord) Waits() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.waited)
}
