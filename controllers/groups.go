package controllers

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// The members of a group decide each for itself from the others' status (see package
// planner): the reconciler reads them from the cache, and a member's status change wakes the
// others.

// indexGroup indexes Rollouts by their group's name.
const indexGroup = "spec.group.name"

func groupIndexKey(o client.Object) []string {
	if g := o.(*trancheapi.Rollout).Spec.Group; g != nil {
		return []string{g.Name}
	}
	return nil
}

// groupOf lists the other members of the Rollout's group, in name order, as Decide reads
// them; nil for a Rollout in no group.
func (r *RolloutReconciler) groupOf(ctx context.Context, ro *trancheapi.Rollout) ([]planner.Member, error) {
	g := ro.Spec.Group
	if g == nil {
		return nil, nil
	}
	var list trancheapi.RolloutList
	if err := r.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingFields{indexGroup: g.Name}); err != nil {
		return nil, fmt.Errorf("listing the members of group %s: %w", g.Name, err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	var members []planner.Member
	for i := range list.Items {
		m := &list.Items[i]
		if m.Name == ro.Name {
			continue
		}
		ahead, err := r.targetAhead(ctx, m)
		if err != nil {
			return nil, err
		}
		members = append(members, planner.MemberOf(m, ahead))
	}
	return members, nil
}

// targetAhead reports whether the member's target changed since the member last looked: a
// release it has not begun yet, which the member's own reconcile is about to see.
func (r *RolloutReconciler) targetAhead(ctx context.Context, m *trancheapi.Rollout) (bool, error) {
	target := newWorkload(m.Spec.TargetRef.Kind)
	if err := r.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.TargetRef.Name}, target); err != nil {
		return false, client.IgnoreNotFound(err) // a member without its target says so itself
	}
	return !m.Status.Target.Covers(target.GetGeneration(), target.GetAnnotations()), nil
}

// groupMembers maps a Rollout to the other members of its group, whose decisions read its
// status.
func (r *RolloutReconciler) groupMembers(ctx context.Context, obj client.Object) []reconcile.Request {
	ro := obj.(*trancheapi.Rollout)
	if ro.Spec.Group == nil {
		return nil
	}
	var list trancheapi.RolloutList
	if err := r.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingFields{indexGroup: ro.Spec.Group.Name}); err != nil {
		return nil
	}
	var requests []reconcile.Request
	for _, m := range list.Items {
		if m.Name != ro.Name {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&m)})
		}
	}
	return requests
}

// memberChanged passes the changes of a group member's status that its members read.
var memberChanged = predicate.Funcs{
	CreateFunc:  func(e event.CreateEvent) bool { return e.Object.(*trancheapi.Rollout).Spec.Group != nil },
	DeleteFunc:  func(e event.DeleteEvent) bool { return e.Object.(*trancheapi.Rollout).Spec.Group != nil },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, after := e.ObjectOld.(*trancheapi.Rollout), e.ObjectNew.(*trancheapi.Rollout)
		if before.Spec.Group == nil && after.Spec.Group == nil {
			return false
		}
		return memberKey(before) != memberKey(after)
	},
}

// memberKey is what the other members read of a Rollout.
func memberKey(ro *trancheapi.Rollout) string {
	m := planner.MemberOf(ro, false)
	return fmt.Sprintf("%v/%s/%t/%d/%t/%s/%v", ro.Spec.Group, m.Phase, m.Pending, m.PassedSteps, m.StepsPassed, m.EndedAt, m.After)
}
