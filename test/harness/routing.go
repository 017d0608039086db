package harness

import (
	"context"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// What a routing object says: tests read the canary's share from the object the data plane
// reads, not from what the controller says it wrote, and without the providers' code that
// wrote it. The kinds read are those of the providers that split by weight in an object of
// their own; a Rollout has one of them, named as the Rollout.

// The routing objects RoutedCanaryWeight reads.
var (
	HTTPRoute      = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
	VirtualService = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	routingKinds   = []schema.GroupVersionKind{HTTPRoute, VirtualService}
)

// CanaryWeight is the percent of requests a routing object sends to the canary: of an
// HTTPRoute, its backends named <x>-canary against those named <x>-primary over every rule;
// of a VirtualService, the weight of the -canary destination of the route named "tranche".
// ok is false when the object splits nothing between the two.
func CanaryWeight(obj *unstructured.Unstructured) (weight int32, ok bool) {
	switch obj.GroupVersionKind().GroupKind() {
	case HTTPRoute.GroupKind():
		return httpRouteCanaryWeight(obj)
	case VirtualService.GroupKind():
		return virtualServiceCanaryWeight(obj)
	}
	return 0, false
}

func httpRouteCanaryWeight(route *unstructured.Unstructured) (int32, bool) {
	var primary, canary int64
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	for _, rule := range rules {
		refs, _, _ := unstructured.NestedSlice(asMap(rule), "backendRefs")
		for _, ref := range refs {
			name, _, _ := unstructured.NestedString(asMap(ref), "name")
			w, found, _ := unstructured.NestedInt64(asMap(ref), "weight")
			if !found {
				w = 1 // Gateway API's default
			}
			switch {
			case strings.HasSuffix(name, "-primary"):
				primary += w
			case strings.HasSuffix(name, "-canary"):
				canary += w
			}
		}
	}
	if primary+canary == 0 {
		return 0, false
	}
	return int32(canary * 100 / (primary + canary)), true
}

func virtualServiceCanaryWeight(vs *unstructured.Unstructured) (int32, bool) {
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	for _, r := range routes {
		if asMap(r)["name"] != "tranche" {
			continue
		}
		destinations, _, _ := unstructured.NestedSlice(asMap(r), "route")
		for _, d := range destinations {
			host, _, _ := unstructured.NestedString(asMap(d), "destination", "host")
			if w, _, _ := unstructured.NestedInt64(asMap(d), "weight"); strings.HasSuffix(host, "-canary") {
				return int32(w), true
			}
		}
	}
	return 0, false
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// RoutedCanaryWeight is CanaryWeight of the routing object called name in namespace,
// whichever kind it is; ok is false while there is none, or it splits nothing.
func RoutedCanaryWeight(ctx context.Context, c client.Reader, namespace, name string) (weight int32, ok bool) {
	for _, gvk := range routingKinds {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err == nil {
			return CanaryWeight(obj)
		}
	}
	return 0, false
}

// WatchCanaryWeight calls seen with CanaryWeight of every version of the routing object
// called name in namespace, whichever kind it is, however briefly a version lasted, until
// ctx ends. A watch that ends is started again; a kind the API server does not know is not
// watched.
func WatchCanaryWeight(ctx context.Context, c client.WithWatch, namespace, name string, seen func(int32)) {
	for _, gvk := range routingKinds {
		go watchCanaryWeight(ctx, c, gvk, namespace, name, seen)
	}
}

func watchCanaryWeight(ctx context.Context, c client.WithWatch, gvk schema.GroupVersionKind, namespace, name string, seen func(int32)) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	for ctx.Err() == nil {
		events, err := c.Watch(ctx, list, client.InNamespace(namespace), client.MatchingFieldsSelector{
			Selector: fields.OneTermEqualSelector("metadata.name", name)})
		if apimeta.IsNoMatchError(err) {
			return
		}
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		for ev := range events.ResultChan() {
			if obj, ok := ev.Object.(*unstructured.Unstructured); ok {
				if weight, ok := CanaryWeight(obj); ok {
					seen(weight)
				}
			}
		}
	}
}
