package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
)

// notify hands the news of an event to the providers the Rollout subscribes to (or the
// controller's default one), for those whose severity takes it. It never waits: the
// dispatcher delivers in the background.
func (r *RolloutReconciler) notify(ro *trancheapi.Rollout, reason, message string) {
	if r.Notifier == nil {
		return
	}
	news, ok := notify.NewsOf(ro, reason, message, r.Now())
	if !ok {
		return
	}
	news.Cluster = r.ClusterName
	refs := ro.Spec.Notify
	if len(refs) == 0 && r.DefaultNotificationProvider != nil {
		p := *r.DefaultNotificationProvider
		refs = []trancheapi.NotificationRef{{ProviderRef: trancheapi.NamespacedObjectReference{Namespace: p.Namespace, Name: p.Name}}}
	}
	for _, ref := range refs {
		if ref.Severity == trancheapi.SeverityError && news.Kind.Severity() != trancheapi.SeverityError {
			continue
		}
		r.Notifier.Send(namespaced(ref.ProviderRef, ro.Namespace), news)
	}
}

// notificationTarget reads a NotificationProvider and the URL from its Secret, for the
// dispatcher, at the moment it sends.
func (r *RolloutReconciler) notificationTarget(ctx context.Context, key types.NamespacedName) (notify.Target, error) {
	t, err := notify.ReadTarget(ctx, r.Client, key)
	if err == nil {
		if err = r.Isolation.allows(t.URL); err != nil {
			return notify.Target{}, fmt.Errorf("NotificationProvider %s: %w", key, err)
		}
	}
	return t, err
}
