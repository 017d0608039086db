package main

import (
	"context"
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// namespacedOnly is the manager's client with --namespaced, for a namespaced install whose
// Roles grant nothing beyond the namespaces it watches: a request for a cluster-scoped object,
// or for the objects of every namespace, fails here with a Forbidden error instead of reaching
// the API server. Readers that can do without, such as the Gateway API provider's look at the
// features of a Gateway's class, go on as after any refused read.
type namespacedOnly struct{ client.Client }

var errClusterScoped = errors.New("the manager runs with --namespaced and makes no cluster-scoped request")

// refuse returns the error for a request about obj (an object or a list of them) in namespace
// ("" for all), or nil when the request stays within one namespace.
func (c namespacedOnly) refuse(obj runtime.Object, namespace string) error {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return err
	}
	if meta.IsListType(obj) {
		gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	}
	mapping, err := c.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace && namespace != "" {
		return nil
	}
	return apierrors.NewForbidden(mapping.Resource.GroupResource(), "", errClusterScoped)
}

func (c namespacedOnly) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.refuse(obj, key.Namespace); err != nil {
		return err
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c namespacedOnly) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.refuse(list, (&client.ListOptions{}).ApplyOptions(opts).Namespace); err != nil {
		return err
	}
	return c.Client.List(ctx, list, opts...)
}

func (c namespacedOnly) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.refuse(obj, obj.GetNamespace()); err != nil {
		return err
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c namespacedOnly) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if err := c.refuse(obj, obj.GetNamespace()); err != nil {
		return err
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c namespacedOnly) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := c.refuse(obj, obj.GetNamespace()); err != nil {
		return err
	}
	return c.Client.Update(ctx, obj, opts...)
}

func (c namespacedOnly) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if err := c.refuse(obj, obj.GetNamespace()); err != nil {
		return err
	}
	return c.Client.Delete(ctx, obj, opts...)
}
