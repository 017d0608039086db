package controllers

import (
	"time"

	"context"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	ctrlevent "sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers"
)

// Field indexes over Rollouts, so that a change to a referenced object finds its Rollouts
// without listing them all.
const (
	indexTarget = "spec.targetRef" // kind/name
	// indexConfigs indexes Deployments and DaemonSets by the ConfigMaps and Secrets their
	// pods use.
	indexConfigs   = "spec.template.configRefs"
	indexTemplates = "spec.analysis.metrics.templateRef"
	indexProviders = "spec.notify.providerRef"
)

// FieldManager is the name Tranche's writes carry in the objects' managedFields, whatever the
// binary's name: people (and tests) read there who set a field last.
const FieldManager = "tranche"

// SetupWithManager registers the reconciler, its indexes and its watches.
func (r *RolloutReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	r.Client = newOwnWrites(client.WithFieldOwner(r.Client, FieldManager), time.Now)
	r.uncached = mgr.GetAPIReader()
	if r.Notifier != nil {
		if r.Notifier.Resolve == nil {
			r.Notifier.Resolve = r.notificationTarget
		}
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { r.Notifier.Run(ctx); return nil })); err != nil {
			return err
		}
	}
	log := mgr.GetLogger().WithName("webhooks")
	r.webhooks = &notify.Dispatcher{HTTP: r.HTTPClient, Log: func(endpoint types.NamespacedName, err error) {
		log.Info("Webhook failed", "webhook", endpoint.String(), "error", err.Error())
	}}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { r.webhooks.Run(ctx); return nil })); err != nil {
		return err
	}
	indexer := mgr.GetFieldIndexer()
	indexes := map[string]client.IndexerFunc{
		indexTarget: func(o client.Object) []string {
			return []string{targetIndexKey(o.(*trancheapi.Rollout).Spec.TargetRef)}
		},
		indexTemplates: func(o client.Object) []string { return keyStrings(templateRefs(o.(*trancheapi.Rollout))) },
		indexProviders: func(o client.Object) []string { return keyStrings(providerRefs(o.(*trancheapi.Rollout))) },
		indexGroup:     groupIndexKey,
	}
	for field, extract := range indexes {
		if err := indexer.IndexField(ctx, &trancheapi.Rollout{}, field, extract); err != nil {
			return err
		}
	}
	for _, kind := range []client.Object{&appsv1.Deployment{}, &appsv1.DaemonSet{}} {
		if err := indexer.IndexField(ctx, kind, indexConfigs, func(o client.Object) []string {
			var keys []string
			for _, ref := range configRefs(&podTemplate(o).Spec) {
				keys = append(keys, ref.String())
			}
			return keys
		}); err != nil {
			return err
		}
	}

	b := ctrl.NewControllerManagedBy(mgr).
		// Spec changes, and requests from people (annotations); not our own status writes.
		For(&trancheapi.Rollout{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// The members of a group read each other's status.
		Watches(&trancheapi.Rollout{}, handler.EnqueueRequestsFromMapFunc(r.groupMembers), builder.WithPredicates(memberChanged)).
		Owns(&appsv1.Deployment{}). // the primary, of the target's kind
		Owns(&appsv1.DaemonSet{}).
		Owns(&corev1.Service{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}). // the primary's
		Watches(&autoscalingv2.HorizontalPodAutoscaler{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsFor(indexTarget, autoscaledKey))).
		// A slice is the endpointslice controller's, not the Rollout's: it carries the
		// Service's labels, the Rollout's name among them.
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(rolloutOfLabels),
			builder.WithPredicates(readyEndpointsChanged)).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsFor(indexTarget, targetKey))).
		Watches(&appsv1.DaemonSet{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsFor(indexTarget, targetKey))).
		// Only the metadata of ConfigMaps is cached: a change to one's data is a new
		// resourceVersion; the data is read where a target uses it. Secrets are never listed
		// or watched (that would read every Secret of the cluster): see secretPollInterval.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsUsing), builder.OnlyMetadata).
		Watches(&trancheapi.MetricTemplate{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsFor(indexTemplates, namespacedKey))).
		Watches(&trancheapi.NotificationProvider{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsFor(indexProviders, namespacedKey)))
	// A split counts once the route's parents say so in its status: watched, the step's hold
	// starts when they write it, not at the next look (which setRoutes still schedules, for a
	// cluster whose Gateway API arrives after the manager starts).
	for _, route := range []client.Object{&gatewayv1.HTTPRoute{}, &gatewayv1.GRPCRoute{}, &gatewayv1.TCPRoute{}} {
		gvk, err := apiutil.GVKForObject(route, mgr.GetScheme())
		if err == nil && servesKind(mgr, gvk) {
			b = b.Watches(route,
				handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &trancheapi.Rollout{}, handler.OnlyControllerOwner()),
				builder.WithPredicates(routeStatusChanged))
		}
	}
	return b.Named("rollout").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Concurrency, 1)}).
		Complete(r)
}

// servesKind reports whether the API server serves kind (its CRD is installed).
func servesKind(mgr ctrl.Manager, kind schema.GroupVersionKind) bool {
	_, err := mgr.GetRESTMapper().RESTMapping(kind.GroupKind(), kind.Version)
	return err == nil
}

// routeStatusChanged lets through what a route's parents say of it (its status), and a route
// that is gone; Tranche's own writes of the spec are already followed by a look.
var routeStatusChanged = predicate.Funcs{
	CreateFunc:  func(ctrlevent.CreateEvent) bool { return false },
	GenericFunc: func(ctrlevent.GenericEvent) bool { return false },
	UpdateFunc: func(e ctrlevent.UpdateEvent) bool {
		old, ok1 := routeStatus(e.ObjectOld)
		route, ok2 := routeStatus(e.ObjectNew)
		return !ok1 || !ok2 || !equality.Semantic.DeepEqual(old, route)
	},
}

// routeStatus is what the parents of an HTTPRoute or a GRPCRoute say of it.
func routeStatus(obj client.Object) (gatewayv1.RouteStatus, bool) {
	switch route := obj.(type) {
	case *gatewayv1.HTTPRoute:
		return route.Status.RouteStatus, true
	case *gatewayv1.GRPCRoute:
		return route.Status.RouteStatus, true
	case *gatewayv1.TCPRoute:
		return route.Status.RouteStatus, true
	}
	return gatewayv1.RouteStatus{}, false
}

// readyEndpointsChanged lets through the slice updates that change how many ready endpoints
// a slice lists, the one thing the Rollout reads of it; the others (a pod's serving or
// terminating state, hints) would only start reconciles that find nothing to do.
var readyEndpointsChanged = predicate.Funcs{UpdateFunc: func(e ctrlevent.UpdateEvent) bool {
	old, ok1 := e.ObjectOld.(*discoveryv1.EndpointSlice)
	slice, ok2 := e.ObjectNew.(*discoveryv1.EndpointSlice)
	return !ok1 || !ok2 || readyEndpoints([]discoveryv1.EndpointSlice{*old}) != readyEndpoints([]discoveryv1.EndpointSlice{*slice})
}}

// rolloutOfLabels maps an object Tranche's labels name a Rollout in to that Rollout.
func rolloutOfLabels(_ context.Context, obj client.Object) []reconcile.Request {
	name, ok := obj.GetLabels()[providers.LabelRollout]
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

// rolloutsFor maps an object to the Rollouts whose index field holds key(object).
func (r *RolloutReconciler) rolloutsFor(field string, key func(client.Object) (string, []client.ListOption)) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		value, scope := key(obj)
		var list trancheapi.RolloutList
		opts := append([]client.ListOption{client.MatchingFields{field: value}}, scope...)
		if err := r.List(ctx, &list, opts...); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing Rollouts for a watched object", "field", field, "value", value)
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for _, ro := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ro)})
		}
		return requests
	}
}

// rolloutsUsing maps a ConfigMap to the Rollouts whose targets' pods use it.
func (r *RolloutReconciler) rolloutsUsing(ctx context.Context, obj client.Object) []reconcile.Request {
	ref := configRef{name: obj.GetName()}
	using := []client.ListOption{client.InNamespace(obj.GetNamespace()), client.MatchingFields{indexConfigs: ref.String()}}
	var deployments appsv1.DeploymentList
	var daemonSets appsv1.DaemonSetList
	var targets []client.Object
	if err := r.List(ctx, &deployments, using...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the Deployments that use a ConfigMap", "configMap", ref.name)
		return nil
	}
	if err := r.List(ctx, &daemonSets, using...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the DaemonSets that use a ConfigMap", "configMap", ref.name)
		return nil
	}
	for i := range deployments.Items {
		targets = append(targets, &deployments.Items[i])
	}
	for i := range daemonSets.Items {
		targets = append(targets, &daemonSets.Items[i])
	}
	byTarget := r.rolloutsFor(indexTarget, targetKey)
	var requests []reconcile.Request
	for _, target := range targets {
		requests = append(requests, byTarget(ctx, target)...)
	}
	return requests
}

// targetKey: a workload is the target of Rollouts in its own namespace only.
func targetKey(obj client.Object) (string, []client.ListOption) {
	ref := trancheapi.TargetRef{Kind: workloadKind(obj), Name: obj.GetName()}
	return targetIndexKey(ref), []client.ListOption{client.InNamespace(obj.GetNamespace())}
}

// targetIndexKey is a target's key in indexTarget: a Deployment and a DaemonSet may share
// a name.
func targetIndexKey(ref trancheapi.TargetRef) string {
	return ref.Kind + "/" + ref.Name
}

// autoscaledKey: an autoscaler concerns the Rollouts whose target it scales.
func autoscaledKey(obj client.Object) (string, []client.ListOption) {
	hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	ref := trancheapi.TargetRef{Kind: hpa.Spec.ScaleTargetRef.Kind, Name: hpa.Spec.ScaleTargetRef.Name}
	return targetIndexKey(ref), []client.ListOption{client.InNamespace(obj.GetNamespace())}
}

// namespacedKey: templates and providers may be referred to from any namespace.
func namespacedKey(obj client.Object) (string, []client.ListOption) {
	return types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}.String(), nil
}

func keyStrings(refs []objectRef) []string {
	keys := make([]string, 0, len(refs))
	for _, ref := range refs {
		keys = append(keys, ref.key.String())
	}
	return keys
}
