package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
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
	p := &trancheapi.NotificationProvider{}
	if err := r.Get(ctx, key, p); err != nil {
		return notify.Target{}, fmt.Errorf("reading NotificationProvider %s: %w", key, err)
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.SecretRef.Name}, secret); err != nil {
		return notify.Target{}, fmt.Errorf("reading the Secret of NotificationProvider %s: %w", key, err)
	}
	address := string(secret.Data["address"])
	if address == "" {
		return notify.Target{}, fmt.Errorf("the Secret %s of NotificationProvider %s has no key address: put the endpoint's URL there", p.Spec.SecretRef.Name, key)
	}
	t := notify.Target{
		Type: p.Spec.Type, URL: address,
		Slack: notify.SlackOptions{Channel: p.Spec.Channel, Username: p.Spec.Username, IconEmoji: p.Spec.IconEmoji},
	}
	if p.Spec.Timeout != nil {
		t.Timeout = p.Spec.Timeout.Duration
	}
	return t, nil
}
