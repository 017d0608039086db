package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
	"github.com/tranche-dev/tranche/providers"
)

// specError is a problem with the Rollout's spec, or with the objects it points at, that
// only its user can fix: the Rollout is Stalled with the message rather than retried.
type specError struct{ error }

// asProblem turns errors only the user can fix into a Stalled problem; nil for others.
func asProblem(err error) *planner.Problem {
	var se specError
	var p *planner.Problem
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return p
	case errors.As(err, &se), errors.Is(err, providers.ErrUnsupported), errors.Is(err, providers.ErrUnknownProvider),
		errors.Is(err, providers.ErrMissingReference), errors.Is(err, providers.ErrMalformed):
		return &planner.Problem{Reason: trancheapi.ReasonInvalidSpec, Message: err.Error()}
	}
	return nil
}

// ensureInfrastructure creates or updates what every rollout routes through: the three
// Services and, once the primary serves, the provider's routing objects. It never changes
// the current split. ready is false when the reconcile must end here because it created
// something the Router reads from the cache: the Services' watch events start the next
// reconcile (after is 0); the routing objects are not watched, so after says when to look.
func (r *RolloutReconciler) ensureInfrastructure(ctx context.Context, s *scope) (ready bool, after time.Duration, err error) {
	ro, target := s.rollout, s.target
	primarySel, err := primarySelector(target)
	if err != nil {
		return false, 0, specError{err}
	}
	apex, primary, canary := providers.DesiredServices(ro, primarySel, podSelector(target).MatchLabels)
	created := false
	for _, svc := range []*corev1.Service{apex, primary, canary} {
		made, err := r.ensureService(ctx, ro, svc, svc != apex)
		if err != nil {
			return false, 0, err
		}
		created = created || made
	}
	if created {
		return false, 0, nil
	}
	if err := r.ensurePrimaryAutoscaler(ctx, ro, s.autoscaler); err != nil {
		return false, 0, err
	}
	// New routing objects send everything to the primary: made before it serves, they would
	// send what they take to no one. Until then the reconcile goes on to start the primary.
	if serves, err := r.primaryServes(ctx, ro); err != nil || !serves {
		return err == nil, 0, err
	}
	if err := r.takeBackApex(ctx, ro, apex.Spec.Selector); err != nil {
		return false, 0, err
	}
	_, err = s.router.Routes(ctx, ro)
	missing := apierrors.IsNotFound(err)
	if err := s.router.Reconcile(ctx, ro); err != nil {
		return false, 0, err
	}
	if missing {
		return false, staleRetryDelay, nil
	}
	return true, 0, nil
}

// handedOverTo reports whether svc is the apex Service a deleted Rollout of ro's name left
// behind (see handOverApex).
func handedOverTo(svc *corev1.Service, ro *trancheapi.Rollout) bool {
	return svc.Annotations[trancheapi.AnnotationHandedOver] != "" && svc.Labels[providers.LabelRollout] == ro.Name &&
		metav1.GetControllerOf(svc) == nil
}

// takeBackApex points an apex Service taken back from a deleted Rollout at the primary, once
// the primary serves: until then it kept selecting the target's pods, which served meanwhile.
func (r *RolloutReconciler) takeBackApex(ctx context.Context, ro *trancheapi.Rollout, primarySelector map[string]string) error {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.ServiceNames().Apex}
	_, err := providers.Update(ctx, r.Client, key, func(svc *corev1.Service) error {
		if svc.Annotations[trancheapi.AnnotationHandedOver] == "" {
			return nil // not taken back, or taken back and pointed at the primary already
		}
		svc.Spec.Selector = maps.Clone(primarySelector)
		delete(svc.Annotations, trancheapi.AnnotationHandedOver)
		return nil
	})
	return err
}

// primaryServes reports whether the primary may be routed to: once a Rollout is initialized
// it has, whatever its readiness now (a promotion updates it while the canary serves).
func (r *RolloutReconciler) primaryServes(ctx context.Context, ro *trancheapi.Rollout) (bool, error) {
	if ro.Status.Phase != "" && ro.Status.Phase != trancheapi.PhaseInitializing {
		return true, nil
	}
	primary := newWorkload(ro.Spec.TargetRef.Kind)
	err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ro.PrimaryName()}, primary)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p, err := r.servingReady(ctx, ro, ro.ServiceNames().Primary, workloadOf(primary, true))
	return p.Ready, err
}

// ensureService creates a Service, or brings its ports and labels in line. The selector of
// the apex Service is set only when it is created: after that it is the Router's.
func (r *RolloutReconciler) ensureService(ctx context.Context, ro *trancheapi.Rollout, want *corev1.Service, ownSelector bool) (created bool, err error) {
	if err := controllerutil.SetControllerReference(ro, want, r.Scheme()); err != nil {
		return false, err
	}
	_, err = providers.Update(ctx, r.Client, client.ObjectKeyFromObject(want), func(svc *corev1.Service) error {
		if !metav1.IsControlledBy(svc, ro) {
			if !handedOverTo(svc, ro) {
				return specError{fmt.Errorf("Service %q exists and is not Tranche's: rename it, or delete it so that Tranche can create its own", svc.Name)}
			}
			if err := controllerutil.SetControllerReference(ro, svc, r.Scheme()); err != nil {
				return err
			}
		}
		svc.Spec.Ports = want.Spec.Ports
		if ownSelector {
			svc.Spec.Selector = want.Spec.Selector
		}
		if svc.Labels == nil {
			svc.Labels = map[string]string{}
		}
		maps.Copy(svc.Labels, want.Labels)
		return nil
	})
	if !apierrors.IsNotFound(err) {
		return false, err
	}
	// AlreadyExists means another writer's create is not in the cache yet: look again later.
	if err := r.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	return true, nil
}

// restoreTarget gives the target the primary's replica count back (a DaemonSet: runs it on
// its nodes again), so that deleting a Rollout leaves a serving workload behind, the count
// its owner's from then on.
func (r *RolloutReconciler) restoreTarget(ctx context.Context, ro *trancheapi.Rollout) error {
	kind := ro.Spec.TargetRef.Kind
	primary := newWorkload(kind)
	if err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ro.PrimaryName()}, primary); err != nil {
		return client.IgnoreNotFound(err)
	}
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.Spec.TargetRef.Name}
	_, err := updateWorkload(ctx, r.Client, kind, key, func(target client.Object) error {
		scale(target, max(replicasOf(primary), 1))
		annotations := target.GetAnnotations()
		delete(annotations, trancheapi.AnnotationScaledTo)
		delete(annotations, trancheapi.AnnotationOwnGenerations)
		target.SetAnnotations(annotations)
		return nil
	})
	return client.IgnoreNotFound(err)
}

// scaleTarget sets the target's replicas (a DaemonSet's: parks it, or runs it on every node),
// the one field of the user's workload Tranche writes, and records in the same write that
// the count is Tranche's (see declaredReplicas) and which generation is its own.
func (r *RolloutReconciler) scaleTarget(ctx context.Context, ro *trancheapi.Rollout, replicas int32) error {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.Spec.TargetRef.Name}
	var err error
	if ro.Spec.TargetRef.Kind != trancheapi.KindDaemonSet {
		_, err = scaleDeployment(ctx, r.Client, key, replicas)
	} else {
		_, err = updateWorkload(ctx, r.Client, ro.Spec.TargetRef.Kind, key, func(target client.Object) error {
			scaleAsOwn(target, replicas)
			return nil
		})
	}
	return err
}
