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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// routed checks, for each version of a route, that each backend it sends requests to was
// ready as Kubernetes said it when that version was written: the workload's replicas all ran
// its current template and were ready (the deployment controller's word), and the Service's
// EndpointSlices listed that many ready endpoints and none unready (the endpointslice
// controller's, from the pods' readiness). The workload and the slices are listed at the
// route's own resourceVersion, so a watcher that falls behind the writes still judges each
// route by the world it was written into.
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
			if problem := w.notReady(ctx, string(ref.Name), route.ResourceVersion); problem != "" {
				w.violate("route %s (version %s, the Rollout %s) sends requests to %s while %s",
					route.Name, route.ResourceVersion, w.phaseAt(ctx, route.Name, route.ResourceVersion), ref.Name, problem)
			}
		}
	}
}

// at lists what the namespace held at the resourceVersion. Each List needs its own: the
// client writes the selectors into Raw.
func (w *watcher) at(resourceVersion string) *client.ListOptions {
	return &client.ListOptions{Namespace: w.ns, Raw: &metav1.ListOptions{
		ResourceVersion: resourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact,
	}}
}

// phaseAt is the Rollout's phase at the resourceVersion, for the violation's message.
func (w *watcher) phaseAt(ctx context.Context, rollout, resourceVersion string) string {
	var list trancheapi.RolloutList
	if err := cp.Client.List(ctx, &list, w.at(resourceVersion), client.MatchingFields{"metadata.name": rollout}); err != nil || len(list.Items) != 1 {
		return fmt.Sprintf("unread: %v", err)
	}
	return string(list.Items[0].Status.Phase)
}

// notReady says what was not ready behind the Service at the resourceVersion, or "" when
// all was.
func (w *watcher) notReady(ctx context.Context, service, resourceVersion string) string {
	workload := strings.TrimSuffix(service, "-canary") // the canary Service selects the target
	var deployments appsv1.DeploymentList
	err := cp.Client.List(ctx, &deployments, w.at(resourceVersion), client.MatchingFields{"metadata.name": workload})
	if err != nil || len(deployments.Items) != 1 {
		return fmt.Sprintf("its workload %s cannot be read at that version (%d found): %v", workload, len(deployments.Items), err)
	}
	d := &deployments.Items[0]
	if !allReady(d) {
		return fmt.Sprintf("%s was not ready (%d of %d ready, %d updated, generation %d, observed %d)",
			workload, d.Status.ReadyReplicas, replicas(d), d.Status.UpdatedReplicas, d.Generation, d.Status.ObservedGeneration)
	}
	var slices discoveryv1.EndpointSliceList
	if err := cp.Client.List(ctx, &slices, w.at(resourceVersion), client.MatchingLabels{discoveryv1.LabelServiceName: service}); err != nil {
		return fmt.Sprintf("its EndpointSlices cannot be read at that version: %v", err)
	}
	ready, unready := endpoints(slices.Items)
	if ready < int(replicas(d)) || unready > 0 {
		return fmt.Sprintf("its EndpointSlices listed %d ready endpoints and %d unready for %d replicas", ready, unready, replicas(d))
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
