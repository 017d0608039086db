package providers

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
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

// ErrNotControlled is wrapped by UpdateControlled's error for an object of the right name
// that the Rollout does not control: Tranche does not take over what it did not create.
var ErrNotControlled = errors.New("not controlled by the Rollout")

// UpdateControlled is Update for objects of other projects' kinds, read as unstructured: obj
// names the object and carries its kind (its content is not used). The object must be
// controlled by ro, or handed over by a deleted Rollout of its name, which ro then takes
// back (see TakeBack). mutate's errors and the read's (such as NotFound) are returned as
// they are; others say which object failed.
func UpdateControlled(ctx context.Context, c client.Client, ro *trancheapi.Rollout, obj *unstructured.Unstructured, mutate func(*unstructured.Unstructured) error) error {
	err := updateUnstructured(ctx, c, obj, func(u *unstructured.Unstructured) error {
		TakeBack(u, ro)
		if !metav1.IsControlledBy(u, ro) {
			return fmt.Errorf("%s %s/%s exists and is %w %s: rename the Rollout, or delete it so that Tranche can create its own",
				u.GetKind(), u.GetNamespace(), u.GetName(), ErrNotControlled, ro.Name)
		}
		return mutate(u)
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return err
}

// updateUnstructured is Update for an object read as unstructured, of obj's kind and name.
func updateUnstructured(ctx context.Context, c client.Client, obj *unstructured.Unstructured, mutate func(*unstructured.Unstructured) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(obj.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
			return err
		}
		before := u.DeepCopy()
		if err := mutate(u); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(before.Object, u.Object) {
			return nil
		}
		return c.Patch(ctx, u, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
}

// CreateControlled creates obj labelled as Tranche's and controlled by ro, so that the
// garbage collector deletes it with the Rollout.
func CreateControlled(ctx context.Context, c client.Client, ro *trancheapi.Rollout, obj *unstructured.Unstructured) error {
	obj.SetLabels(Labels(ro))
	annotations := Annotations()
	maps.Copy(annotations, obj.GetAnnotations())
	obj.SetAnnotations(annotations)
	obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(ro, trancheapi.GroupVersion.WithKind("Rollout"))})
	if err := c.Create(ctx, obj); err != nil {
		return fmt.Errorf("creating %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
