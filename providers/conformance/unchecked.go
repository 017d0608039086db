package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WriteUnchecked writes obj, an object of a custom resource whose content has a field of the
// wrong type for its kind, as the API server stores it in clusters whose CRD has no schema
// (installs that strip schemas, or CRDs from before their project wrote one): the field is
// kept. The CRD of obj's kind is given an open schema for the write and its own back after;
// the object keeps the field, and Routers then read it as they would in such a cluster.
//
// The CRD is the cluster's, so tests that call it must not run in parallel with others of
// their package.
func WriteUnchecked(t *testing.T, c client.Client, obj *unstructured.Unstructured) {
	t.Helper()
	ctx := t.Context()
	mapping, err := c.RESTMapper().RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
	require.NoError(t, err)
	crd := mapping.Resource.Resource + "." + mapping.Resource.Group

	schemas := setSchemas(t, c, crd, func(string, any) any {
		return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
	})
	restored := false
	restore := func() {
		if !restored {
			restored = true
			setSchemas(t, c, crd, func(version string, _ any) any { return schemas[version] })
		}
	}
	t.Cleanup(restore)

	// The API server takes a moment to serve the CRD's new schema.
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Update(ctx, obj)
		if apierrors.IsInvalid(err) {
			return false, nil
		}
		return err == nil, err
	}), "writing %s %s with the schema of %s open", obj.GetKind(), client.ObjectKeyFromObject(obj), crd)

	// Back to the CRD's own schema, and wait until the API server refuses the object again,
	// so that the tests after this one see the cluster as it was.
	restore()
	probe := obj.DeepCopy()
	probe.SetName("")
	probe.SetGenerateName(obj.GetName() + "-")
	probe.SetResourceVersion("")
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if apierrors.IsInvalid(err) {
			return true, nil
		}
		return false, client.IgnoreAlreadyExists(err)
	}), "waiting for %s to check its schema again", crd)
}

// setSchemas gives every version of the CRD named crd the schema schema returns for it (given
// the version's name and its schema now), and returns the schemas it had.
func setSchemas(t *testing.T, c client.Client, crd string, schema func(version string, old any) any) map[string]any {
	t.Helper()
	before := map[string]any{}
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apiextensions.k8s.io/v1")
		u.SetKind("CustomResourceDefinition")
		if err := c.Get(t.Context(), client.ObjectKey{Name: crd}, u); err != nil {
			return err
		}
		versions, _, err := unstructured.NestedSlice(u.Object, "spec", "versions")
		if err != nil {
			return err
		}
		for _, v := range versions {
			version := v.(map[string]any)
			name := version["name"].(string)
			old, _, _ := unstructured.NestedFieldCopy(version, "schema", "openAPIV3Schema")
			before[name] = old
			if err := unstructured.SetNestedField(version, schema(name, old), "schema", "openAPIV3Schema"); err != nil {
				return err
			}
		}
		if err := unstructured.SetNestedSlice(u.Object, versions, "spec", "versions"); err != nil {
			return err
		}
		return c.Update(t.Context(), u)
	}), "changing the schema of %s", crd)
	return before
}
