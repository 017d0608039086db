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
		{rollout(trancheapi.PhaseInitialized), []string{"undo", "pause"}},
		{rollout(trancheapi.PhaseProgressing), []string{"promote-full", "abort", "pause"}},
		{rollout(trancheapi.PhaseWaitingApproval), []string{"promote", "promote-full", "abort", "pause"}},
		{rollout(trancheapi.PhasePaused, annotated(trancheapi.AnnotationPaused, "true")), []string{"promote-full", "abort", "resume"}},
		{rollout(trancheapi.PhaseSucceeded, annotated(trancheapi.AnnotationPaused, "false")), []string{"undo", "pause", "resume"}},
		{rollout(trancheapi.PhasePromoting), []string{"abort", "pause"}},
		{rollout(trancheapi.PhaseFailed), []string{"retry", "undo", "pause"}},
		{rollout(trancheapi.PhaseAborted), []string{"retry", "undo", "pause"}},
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
			seconds, n := parseToken(t, prefix, value)
			assert.InDelta(t, time.Now().Unix(), seconds, 5, "the token names the time of the press")
			assert.Equal(t, int64(1), n, "the first press of its second")
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
		{"undo", trancheapi.AnnotationUndo, isToken("")},
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

// parseToken splits a token an action wrote, prefix + "argocd-<second>-<n>", into the second
// and n, failing the test when it has another shape.
func parseToken(t *testing.T, prefix, token string) (seconds, n int64) {
	t.Helper()
	rest, ok := strings.CutPrefix(token, prefix+"argocd-")
	require.True(t, ok, "token %q", token)
	second, count, ok := strings.Cut(rest, "-")
	require.True(t, ok, "token %q", token)
	seconds, err := strconv.ParseInt(second, 10, 64)
	require.NoError(t, err, "token %q", token)
	n, err = strconv.ParseInt(count, 10, 64)
	require.NoError(t, err, "token %q", token)
	return seconds, n
}

// press runs an action on the live object at the clock's time and returns the object as Argo
// CD leaves it, and the value the action wrote to annotation.
func press(t *testing.T, action, annotation string, live map[string]any, at time.Time) (map[string]any, string) {
	t.Helper()
	after, err := runActionAt(action, live, func() time.Time { return at })
	require.NoError(t, err)
	value, found, err := unstructured.NestedString(after, "metadata", "annotations", annotation)
	require.NoError(t, err)
	require.True(t, found, "%s wrote no %s", action, annotation)
	return after, value
}

// TestPressesInOneSecondEachCount: the controller acts on a token once, so presses within one
// second (os.time's unit) must each write a token never written before, or all but the first
// would be lost. Twelve presses go past the count's first two digits.
func TestPressesInOneSecondEachCount(t *testing.T) {
	second := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ action, annotation, prefix string }{
		{"promote", trancheapi.AnnotationPromote, ""},
		{"promote-full", trancheapi.AnnotationPromote, trancheapi.PromoteFullPrefix},
		{"abort", trancheapi.AnnotationAbort, ""},
		{"retry", trancheapi.AnnotationRetry, ""},
		{"undo", trancheapi.AnnotationUndo, ""},
	} {
		t.Run(tc.action, func(t *testing.T) {
			live := object(t, rollout(trancheapi.PhaseWaitingApproval))
			seen := map[string]bool{}
			for i := range 12 {
				var token string
				// Each press lands somewhere in the same second.
				live, token = press(t, tc.action, tc.annotation, live, second.Add(time.Duration(i)*50*time.Millisecond))
				require.False(t, seen[token], "press %d wrote %q again", i+1, token)
				seen[token] = true
				seconds, n := parseToken(t, tc.prefix, token)
				assert.Equal(t, second.Unix(), seconds)
				assert.Equal(t, int64(i+1), n, "the count of presses in the second")
			}

			// The next second starts its count again, with a token of its own.
			_, token := press(t, tc.action, tc.annotation, live, second.Add(time.Second))
			assert.False(t, seen[token], "%q was written before", token)
			seconds, n := parseToken(t, tc.prefix, token)
			assert.Equal(t, second.Unix()+1, seconds)
			assert.Equal(t, int64(1), n)
		})
	}
}

// TestPromoteAndPromoteFullCountTogether: both write the promote annotation, so presses of
// the one and the other in one second count on from each other, never repeating a token
// written two presses before.
func TestPromoteAndPromoteFullCountTogether(t *testing.T) {
	second := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	live := object(t, rollout(trancheapi.PhaseWaitingApproval))
	var tokens []string
	for _, action := range []string{"promote-full", "promote", "promote-full", "promote"} {
		var token string
		live, token = press(t, action, trancheapi.AnnotationPromote, live, second)
		tokens = append(tokens, token)
	}
	assert.Equal(t, []string{"full:argocd-1795521600-1", "argocd-1795521600-2", "full:argocd-1795521600-3", "argocd-1795521600-4"}, tokens)
}

// TestAPressAfterAHandWrittenTokenCounts: a token someone wrote by hand, or kubectl's, is
// followed by the press's own.
func TestAPressAfterAHandWrittenTokenCounts(t *testing.T) {
	second := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, previous := range []string{"approved-by-alice", "argocd-1795521600-x", "argocd-1795521600", "1n2k3m4p5q6r7"} {
		live := object(t, rollout(trancheapi.PhaseWaitingApproval, annotated(trancheapi.AnnotationPromote, previous)))
		_, token := press(t, "promote", trancheapi.AnnotationPromote, live, second)
		assert.Equal(t, "argocd-1795521600-1", token, "after %q", previous)
	}
}

// TestScriptsRunInArgoCDsSandbox: the scripts are judged in a state as bare as Argo CD's: no
// global os, no string library, and of os only time and date through require.
func TestScriptsRunInArgoCDsSandbox(t *testing.T) {
	out, err := run(`local os = require("os")
return {
  globalOs = _G.os == nil,
  stringLib = string == nil,
  execute = os.execute == nil and os.exit == nil and os.remove == nil and os.getenv == nil,
  clock = os.time() > 0 and os.date("!%Y") ~= "",
}`, map[string]any{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"globalOs": true, "stringLib": true, "execute": true, "clock": true}, out)
}
