//go:build e2e

package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// watcher sees every change of the namespace's routes and primaries as it happens and keeps
// what the checks need: routing to a backend that was not ready, promotions.
type watcher struct {
	ns string

	mu         sync.Mutex
	changes    int
	violations []string
	promoted   map[string]int // by Rollout name: times its primary got a new pod template
}

func startWatcher(t *testing.T, ns string) *watcher {
	w := &watcher{ns: ns, promoted: map[string]int{}}
	c, err := cache.New(cp.Config, cache.Options{Scheme: cp.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	routes, err := c.GetInformer(ctx, &gatewayv1.HTTPRoute{})
	require.NoError(t, err)
	_, err = routes.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.routed(ctx, obj) },
		UpdateFunc: func(_, obj any) { w.routed(ctx, obj) },
	})
	require.NoError(t, err)
	deployments, err := c.GetInformer(ctx, &appsv1.Deployment{})
	require.NoError(t, err)
	_, err = deployments.AddEventHandler(toolscache.ResourceEventHandlerFuncs{UpdateFunc: w.deploymentChanged})
	require.NoError(t, err)
	go func() { _ = c.Start(ctx) }()
	require.True(t, c.WaitForCacheSync(ctx))
	return w
}

// routed checks, as soon as a route changes, that each backend it sends requests to is ready
// as Kubernetes says it: the workload's replicas all run its current template and are ready
// (the deployment controller's word), and the Service's EndpointSlices list that many ready
// endpoints and none unready (the endpointslice controller's, from the pods' readiness). Read
// from the API server, not a cache, so that it is the state at the moment of routing.
func (w *watcher) routed(ctx context.Context, obj any) {
	route, ok := obj.(*gatewayv1.HTTPRoute)
	if !ok {
		return
	}
	w.mu.Lock()
	w.changes++
	w.mu.Unlock()
	for _, rule := range route.Spec.Rules {
		for _, ref := range rule.BackendRefs {
			if ref.Weight != nil && *ref.Weight == 0 {
				continue
			}
			if problem := w.notReady(ctx, string(ref.Name)); problem != "" {
				ro := &trancheapi.Rollout{}
				_ = cp.Client.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: route.Name}, ro)
				w.violate("route %s (version %s, the Rollout %s) sends requests to %s while %s",
					route.Name, route.ResourceVersion, ro.Status.Phase, ref.Name, problem)
			}
		}
	}
}

// notReady says what is not ready behind the Service, or "" when all is.
func (w *watcher) notReady(ctx context.Context, service string) string {
	workload := strings.TrimSuffix(service, "-canary") // the canary Service selects the target
	d := &appsv1.Deployment{}
	if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: workload}, d); err != nil {
		return fmt.Sprintf("its workload %s cannot be read: %v", workload, err)
	}
	if !allReady(d) {
		return fmt.Sprintf("%s is not ready (%d of %d ready, generation %d, observed %d)",
			workload, d.Status.ReadyReplicas, replicas(d), d.Generation, d.Status.ObservedGeneration)
	}
	var slices discoveryv1.EndpointSliceList
	if err := cp.Client.List(ctx, &slices, client.InNamespace(w.ns), client.MatchingLabels{discoveryv1.LabelServiceName: service}); err != nil {
		return fmt.Sprintf("its EndpointSlices cannot be read: %v", err)
	}
	ready, unready := endpoints(slices.Items)
	if ready < int(replicas(d)) || unready > 0 {
		return fmt.Sprintf("its EndpointSlices list %d ready endpoints and %d unready for %d replicas", ready, unready, replicas(d))
	}
	return ""
}

// endpoints counts the ready endpoints of the slices, and the unready ones that are not
// terminating (a terminating pod is on its way out, and gets no new connections).
func endpoints(slices []discoveryv1.EndpointSlice) (ready, unready int) {
	for _, slice := range slices {
		for _, e := range slice.Endpoints {
			switch {
			case ptr.Deref(e.Conditions.Ready, false):
				ready++
			case !ptr.Deref(e.Conditions.Terminating, false):
				unready++
			}
		}
	}
	return ready, unready
}

func (w *watcher) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

// deploymentChanged counts the times a primary's pod template changes: its promotions.
func (w *watcher) deploymentChanged(oldObj, newObj any) {
	old, ok1 := oldObj.(*appsv1.Deployment)
	d, ok2 := newObj.(*appsv1.Deployment)
	if !ok1 || !ok2 || !strings.HasSuffix(d.Name, "-primary") {
		return
	}
	if old.Spec.Template.Spec.Containers[0].Image != d.Spec.Template.Spec.Containers[0].Image {
		w.mu.Lock()
		w.promoted[strings.TrimSuffix(d.Name, "-primary")]++
		w.mu.Unlock()
	}
}

func (w *watcher) promotions(rollout string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.promoted[rollout]
}

func (w *watcher) routing() (violations []string, changes int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.violations...), w.changes
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// allReady is whether the workload has replicas and all of them run its current template.
func allReady(d *appsv1.Deployment) bool {
	n := replicas(d)
	return n > 0 && d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == n && d.Status.UpdatedReplicas == n
}
