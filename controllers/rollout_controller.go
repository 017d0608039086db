package controllers

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// RolloutReconciler reconciles Rollouts.
type RolloutReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Now is the clock; tests inject a fixed one.
	Now func() time.Time
	// PrometheusAddress is the server asked by MetricTemplates that name none.
	PrometheusAddress string
}

// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts/finalizers,verbs=update
// +kubebuilder:rbac:groups=tranche.dev,resources=metrictemplates;notificationproviders,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one Rollout one step towards its spec and records what it saw in status.
func (r *RolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ro := &trancheapi.Rollout{}
	if err := r.Get(ctx, req.NamespacedName, ro); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := log.FromContext(ctx, "rollout", klog.KObj(ro))
	ctx = ctrl.LoggerInto(ctx, log)

	// Status is written once, on every way out of this function.
	before := ro.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, before, ro); err != nil && !apierrors.IsNotFound(err) {
			retErr = err
		}
	}()

	if !ro.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	obs, err := r.observe(ctx, ro)
	if err != nil {
		setReconcilingError(ro, err)
		return ctrl.Result{}, err
	}
	if problem := obs.references.problem(); problem != nil {
		r.setStalled(ro, problem)
		return ctrl.Result{}, nil
	}
	setReady(ro, obs.references.summary())
	ro.Status.ObservedGeneration = ro.Generation
	return ctrl.Result{}, nil
}

// patchStatus writes the status if it changed since before.
func (r *RolloutReconciler) patchStatus(ctx context.Context, before, ro *trancheapi.Rollout) error {
	if equalStatus(before.Status, ro.Status) {
		return nil
	}
	return r.Status().Patch(ctx, ro, client.MergeFrom(before))
}
