package stack

import (
	"context"
	"slices"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
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
	if w.pending == 0 || !saidOf(route, w.pending) {
		return
	}
	w.waited = append(w.waited, now.Sub(w.seen[w.pending]))
	w.pending = 0
}

// saidOf reports whether every parent in the route's status accepted generation gen or a
// later one.
func saidOf(route *gatewayv1.HTTPRoute, gen int64) bool {
	if len(route.Status.Parents) == 0 {
		return false
	}
	for _, p := range route.Status.Parents {
		c := apimeta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		if c == nil || c.ObservedGeneration < gen {
			return false
		}
	}
	return true
}

// Waits are the times the data plane took to say each generation, in the order said.
func (w *RouteWord) Waits() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.waited)
}

// MedianAndMax of durations, 0 for none.
func MedianAndMax(ds []time.Duration) (median, longest time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	sorted := slices.Sorted(slices.Values(ds))
	return sorted[len(sorted)/2], sorted[len(sorted)-1]
}
