package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
)

// NotificationProviderReconciler says on each NotificationProvider whether its message
// templates work: its Ready condition, and a Warning event when they stop working. The
// dispatcher sends Tranche's own words in place of a template that fails either way; this
// tells the provider's owner before a rollout does.
type NotificationProviderReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=tranche.dev,resources=notificationproviders/status,verbs=patch

// Reconcile checks one provider's templates and writes what it found, when that changed.
func (r *NotificationProviderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &trancheapi.NotificationProvider{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ready := providerReady(p)
	if p.Status.ObservedGeneration == p.Generation && meta.IsStatusConditionPresentAndEqual(p.Status.Conditions, ready.Type, ready.Status) &&
		meta.FindStatusCondition(p.Status.Conditions, ready.Type).Message == ready.Message {
		return ctrl.Result{}, nil
	}
	base := p.DeepCopy()
	turned := !meta.IsStatusConditionPresentAndEqual(p.Status.Conditions, ready.Type, ready.Status)
	meta.SetStatusCondition(&p.Status.Conditions, ready)
	p.Status.ObservedGeneration = p.Generation
	if err := r.Client.Status().Patch(ctx, p, client.MergeFrom(base)); err != nil {
		return ctrl.Result{}, err
	}
	if turned && ready.Status == metav1.ConditionFalse {
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ready.Reason, "Validate", "%s", ready.Message)
	}
	return ctrl.Result{}, nil
}

// providerReady is the Ready condition of a provider: whether every template parses and
// renders every kind of news.
func providerReady(p *trancheapi.NotificationProvider) metav1.Condition {
	c := metav1.Condition{Type: trancheapi.ConditionReady, ObservedGeneration: p.Generation}
	switch err := notify.CheckTemplates(p.Spec.Templates); {
	case err != nil:
		c.Status, c.Reason = metav1.ConditionFalse, trancheapi.ReasonTemplateInvalid
		c.Message = "Messages go out with Tranche's own words where these fail: " + err.Error()
	case len(p.Spec.Templates) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, trancheapi.ReasonSucceeded, "No templates: messages have Tranche's own words"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, trancheapi.ReasonSucceeded, "The templates render every kind of news"
	}
	return c
}

// SetupWithManager registers the controller.
func (r *NotificationProviderReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&trancheapi.NotificationProvider{}).Named("notificationprovider").Complete(r)
}
