package controllers

import (
	"errors"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// errBehindOwnWrite ends a reconcile that read a workload older than Tranche's own last write
// of it: it is made again a moment later (staleRetryDelay).
var errBehindOwnWrite = errors.New("the cache has not seen Tranche's last write of a workload yet")

// writtenGenerations remembers the generation of each workload as Tranche last wrote it for
// a Rollout, so that no decision is made from a cache that has not seen that write yet. The
// informer delivers a write a moment after the API server has answered it, and a decision
// made meanwhile acts on the workload as it was: it once routed a canary's share to a target
// it had just scaled to zero. A restarted manager's cache starts from a fresh list, so what
// is forgotten with the process needs no remembering.
type writtenGenerations struct{ m sync.Map } // writtenKey → int64

type writtenKey struct {
	rollout types.NamespacedName
	uid     types.UID // a workload deleted and made again is another
}

func (w *writtenGenerations) record(rollout types.NamespacedName, obj client.Object) {
	w.m.Store(writtenKey{rollout, obj.GetUID()}, obj.GetGeneration())
}

// behind reports whether obj, as read, is older than Tranche's last write of it.
func (w *writtenGenerations) behind(rollout types.NamespacedName, obj client.Object) bool {
	written, ok := w.m.Load(writtenKey{rollout, obj.GetUID()})
	return ok && obj.GetGeneration() < written.(int64)
}

// forget drops what is remembered for a Rollout that is gone.
func (w *writtenGenerations) forget(rollout types.NamespacedName) {
	w.m.Range(func(key, _ any) bool {
		if key.(writtenKey).rollout == rollout {
			w.m.Delete(key)
		}
		return true
	})
}
