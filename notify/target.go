package notify

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// ReadTarget reads a NotificationProvider and the URL its Secret holds: the manager's
// Resolver, and what `kubectl tranche notify test` sends to with the user's credentials.
func ReadTarget(ctx context.Context, c client.Reader, key types.NamespacedName) (Target, error) {
	p := &trancheapi.NotificationProvider{}
	if err := c.Get(ctx, key, p); err != nil {
		return Target{}, fmt.Errorf("reading NotificationProvider %s: %w", key, err)
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.SecretRef.Name}, secret); err != nil {
		return Target{}, fmt.Errorf("reading the Secret of NotificationProvider %s: %w", key, err)
	}
	address := string(secret.Data["address"])
	if address == "" {
		return Target{}, fmt.Errorf("the Secret %s of NotificationProvider %s has no key address: put the endpoint's URL there", p.Spec.SecretRef.Name, key)
	}
	return TargetOf(p, address), nil
}

// TargetOf is where a NotificationProvider's messages go, given the URL its Secret holds.
func TargetOf(p *trancheapi.NotificationProvider, address string) Target {
	t := Target{
		Type: p.Spec.Type, URL: address,
		Slack: SlackOptions{Channel: p.Spec.Channel, Username: p.Spec.Username, IconEmoji: p.Spec.IconEmoji},
	}
	if p.Spec.Timeout != nil {
		t.Timeout = p.Spec.Timeout.Duration
	}
	t.Templates, t.TemplateErr = ParseTemplates(p.Spec.Templates)
	return t
}
