package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// An analysis run needs the MetricTemplate's credentials: when the API server fails to give
// them for a moment, no run is made (the reconcile fails, and retries), where an
// inconclusive run would count against a canary that did nothing wrong. A Secret that is not
// there is the user's to fix: the run is inconclusive and says why.
func TestAnAnalysisRunIsNotMadeWhenTheAPIServerFailsToGiveItsCredentials(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "authed"},
		Spec: trancheapi.MetricTemplateSpec{
			Prometheus: &trancheapi.PrometheusSource{Address: prom.URL(), SecretRef: &trancheapi.LocalObjectReference{Name: "prometheus-auth"}},
			Query:      `vector(0)`,
		},
	}))
	ro := canaryRollout(ns)
	ro.Spec.Analysis.Metrics = []trancheapi.Metric{{Name: "zero", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "authed"}, Max: ptr.To(0.0)}}
	secretReads := func(err error) *RolloutReconciler {
		c := interceptor.NewClient(cp.Client, interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if _, ok := obj.(*corev1.Secret); ok && err != nil {
					return err
				}
				return c.Get(ctx, key, obj, opts...)
			},
		})
		return &RolloutReconciler{Client: c, Now: time.Now, PrometheusAddress: prom.URL()}
	}

	for name, err := range map[string]error{
		"a read that timed out":            apierrors.NewTimeoutError("the read timed out", 0),
		"an API server that is overloaded": apierrors.NewTooManyRequests("slow down", 1),
	} {
		checks, runErr := secretReads(err).runAnalysis(ctx, ro, nil, time.Now(), "rev")
		assert.ErrorIs(t, runErr, errRunNotMade, name)
		assert.Empty(t, checks, "%s: no run is made", name)
	}

	checks, err := secretReads(nil).runAnalysis(ctx, ro, nil, time.Now(), "rev")
	require.NoError(t, err)
	require.Len(t, checks, 1)
	assert.Equal(t, trancheapi.VerdictInconclusive, checks[0].Verdict)
	assert.Contains(t, checks[0].Message, `reading the credentials of MetricTemplate authed: secrets "prometheus-auth" not found`)

	require.NoError(t, cp.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prometheus-auth"},
		StringData: map[string]string{"username": "u", "password": "p"},
	}))
	checks, err = secretReads(nil).runAnalysis(ctx, ro, nil, time.Now(), "rev")
	require.NoError(t, err)
	require.Len(t, checks, 1)
	assert.Equal(t, trancheapi.VerdictPass, checks[0].Verdict, "%s", checks[0].Message)
}
