package controllers

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=list

// An undo puts back the template the primary ran before its current one. The primary's
// Deployment keeps it, as it keeps every template it ran (up to its revisionHistoryLimit): in
// an older ReplicaSet. They are read from the API server when an undo is asked for, and only
// then: caching every ReplicaSet of the cluster for a rare request would cost the manager the
// memory of all of them.

// deploymentRevision is the annotation in which the deployment controller numbers a
// Deployment's ReplicaSets, the newest highest.
const deploymentRevision = "deployment.kubernetes.io/revision"

// earlierTemplate finds the ReplicaSet of the primary's template before its current one;
// nil, with why, when there is none.
func (r *RolloutReconciler) earlierTemplate(ctx context.Context, s *scope) (*appsv1.ReplicaSet, string, error) {
	if _, ok := s.target.(*appsv1.Deployment); !ok {
		return nil, "a DaemonSet keeps its earlier revisions as ControllerRevisions, which undo does not read: set the target back in Git instead", nil
	}
	primary := &appsv1.Deployment{}
	key := types.NamespacedName{Namespace: s.rollout.Namespace, Name: s.rollout.PrimaryName()}
	if err := r.Get(ctx, key, primary); err != nil {
		return nil, "", err
	}
	reader := r.uncached
	if reader == nil {
		reader = r.Client
	}
	var sets appsv1.ReplicaSetList
	if err := reader.List(ctx, &sets, client.InNamespace(key.Namespace), client.MatchingLabels(primary.Spec.Selector.MatchLabels)); err != nil {
		return nil, "", fmt.Errorf("listing the primary's ReplicaSets: %w", err)
	}
	var owned []appsv1.ReplicaSet
	for _, rs := range sets.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == primary.UID {
			owned = append(owned, rs)
		}
	}
	sort.Slice(owned, func(i, j int) bool { return numbered(&owned[i]) > numbered(&owned[j]) })
	if len(owned) < 2 {
		return nil, fmt.Sprintf("the primary keeps no template before its current one (it has run one revision, or its revisionHistoryLimit, %d, keeps none)",
			ptr.Deref(primary.Spec.RevisionHistoryLimit, 10)), nil
	}
	return &owned[1], "", nil
}

// earlier is what Decide needs to know of the primary's earlier template.
func (r *RolloutReconciler) earlier(ctx context.Context, s *scope) (*planner.Earlier, error) {
	rs, why, err := r.earlierTemplate(ctx, s)
	if err != nil || rs == nil {
		return &planner.Earlier{Why: why}, err
	}
	annotations := rs.Spec.Template.Annotations
	return &planner.Earlier{Kept: true, Revision: annotations[trancheapi.AnnotationRevision], Configured: annotations[trancheapi.AnnotationConfigured] == "true"}, nil
}

// restorePrimary puts the earlier template of revision back on the primary. The deployment
// controller labels a ReplicaSet's template with its hash; the label goes, as the Deployment
// had none.
func (r *RolloutReconciler) restorePrimary(ctx context.Context, s *scope, revision string) error {
	rs, why, err := r.earlierTemplate(ctx, s)
	if err != nil {
		return err
	}
	if rs == nil || rs.Spec.Template.Annotations[trancheapi.AnnotationRevision] != revision {
		return fmt.Errorf("the primary's template of revision %s is gone since the undo was decided: %s", revision, why)
	}
	template := *rs.Spec.Template.DeepCopy()
	delete(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	key := types.NamespacedName{Namespace: s.rollout.Namespace, Name: s.rollout.PrimaryName()}
	_, err = updateWorkload(ctx, r.Client, trancheapi.KindDeployment, key, func(primary client.Object) error {
		*podTemplate(primary) = template
		setAnnotation(primary, trancheapi.AnnotationRevision, revision)
		return nil
	})
	return err
}

// numbered is a ReplicaSet's number among its Deployment's, 0 when it has none.
func numbered(rs *appsv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.Annotations[deploymentRevision], 10, 64)
	return n
}
