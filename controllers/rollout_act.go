package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// act carries out the one action decide chose.
func (r *RolloutReconciler) act(ctx context.Context, s *scope, a action) error {
	ro, target := s.rollout, s.target
	switch a.kind {
	case actNone:
		return nil
	case actCreatePrimary:
		primary, err := desiredPrimary(ro, target, a.replicas, s.configs)
		if err != nil {
			return specError{err}
		}
		if err := r.writePrimaryConfigs(ctx, ro, s.configObjects); err != nil {
			return err
		}
		if err := controllerutil.SetControllerReference(ro, primary, r.Scheme()); err != nil {
			return err
		}
		return r.Create(ctx, primary)
	case actUpdatePrimary:
		if err := r.writePrimaryConfigs(ctx, ro, s.configObjects); err != nil {
			return err
		}
		return r.updatePrimary(ctx, ro, target, s.configs)
	case actScaleTarget:
		return r.scaleTarget(ctx, ro, a.replicas)
	case actScalePrimary:
		key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.PrimaryName()}
		_, err := providers.Update(ctx, r.Client, key, func(d *appsv1.Deployment) error {
			d.Spec.Replicas = &a.replicas
			return nil
		})
		return err
	case actSetRoutes:
		return s.router.SetRoutes(ctx, ro, a.routes)
	}
	return fmt.Errorf("unknown action %d", a.kind)
}

// updatePrimary copies the target's pod template to the primary, keeping its replicas; the
// copies of the configuration it uses are written first.
func (r *RolloutReconciler) updatePrimary(ctx context.Context, ro *trancheapi.Rollout, target *appsv1.Deployment, configs map[configRef]configData) error {
	want, err := desiredPrimary(ro, target, 0, configs)
	if err != nil {
		return specError{err}
	}
	key := types.NamespacedName{Namespace: ro.Namespace, Name: want.Name}
	_, err = providers.Update(ctx, r.Client, key, func(d *appsv1.Deployment) error {
		d.Spec.Template = want.Spec.Template
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[trancheapi.AnnotationRevision] = want.Annotations[trancheapi.AnnotationRevision]
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
