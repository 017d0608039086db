package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// act carries out the one action decide chose.
func (r *RolloutReconciler) act(ctx context.Context, s *scope, a planner.Action) error {
	ro, target := s.rollout, s.target
	var err error
	switch a.Kind {
	case planner.NoAction:
		return nil
	case planner.CreatePrimary:
		err = r.createPrimary(ctx, s, a.Replicas)
	case planner.UpdatePrimary:
		if err := r.writePrimaryConfigs(ctx, ro, s.configObjects); err != nil {
			return err
		}
		err = r.updatePrimary(ctx, ro, target, s.configs)
	case planner.ScaleTarget:
		err = r.scaleTarget(ctx, ro, a.Replicas)
		err = client.IgnoreNotFound(err) // deleted meanwhile: the next reconcile says so
	case planner.ScalePrimary:
		key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.PrimaryName()}
		_, err = updateWorkload(ctx, r.Client, workloadKind(target), key, func(primary client.Object) error {
			scale(primary, a.Replicas)
			return nil
		})
	case planner.SetRoutes:
		return s.router.SetRoutes(ctx, ro, a.Routes)
	case planner.RestorePrimary:
		err = r.restorePrimary(ctx, s, a.Revision)
	default:
		return fmt.Errorf("unknown action %d", a.Kind)
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
func setStatus(ro *trancheapi.Rollout, p planner.Plan) {
	ro.Status = p.Status
	ro.Status.ObservedGeneration = ro.Generation
	setPhaseConditions(ro)
}

// announce tells people what the decision was (events, webhooks, notifications) and updates
// the metrics, once it is committed and before it is acted on.
func (r *RolloutReconciler) announce(ctx context.Context, ro *trancheapi.Rollout, p planner.Plan) {
	for _, e := range p.Events {
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(ro, nil, kind, e.Reason, "Rollout", "%s", e.Message)
		r.notifyWebhooks(ro, trancheapi.WebhookEvent, e.Reason+": "+e.Message)
		r.notify(ro, e.Reason, e.Message)
	}
	for _, hook := range p.Hooks {
		r.notifyWebhooks(ro, hook, p.Status.Message)
	}
	observeMetrics(ro, p)
}
