package providers

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// HandedOver reports whether a deleted Rollout released obj (see Releaser), and no Rollout
// has taken it back since.
func HandedOver(obj metav1.Object) bool {
	return obj.GetAnnotations()[trancheapi.AnnotationHandedOver] == "true" && metav1.GetControllerOf(obj) == nil
}

// MarkReleased takes ro's ownership off obj and marks it handed over, so that the garbage
// collector leaves it when ro goes and a Rollout of the same name may take it back.
func MarkReleased(obj metav1.Object, ro *trancheapi.Rollout) {
	obj.SetOwnerReferences(slices.DeleteFunc(obj.GetOwnerReferences(), func(o metav1.OwnerReference) bool { return o.UID == ro.UID }))
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[trancheapi.AnnotationHandedOver] = "true"
	obj.SetAnnotations(annotations)
}

// TakeBack makes a handed-over obj ro's again, for a Rollout of the same name that is not
// being deleted (the one being deleted released it), and reports whether it did. The caller
// writes its routes into it again. The name is the one the object's rollout label gives, not
// the object's own: the route of a port of Rollout "shop" is named shop-pipe, which a Rollout
// named shop-pipe must not take.
func TakeBack(obj metav1.Object, ro *trancheapi.Rollout) bool {
	if !HandedOver(obj) || !ro.DeletionTimestamp.IsZero() || obj.GetLabels()[LabelRollout] != ro.Name {
		return false
	}
	annotations := obj.GetAnnotations()
	delete(annotations, trancheapi.AnnotationHandedOver)
	obj.SetAnnotations(annotations)
	obj.SetOwnerReferences(append(obj.GetOwnerReferences(), *metav1.NewControllerRef(ro, trancheapi.GroupVersion.WithKind("Rollout"))))
	return true
}

// ReleaseControlled is Releaser.Release for an object read as unstructured: toApex rewrites
// Tranche's part of it to send everything to the apex Service (the rest is the user's and
// stays), and the object is marked released. An object released already is only read. It
// returns the object as it is now.
func ReleaseControlled(ctx context.Context, c client.Client, ro *trancheapi.Rollout, obj *unstructured.Unstructured, toApex func(*unstructured.Unstructured) error) (*unstructured.Unstructured, error) {
	var now *unstructured.Unstructured
	err := updateUnstructured(ctx, c, obj, func(u *unstructured.Unstructured) error {
		now = u
		if HandedOver(u) {
			return nil
		}
		if !metav1.IsControlledBy(u, ro) {
			return fmt.Errorf("%s %s/%s is %w %s", u.GetKind(), u.GetNamespace(), u.GetName(), ErrNotControlled, ro.Name)
		}
		if err := toApex(u); err != nil {
			return err
		}
		MarkReleased(u, ro)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("releasing %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return now, nil
}
