package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// act carries out the one action decide chose.
func (r *RolloutReconciler) act(ctx context.Context, s *scope, a action) error {
	ro, target := s.rollout, s.target
	var err error
	switch a.kind {
	case actNone:
		return nil
	case actCreatePrimary:
		err = r.createPrimary(ctx, s, a.replicas)
	case actUpdatePrimary:
		if err := r.writePrimaryConfigs(ctx, ro, s.configObjects); err != nil {
			return err
		}
		err = r.updatePrimary(ctx, ro, target, s.configs)
	case actScaleTarget:
		err = r.scaleTarget(ctx, ro, a.replicas)
		err = client.IgnoreNotFound(err) // deleted meanwhile: the next reconcile says so
	case actScalePrimary:
		key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.PrimaryName()}
		_, err = updateWorkload(ctx, r.Client, workloadKind(target), key, func(primary client.Object) error {
			scale(primary, a.replicas)
			return nil
		})
	case actSetRoutes:
		return s.router.SetRoutes(ctx, ro, a.routes)
	default:
		return fmt.Errorf("unknown action %d", a.kind)
	}
	return err
}

// createPrimary creates the primary from the target, after the copies of the configuration
// it uses.
func (r *RolloutReconciler) createPrimary(ctx context.Context, s *scope, replicas int32) error {
	primary, err := desiredPrimary(s.rollout, s.target, replicas, s.configs)
	if err != nil {
		return specError{err}
	}
	if err := r.writePrimaryConfigs(ctx, s.rollout, s.configObjects); err != nil {
		return err
	}
	if err := controllerutil.SetControllerReference(s.rollout, primary, r.Scheme()); err != nil {
		return err
	}
	return r.Create(ctx, primary)
}

// updatePrimary copies the target's pod template to the primary, keeping its replicas.
func (r *RolloutReconciler) updatePrimary(ctx context.Context, ro *trancheapi.Rollout, target client.Object, configs map[configRef]configData) error {
	want, err := desiredPrimary(ro, target, 0, configs)
	if err != nil {
		return specError{err}
	}
	_, err = updateWorkload(ctx, r.Client, workloadKind(target), client.ObjectKeyFromObject(want), func(primary client.Object) error {
		*podTemplate(primary) = *podTemplate(want)
		setAnnotation(primary, trancheapi.AnnotationRevision, want.GetAnnotations()[trancheapi.AnnotationRevision])
		return nil
	})
	return err
}

// setStatus writes what decide chose into the Rollout's status and conditions.
func setStatus(ro *trancheapi.Rollout, p plan) {
	ro.Status = p.status
	ro.Status.ObservedGeneration = ro.Generation
	setPhaseConditions(ro)
}

// announce tells people what the decision was (events, webhooks, notifications) and updates
// the metrics, once it is committed and before it is acted on.
func (r *RolloutReconciler) announce(ctx context.Context, ro *trancheapi.Rollout, p plan) {
	for _, e := range p.events {
		kind := corev1.EventTypeNormal
		if e.warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(ro, nil, kind, e.reason, "Rollout", "%s", e.message)
		r.notifyWebhooks(ro, trancheapi.WebhookEvent, e.reason+": "+e.message)
		r.notify(ro, e.reason, e.message)
	}
	for _, hook := range p.hooks {
		r.notifyWebhooks(ro, hook, p.status.Message)
	}
	observeMetrics(ro, p)
}
