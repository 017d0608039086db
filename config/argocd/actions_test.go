package argocd

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// TestActionsOfferedByPhase: Argo CD offers an action only when the controller would act on
// it, as the kubectl plugin checks.
func TestActionsOfferedByPhase(t *testing.T) {
	for _, tc := range []struct {
		rollout *trancheapi.Rollout
		enabled []string
	}{
		{rollout(""), []string{"pause"}},
		{rollout(trancheapi.PhaseInitialized), []string{"pause"}},
		{rollout(trancheapi.PhaseProgressing), []string{"promote-full", "abort", "pause"}},
		{rollout(trancheapi.PhaseWaitingApproval), []string{"promote", "promote-full", "abort", "pause"}},
		{rollout(trancheapi.PhasePaused, annotated(trancheapi.AnnotationPaused, "true")), []string{"promote-full", "abort", "resume"}},
		{rollout(trancheapi.PhaseSucceeded, annotated(trancheapi.AnnotationPaused, "false")), []string{"pause", "resume"}},
		{rollout(trancheapi.PhasePromoting), []string{"abort", "pause"}},
		{rollout(trancheapi.PhaseFailed), []string{"retry", "pause"}},
		{rollout(trancheapi.PhaseAborted), []string{"retry", "pause"}},
	} {
		t.Run(string(tc.rollout.Status.Phase), func(t *testing.T) {
			actions, err := DiscoverActions(object(t, tc.rollout))
			require.NoError(t, err)
			var enabled []string
			for _, name := range Actions {
				a, ok := actions[name]
				require.True(t, ok, "action %s is not offered at all", name)
				assert.NotEmpty(t, a.DisplayName, name)
				if !a.Disabled {
					enabled = append(enabled, name)
				}
			}
			assert.Len(t, actions, len(Actions), "discovery offers an action without a script")
			assert.Equal(t, tc.enabled, enabled)
		})
	}
}

// TestActionsWriteThePluginsRequests: each action changes one annotation of the object, the
// one the kubectl plugin writes, and nothing else.
func TestActionsWriteThePluginsRequests(t *testing.T) {
	isToken := func(prefix string) func(t *testing.T, value string) {
		return func(t *testing.T, value string) {
			rest, ok := strings.CutPrefix(value, prefix+"argocd-")
			require.True(t, ok, "token %q", value)
			seconds, err := strconv.ParseInt(rest, 10, 64)
			require.NoError(t, err, "token %q", value)
			assert.InDelta(t, time.Now().Unix(), seconds, 5, "the token names the time of the press")
		}
	}
	for _, tc := range []struct {
		action     string
		annotation string
		check      func(t *testing.T, value string) // nil: the annotation is removed
	}{
		{"promote", trancheapi.AnnotationPromote, isToken("")},
		{"promote-full", trancheapi.AnnotationPromote, isToken(trancheapi.PromoteFullPrefix)},
		{"abort", trancheapi.AnnotationAbort, isToken("")},
		{"retry", trancheapi.AnnotationRetry, isToken("")},
		{"pause", trancheapi.AnnotationPaused, func(t *testing.T, value string) { assert.Equal(t, "true", value) }},
		{"resume", trancheapi.AnnotationPaused, nil},
	} {
		t.Run(tc.action, func(t *testing.T) {
			for _, before := range []*trancheapi.Rollout{
				rollout(trancheapi.PhaseWaitingApproval),
				rollout(trancheapi.PhaseWaitingApproval, func(ro *trancheapi.Rollout) {
					ro.Annotations = map[string]string{"team": "shop", trancheapi.AnnotationPaused: "true"}
				}),
			} {
				live := object(t, before)
				after, err := RunAction(tc.action, object(t, before))
				require.NoError(t, err)
				value, found, _ := unstructured.NestedString(after, "metadata", "annotations", tc.annotation)
				if tc.check == nil {
					assert.False(t, found, "%s is still there", tc.annotation)
				} else {
					require.True(t, found, "%s is not set", tc.annotation)
					tc.check(t, value)
				}
				// Nothing else changed.
				unstructured.RemoveNestedField(after, "metadata", "annotations", tc.annotation)
				unstructured.RemoveNestedField(live, "metadata", "annotations", tc.annotation)
				for _, obj := range []map[string]any{after, live} {
					if a, _, _ := unstructured.NestedMap(obj, "metadata", "annotations"); len(a) == 0 {
						unstructured.RemoveNestedField(obj, "metadata", "annotations")
					}
				}
				assert.True(t, equality.Semantic.DeepEqual(live, after), "the action changed more than %s:\nbefore %v\nafter  %v", tc.annotation, live, after)
			}
		})
	}
}
