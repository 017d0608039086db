package controllers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestReferencesProblem(t *testing.T) {
	target := types.NamespacedName{Namespace: "shop", Name: "podinfo"}
	template := objectRef{key: types.NamespacedName{Namespace: "shop", Name: "errors"}, field: "spec.analysis.metrics[1].templateRef"}
	provider := objectRef{key: types.NamespacedName{Namespace: "ops", Name: "slack"}, field: "spec.notify[0].providerRef"}

	cases := []struct {
		name        string
		refs        references
		wantReason  string
		wantMessage string
	}{
		{
			name: "all found",
			refs: references{targetKey: target, target: &appsv1.Deployment{}, templates: 2, providers: 1},
		},
		{
			name:        "target missing",
			refs:        references{targetKind: trancheapi.KindDeployment, targetKey: target},
			wantReason:  trancheapi.ReasonTargetNotFound,
			wantMessage: `Deployment "podinfo" not found in namespace "shop": create it, or fix spec.targetRef`,
		},
		{
			name:        "target missing wins over a missing template",
			refs:        references{targetKind: trancheapi.KindDaemonSet, targetKey: target, missingTemplates: []objectRef{template}},
			wantReason:  trancheapi.ReasonTargetNotFound,
			wantMessage: `DaemonSet "podinfo" not found in namespace "shop": create it, or fix spec.targetRef`,
		},
		{
			name:        "template missing",
			refs:        references{targetKey: target, target: &appsv1.Deployment{}, missingTemplates: []objectRef{template}},
			wantReason:  trancheapi.ReasonTemplateNotFound,
			wantMessage: `MetricTemplate "shop/errors" (spec.analysis.metrics[1].templateRef) not found: create it, or fix the reference`,
		},
		{
			name: "two templates missing",
			refs: references{targetKey: target, target: &appsv1.Deployment{}, missingTemplates: []objectRef{template, {
				key: types.NamespacedName{Namespace: "shop", Name: "latency"}, field: "spec.analysis.metrics[2].templateRef",
			}}},
			wantReason:  trancheapi.ReasonTemplateNotFound,
			wantMessage: `MetricTemplate "shop/errors" (spec.analysis.metrics[1].templateRef), "shop/latency" (spec.analysis.metrics[2].templateRef) not found: create it, or fix the reference`,
		},
		{
			name:        "notification provider missing",
			refs:        references{targetKey: target, target: &appsv1.Deployment{}, missingProviders: []objectRef{provider}},
			wantReason:  trancheapi.ReasonProviderNotFound,
			wantMessage: `NotificationProvider "ops/slack" (spec.notify[0].providerRef) not found: create it, or fix the reference`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.refs.problem()
			if tc.wantReason == "" {
				assert.Nil(t, p)
				return
			}
			if assert.NotNil(t, p) {
				assert.Equal(t, tc.wantReason, p.Reason)
				assert.Equal(t, tc.wantMessage, p.Message)
			}
		})
	}
}
