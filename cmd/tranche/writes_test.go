package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// Every status write of the manager commits a decision: none is empty, none only records the
// generation Tranche's own scale gave the target, and a rolled-back Rollout that waits for its
// next release writes nothing however often it is looked at. No write is refused because the
// cache had not seen an earlier one. The API server's audit log holds each status write's body.
func TestEveryStatusWriteCommitsADecision(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	var verdict atomic.Int32 // what the analysis webhook answers
	verdict.Store(http.StatusOK)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(verdict.Load()))
	}))
	t.Cleanup(hook.Close)
	startManager(t, "--leader-elect=false", "--namespaces="+ns)

	require.NoError(t, cp.Client.Create(ctx, harness.Deployment(ns, "podinfo", "podinfo:6.0.0")))
	ro := blueGreen(ns, 2*time.Second)
	ro.Spec.ScaleDownDelay = &metav1.Duration{Duration: time.Second}
	ro.Spec.Analysis = &trancheapi.Analysis{
		Interval: &metav1.Duration{Duration: time.Second},
		Webhooks: []trancheapi.Webhook{{Name: "check", Type: trancheapi.WebhookRollout, URL: hook.URL}},
	}
	require.NoError(t, cp.Client.Create(ctx, ro))
	waitForReady(t, ro, metav1.ConditionTrue)

	release := func(image string, ends trancheapi.Phase) {
		t.Helper()
		require.NoError(t, harness.SetImage(ctx, cp.Client, ns, "podinfo", image))
		require.Eventually(t, func() bool {
			got, target := &trancheapi.Rollout{}, &appsv1.Deployment{}
			return cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), got) == nil && got.Status.Phase == ends &&
				got.Status.CanaryRevision != "" &&
				cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo"}, target) == nil &&
				ptr.Deref(target.Spec.Replicas, 1) == 0
		}, time.Minute, 50*time.Millisecond, "the release of %s did not end %s with the canary scaled down", image, ends)
	}
	release("podinfo:6.1.0", trancheapi.PhaseSucceeded)
	verdict.Store(http.StatusInternalServerError)
	release("podinfo:6.2.0", trancheapi.PhaseFailed)

	// Rolled back and idle: looked at again and again (an annotation of the Rollout's, of
	// the primary's, as a person or a tool would add), it has nothing to write.
	settled := time.Now()
	for i := range 5 {
		touch(t, ro, strconv.Itoa(i))
		touch(t, harness.Deployment(ns, "podinfo-primary", ""), strconv.Itoa(i))
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)

	events, err := cp.Audit("tranche/")
	require.NoError(t, err)
	writes := map[string]int{}
	for _, e := range events {
		if e.ObjectRef.Namespace != ns || !e.Writes() {
			continue
		}
		kind := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			kind += "/" + e.ObjectRef.Subresource
		}
		writes[kind]++
		assert.Less(t, e.ResponseStatus.Code, 400, "a write was refused: %s", e)
		if kind != "rollouts/status" {
			continue
		}
		assert.True(t, e.StageTimestamp.Before(settled), "a rolled-back Rollout wrote its status at %s, %s after it settled: %s",
			e.StageTimestamp.Format(time.StampMilli), e.StageTimestamp.Sub(settled), e.RequestObject)
		var patch struct{ Status map[string]json.RawMessage }
		require.NoError(t, json.Unmarshal(e.RequestObject, &patch), "%s", e.RequestObject)
		assert.NotEmpty(t, patch.Status, "a status write with nothing in it: %s", e.RequestObject)
		if target, ok := patch.Status["target"]; ok && len(patch.Status) == 1 {
			assert.NotRegexp(t, `^\{"generation":[0-9]+\}$`, string(target), "a status write that only records the target's generation")
		}
	}
	kinds := make([]string, 0, len(writes))
	for kind, n := range writes {
		kinds = append(kinds, kind+"="+strconv.Itoa(n))
	}
	sort.Strings(kinds)
	t.Logf("the manager's writes for a Rollout's start, a good and a bad release: %s", strings.Join(kinds, " "))
	assert.Positive(t, writes["rollouts/status"], "the audit log holds the manager's status writes")
}

// touch sets an annotation of no meaning to Tranche on obj, read again from the API server.
func touch(t *testing.T, obj client.Object, value string) {
	t.Helper()
	fresh := obj.DeepCopyObject().(client.Object)
	require.NoError(t, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), fresh))
	before := fresh.DeepCopyObject().(client.Object)
	annotations := fresh.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["example.com/touched"] = value
	fresh.SetAnnotations(annotations)
	require.NoError(t, cp.Client.Patch(context.Background(), fresh, client.MergeFrom(before)))
}
