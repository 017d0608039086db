package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// errBehindOwnWrite ends a reconcile that read an object from a cache that has not seen the
// controller's own last write of it yet: it is made again a moment later (staleRetryDelay).
var errBehindOwnWrite = errors.New("the cache has not seen Tranche's last write yet")

// The informers deliver a write a moment after the API server has answered it. A decision
// made meanwhile acts on the world as it was (it once routed a canary's share to a target it
// had just scaled to zero), and a write locked on what the cache holds is refused (409) or, a
// create, refused as AlreadyExists: a request that changes nothing. ownWrites is the client
// the Rollout reconciler reads and writes through: it remembers the resourceVersion of each
// object it wrote and the objects it created, and a read from the cache of an object older
// than that, or missing though just created, fails with errBehindOwnWrite. Resource versions
// are compared as the API server lets clients compare them (resourceversion.CompareResourceVersion).
//
// An entry is kept until the cache has caught up, and at most cacheLagBound: the informer
// shows a write in milliseconds, and the bound keeps an object deleted right after its create
// from never being made again. A restarted manager's cache starts from a fresh list, so what
// is forgotten with the process needs no remembering.
type ownWrites struct {
	client.Client
	now     func() time.Time
	written sync.Map // types.UID → ownWrite
	created sync.Map // createdKey → time.Time
	// unseen counts the entries of created, so that a read looks there only when it may
	// find one (naming an object's kind costs a look at the scheme).
	unseen atomic.Int64
	writes atomic.Int64 // counts the writes, for the sweeps
}

// cacheLagBound is how long a write is remembered (see ownWrites).
const cacheLagBound = 10 * time.Second

// sweepEvery is how many writes go between two sweeps of the entries past cacheLagBound,
// those of objects never read again.
const sweepEvery = 512

type ownWrite struct {
	resourceVersion string
	at              time.Time
}

type createdKey struct {
	kind schema.GroupVersionKind
	key  types.NamespacedName
}

func newOwnWrites(c client.Client, now func() time.Time) *ownWrites {
	return &ownWrites{Client: c, now: now}
}

// Get reads obj, failing with errBehindOwnWrite when the cache is behind a write of ours.
func (c *ownWrites) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, key, obj, opts...)
	switch {
	case apierrors.IsNotFound(err) && c.createdUnseen(key, obj):
		return fmt.Errorf("%w: %s %s was just created", errBehindOwnWrite, c.kindOf(obj).Kind, key)
	case err != nil:
		return err
	case c.behind(obj):
		return fmt.Errorf("%w: %s %s", errBehindOwnWrite, c.kindOf(obj).Kind, key)
	}
	if c.unseen.Load() > 0 {
		c.forgetCreate(createdKey{c.kindOf(obj), key}, nil) // seen
	}
	return nil
}

func (c *ownWrites) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.Client.Create(ctx, obj, opts...); err != nil {
		return err
	}
	if _, loaded := c.created.Swap(createdKey{c.kindOf(obj), client.ObjectKeyFromObject(obj)}, c.now()); !loaded {
		c.unseen.Add(1)
	}
	c.record(obj)
	return nil
}

func (c *ownWrites) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return c.recorded(obj, c.Client.Update(ctx, obj, opts...))
}

func (c *ownWrites) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return c.recorded(obj, c.Client.Patch(ctx, obj, patch, opts...))
}

func (c *ownWrites) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.written.Delete(obj.GetUID())
	c.forgetCreate(createdKey{c.kindOf(obj), client.ObjectKeyFromObject(obj)}, nil)
	return c.Client.Delete(ctx, obj, opts...)
}

func (c *ownWrites) Status() client.SubResourceWriter {
	return &ownStatusWrites{SubResourceWriter: c.Client.Status(), own: c}
}

// ownStatusWrites remembers the status writes as ownWrites does the others.
type ownStatusWrites struct {
	client.SubResourceWriter
	own *ownWrites
}

func (w *ownStatusWrites) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return w.own.recorded(obj, w.SubResourceWriter.Update(ctx, obj, opts...))
}

func (w *ownStatusWrites) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	return w.own.recorded(obj, w.SubResourceWriter.Patch(ctx, obj, patch, opts...))
}

// recorded remembers obj, as the API server answered the write, when err is nil.
func (c *ownWrites) recorded(obj client.Object, err error) error {
	if err == nil {
		c.record(obj)
	}
	return err
}

func (c *ownWrites) record(obj client.Object) {
	if obj.GetUID() == "" || obj.GetResourceVersion() == "" {
		return // not as the API server answered: nothing to compare with
	}
	now := c.now()
	c.written.Store(obj.GetUID(), ownWrite{resourceVersion: obj.GetResourceVersion(), at: now})
	if c.writes.Add(1)%sweepEvery == 0 {
		c.sweep(now)
	}
}

// behind reports whether obj, as read, is older than our last write of it.
func (c *ownWrites) behind(obj client.Object) bool {
	v, ok := c.written.Load(obj.GetUID())
	if !ok {
		return false
	}
	w := v.(ownWrite)
	order, err := resourceversion.CompareResourceVersion(obj.GetResourceVersion(), w.resourceVersion)
	if err == nil && order < 0 && c.now().Sub(w.at) <= cacheLagBound {
		return true
	}
	c.written.CompareAndDelete(obj.GetUID(), v) // caught up: later reads are newer still
	return false
}

// createdUnseen reports whether the object named key, missing from the cache, was created so
// recently that the cache may not have seen it yet.
func (c *ownWrites) createdUnseen(key client.ObjectKey, obj client.Object) bool {
	k := createdKey{c.kindOf(obj), key}
	at, ok := c.created.Load(k)
	if !ok {
		return false
	}
	if c.now().Sub(at.(time.Time)) > cacheLagBound {
		c.forgetCreate(k, at)
		return false
	}
	return true
}

// forgetCreate drops the entry of a created object: the one it holds now, or only the one
// created at when that is given.
func (c *ownWrites) forgetCreate(key createdKey, at any) {
	deleted := false
	if at == nil {
		_, deleted = c.created.LoadAndDelete(key)
	} else {
		deleted = c.created.CompareAndDelete(key, at)
	}
	if deleted {
		c.unseen.Add(-1)
	}
}

// sweep drops the entries past cacheLagBound.
func (c *ownWrites) sweep(now time.Time) {
	c.written.Range(func(key, v any) bool {
		if now.Sub(v.(ownWrite).at) > cacheLagBound {
			c.written.CompareAndDelete(key, v)
		}
		return true
	})
	c.created.Range(func(key, at any) bool {
		if now.Sub(at.(time.Time)) > cacheLagBound {
			c.forgetCreate(key.(createdKey), at)
		}
		return true
	})
}

// kindOf names obj's kind, for the created objects' keys and the errors' messages.
func (c *ownWrites) kindOf(obj client.Object) schema.GroupVersionKind {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return obj.GetObjectKind().GroupVersionKind()
	}
	return gvk
}
