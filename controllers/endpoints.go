package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
	"github.com/tranche-dev/tranche/providers"
)

// A workload is ready for traffic when two controllers say so: the deployment controller,
// that its replicas run the current template and are available, and the endpointslice
// controller, that the Service in front of them lists as many ready endpoints. They answer
// a moment apart, in either order, and a data plane (or kube-proxy) sends only to what the
// EndpointSlices list: routing on the Deployment's word alone once sent a Service's share to
// it before its slices listed a single pod.

// endpointsReady reports whether the Service's EndpointSlices list at least want ready
// endpoints. A pod listed in several slices (one per address family) counts once.
func (r *RolloutReconciler) endpointsReady(ctx context.Context, namespace, service string, want int32) (bool, error) {
	var slices discoveryv1.EndpointSliceList
	if err := r.List(ctx, &slices, client.InNamespace(namespace), client.MatchingLabels{discoveryv1.LabelServiceName: service}); err != nil {
		return false, err
	}
	return readyEndpoints(slices.Items) >= int(want), nil
}

// readyEndpoints counts the distinct ready endpoints of the slices: by the pod each stands
// for, or by its address when it names none.
func readyEndpoints(slices []discoveryv1.EndpointSlice) int {
	seen := map[string]bool{}
	for _, slice := range slices {
		for _, e := range slice.Endpoints {
			if !ptr.Deref(e.Conditions.Ready, false) || len(e.Addresses) == 0 {
				continue
			}
			key := e.Addresses[0]
			if e.TargetRef != nil && e.TargetRef.UID != "" {
				key = string(e.TargetRef.UID)
			}
			seen[key] = true
		}
	}
	return len(seen)
}

// servingReady is a workload's readiness with the Service's word added to the Deployment's.
func (r *RolloutReconciler) servingReady(ctx context.Context, ro *trancheapi.Rollout, service string, w planner.Workload) (planner.Workload, error) {
	if !w.Ready {
		return w, nil
	}
	ready, err := r.endpointsReady(ctx, ro.Namespace, service, w.Replicas)
	w.Ready = ready
	return w, err
}

// CacheObjects says what the manager's cache holds of each kind it must narrow: the Rollouts
// the selector picks (a shard's), and only the EndpointSlices of Tranche's Services (they
// carry the Services' labels), not every slice of the cluster.
func CacheObjects(rollouts labels.Selector) map[client.Object]cache.ByObject {
	managed, err := labels.NewRequirement(providers.LabelRollout, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant requirement
	}
	return map[client.Object]cache.ByObject{
		&trancheapi.Rollout{}:        {Label: rollouts},
		&discoveryv1.EndpointSlice{}: {Label: labels.NewSelector().Add(*managed), Transform: readinessOnly},
	}
}

// readinessOnly keeps of an EndpointSlice what readyEndpoints reads: which endpoints are
// ready, and the pod (or address) each stands for. The manager never writes a slice, and a
// slice is most of what it caches for a Rollout otherwise (ports, nodes, zones, hints, and
// the whole reference to each pod).
func readinessOnly(obj any) (any, error) {
	slice, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	kept := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: slice.Namespace, Name: slice.Name, UID: slice.UID, ResourceVersion: slice.ResourceVersion,
			Labels: slice.Labels,
		},
		AddressType: slice.AddressType,
		Endpoints:   make([]discoveryv1.Endpoint, 0, len(slice.Endpoints)),
	}
	for _, e := range slice.Endpoints {
		endpoint := discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: e.Conditions.Ready}}
		if len(e.Addresses) > 0 {
			endpoint.Addresses = []string{e.Addresses[0]}
		}
		if e.TargetRef != nil && e.TargetRef.UID != "" {
			endpoint.TargetRef = &corev1.ObjectReference{UID: e.TargetRef.UID}
		}
		kept.Endpoints = append(kept.Endpoints, endpoint)
	}
	return kept, nil
}
