package providers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectPointer is a pointer to a Kubernetes object struct, so that Update can make a new
// one for every attempt.
type objectPointer[T any] interface {
	*T
	client.Object
}

// Update changes the object named key the way mutate says, for objects that a user may edit
// too. It reads the object, lets mutate change it in memory and writes only when something
// changed, so that a repeated call leaves the resourceVersion alone. The write is a merge
// patch holding the resourceVersion that was read: a concurrent change makes it fail with a
// conflict, and the whole read-mutate-write starts over on the fresh object. A merge patch
// (rather than an Update) carries only the fields that changed, so fields this binary's types
// do not know, written by a newer version of a CRD, survive outside the lists mutate touches.
//
// It reports whether it wrote. mutate's errors and the read's (such as NotFound) are returned
// as they are.
func Update[T any, P objectPointer[T]](ctx context.Context, c client.Client, key client.ObjectKey, mutate func(P) error) (bool, error) {
	written := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		written = false
		// A fresh object for every attempt: decoding into a used one would merge the maps
		// (labels, selectors) of the previous attempt into the new read.
		obj := P(new(T))
		if err := c.Get(ctx, key, obj); err != nil {
			return err
		}
		before := obj.DeepCopyObject().(client.Object)
		if err := mutate(obj); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(before, obj) {
			return nil
		}
		if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
		written = true
		return nil
	})
	return written, err
}
