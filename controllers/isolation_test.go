package controllers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestIsolationRefusesWhatItShould(t *testing.T) {
	rollout := func(edit func(*trancheapi.RolloutSpec)) *trancheapi.Rollout {
		ro := &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
		ro.Spec.Analysis = &trancheapi.Analysis{}
		edit(&ro.Spec)
		return ro
	}
	template := func(ns string) func(*trancheapi.RolloutSpec) {
		return func(s *trancheapi.RolloutSpec) {
			s.Analysis.Metrics = []trancheapi.Metric{{Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Namespace: ns, Name: "errors"}}}
		}
	}
	provider := func(ns string) func(*trancheapi.RolloutSpec) {
		return func(s *trancheapi.RolloutSpec) {
			s.Notify = []trancheapi.NotificationRef{{ProviderRef: trancheapi.NamespacedObjectReference{Namespace: ns, Name: "slack"}}}
		}
	}
	webhook := func(url string) func(*trancheapi.RolloutSpec) {
		return func(s *trancheapi.RolloutSpec) { s.Analysis.Webhooks = []trancheapi.Webhook{{Name: "smoke", URL: url}} }
	}
	strict := Isolation{NoCrossNamespaceRefs: true, Namespaces: []string{"shop", "ops"}, AllowedHosts: []string{"hooks.example.com", "*.internal.example.com", "10.0.0.7"}}
	for _, tc := range []struct {
		name string
		iso  Isolation
		ro   *trancheapi.Rollout
		want string // in the message; "" when allowed
	}{
		{"a template of its own namespace", strict, rollout(template("")), ""},
		{"a template named in its own namespace", strict, rollout(template("shop")), ""},
		{"another namespace's template", strict, rollout(template("ops")), `spec.analysis.metrics[0].templateRef refers to errors in namespace "ops", and this controller runs with --no-cross-namespace-refs`},
		{"another namespace's provider", strict, rollout(provider("ops")), `spec.notify[0].providerRef refers to slack in namespace "ops"`},
		{"another namespace's template, allowed", Isolation{}, rollout(template("ops")), ""},
		{"an unwatched namespace", Isolation{Namespaces: []string{"shop"}}, rollout(template("ops")), `which this controller does not watch (--namespaces=shop)`},
		{"an allowed webhook host", strict, rollout(webhook("https://hooks.example.com/smoke")), ""},
		{"an allowed subdomain", strict, rollout(webhook("http://checks.internal.example.com:8080/smoke")), ""},
		{"the domain of allowed subdomains is not one", strict, rollout(webhook("http://internal.example.com/smoke")), "the host internal.example.com is not among"},
		{"an allowed address", strict, rollout(webhook("http://10.0.0.7/smoke")), ""},
		{"another address", strict, rollout(webhook("http://169.254.169.254/latest/meta-data")), "webhook smoke: the host address 169.254.169.254 is not among the hosts this controller may call (--allowed-webhook-hosts="},
		{"any host without a list", Isolation{}, rollout(webhook("http://169.254.169.254/")), ""},
	} {
		p := tc.iso.refused(tc.ro)
		if tc.want == "" {
			assert.Nil(t, p, tc.name)
			continue
		}
		if assert.NotNil(t, p, tc.name) {
			assert.Equal(t, trancheapi.ReasonReferenceRefused, p.Reason, tc.name)
			assert.Contains(t, p.Message, tc.want, tc.name)
		}
	}
}

func TestARefusedAddressIsNotEchoed(t *testing.T) {
	iso := Isolation{AllowedHosts: []string{"hooks.slack.com"}}
	err := iso.allows("https://hooks.example.com/services/T000/B000/secret-token")
	assert.ErrorContains(t, err, "hooks.example.com")
	assert.NotContains(t, err.Error(), "secret-token")
	assert.NoError(t, iso.allows("https://hooks.slack.com/services/T000/B000/secret-token"))
	err = iso.allows("::not a url")
	assert.NotContains(t, err.Error(), "not a url")
}
