package argocd

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/config/crd"
)

// rollout is a Rollout as Argo CD reads it: generation 3, seen by the controller, in phase.
func rollout(phase trancheapi.Phase, edit ...func(*trancheapi.Rollout)) *trancheapi.Rollout {
	ro := &trancheapi.Rollout{
		TypeMeta:   metav1.TypeMeta{APIVersion: trancheapi.GroupVersion.String(), Kind: "Rollout"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo", Generation: 3},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
				ParentRefs: []trancheapi.ParentReference{{Name: "public"}},
			}},
		},
		Status: trancheapi.RolloutStatus{Phase: phase, ObservedGeneration: 3},
	}
	for _, e := range edit {
		e(ro)
	}
	return ro
}

func object(t *testing.T, ro *trancheapi.Rollout) map[string]any {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ro)
	require.NoError(t, err)
	return obj
}

func at(step, weight int32, message string) func(*trancheapi.Rollout) {
	return func(ro *trancheapi.Rollout) {
		ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.Message = step, weight, message
	}
}

func withCondition(kind string, status metav1.ConditionStatus, message string) func(*trancheapi.Rollout) {
	return func(ro *trancheapi.Rollout) {
		ro.Status.Conditions = append(ro.Status.Conditions, metav1.Condition{Type: kind, Status: status, Reason: "Test", Message: message})
	}
}

func annotated(key, value string) func(*trancheapi.Rollout) {
	return func(ro *trancheapi.Rollout) { ro.Annotations = map[string]string{key: value} }
}

var healthCases = []struct {
	name        string
	rollout     *trancheapi.Rollout
	status      string
	messageHave string
}{
	{"not yet seen by the controller", rollout(""), "Progressing", "Waiting for the Tranche controller"},
	{"initializing", rollout(trancheapi.PhaseInitializing, at(0, 0, "Creating the primary Deployment")), "Progressing", "Creating the primary"},
	{"initialized", rollout(trancheapi.PhaseInitialized, at(0, 0, "Revision abc serves all traffic")), "Healthy", "serves all traffic"},
	{"stepping", rollout(trancheapi.PhaseProgressing, at(1, 50, "Step 2/3: weight 50%, held 10s of 1m0s")), "Progressing", "step 2/3, canary weight 50%"},
	{"stepping with more steps", rollout(trancheapi.PhaseProgressing, at(0, 10, ""), func(ro *trancheapi.Rollout) {
		ro.Spec.Steps = make([]trancheapi.Step, 5)
	}), "Progressing", "step 1/5, canary weight 10%"},
	{"blue/green by default steps", rollout(trancheapi.PhaseProgressing, at(0, 0, ""), func(ro *trancheapi.Rollout) {
		ro.Spec.Provider = trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}}
	}), "Progressing", "step 1/2, canary weight 0%"},
	{"pause asked, not yet taken", rollout(trancheapi.PhaseProgressing, at(0, 5, ""), annotated(trancheapi.AnnotationPaused, "true")), "Suspended", "Pausing at step 1/3"},
	{"waiting for approval", rollout(trancheapi.PhaseWaitingApproval, at(2, 100, "")), "Suspended", "Waiting for approval at step 3/3, canary weight 100%: use the promote action"},
	{"paused", rollout(trancheapi.PhasePaused, at(1, 50, "")), "Suspended", "Paused at step 2/3"},
	{"promoting", rollout(trancheapi.PhasePromoting, at(2, 0, "Promoting revision abc: updating the primary")), "Progressing", "updating the primary"},
	{"succeeded", rollout(trancheapi.PhaseSucceeded, at(2, 0, "Promoted revision abc")), "Healthy", "Promoted revision abc"},
	{"failed", rollout(trancheapi.PhaseFailed, at(0, 0, "Rolled back revision abc: 2 failed analysis runs")), "Degraded", "2 failed analysis runs"},
	{"aborted", rollout(trancheapi.PhaseAborted, at(0, 0, "Rolled back revision abc: aborted")), "Degraded", "aborted"},
	{"stalled on bad config while idle", rollout(trancheapi.PhaseInitialized,
		withCondition(trancheapi.ConditionStalled, metav1.ConditionTrue, "MetricTemplate errors not found")), "Degraded", "Stalled: MetricTemplate errors not found"},
	{"stalled mid-rollout", rollout(trancheapi.PhaseProgressing, at(0, 5, ""),
		withCondition(trancheapi.ConditionStalled, metav1.ConditionTrue, "the nginx provider needs the Ingress shop")), "Degraded", "the nginx provider needs the Ingress shop"},
	{"no longer stalled", rollout(trancheapi.PhaseSucceeded, at(2, 0, "Promoted revision abc"),
		withCondition(trancheapi.ConditionStalled, metav1.ConditionFalse, "")), "Healthy", "Promoted"},
	{"spec changed, not yet seen", rollout(trancheapi.PhaseSucceeded, func(ro *trancheapi.Rollout) { ro.Status.ObservedGeneration = 2 }),
		"Progressing", "latest spec"},
	{"a phase of a newer controller", rollout("Exploding"), "Unknown", "Phase Exploding"},
}

func TestRolloutHealth(t *testing.T) {
	for _, tc := range healthCases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := RolloutHealth(object(t, tc.rollout))
			require.NoError(t, err)
			assert.Equal(t, tc.status, h.Status, h.Message)
			assert.Contains(t, h.Message, tc.messageHave)
		})
	}
}

// TestEveryPhaseHasAHealth holds the table to every phase the API defines (the CRD's enum):
// none is Unknown, and each is in the table.
func TestEveryPhaseHasAHealth(t *testing.T) {
	data, err := crd.Bases.ReadFile("bases/tranche.dev_rollouts.yaml")
	require.NoError(t, err)
	var def apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.Unmarshal(data, &def))
	phase := def.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"].Properties["phase"]
	require.NotEmpty(t, phase.Enum)
	tested := map[trancheapi.Phase]bool{}
	for _, tc := range healthCases {
		tested[tc.rollout.Status.Phase] = true
	}
	for _, raw := range phase.Enum {
		var p trancheapi.Phase
		require.NoError(t, yaml.Unmarshal(raw.Raw, &p))
		assert.True(t, tested[p], "phase %s has no case in the health table", p)
		h, err := RolloutHealth(object(t, rollout(p, at(0, 5, "something"))))
		require.NoError(t, err)
		assert.NotEqual(t, "Unknown", h.Status, "phase %s", p)
		assert.NotEmpty(t, h.Message, "phase %s", p)
	}
}

// A Rollout without annotations, conditions or a message is read without error.
func TestHealthOfABareRollout(t *testing.T) {
	h, err := RolloutHealth(map[string]any{"apiVersion": "tranche.dev/v1alpha1", "kind": "Rollout", "metadata": map[string]any{"name": "x"},
		"status": map[string]any{"phase": "Progressing"}})
	require.NoError(t, err)
	assert.Equal(t, Health{Status: "Progressing", Message: "step 1/3, canary weight 0%: stepping"}, h)
}

// A rolled-back rollout is Stalled with its phase as the reason (for kstatus): Argo CD tells
// of it by the phase, not as a spec that cannot work.
func TestARolledBackRolloutIsDegradedByItsPhase(t *testing.T) {
	const said = "Rolled back revision abc: 2 failed analysis runs"
	ro := rollout(trancheapi.PhaseFailed, at(0, 0, said))
	ro.Status.Conditions = []metav1.Condition{{Type: trancheapi.ConditionStalled, Status: metav1.ConditionTrue, Reason: string(trancheapi.PhaseFailed), Message: said}}
	h, err := RolloutHealth(object(t, ro))
	require.NoError(t, err)
	assert.Equal(t, "Degraded", h.Status)
	assert.Equal(t, said, h.Message)
}
