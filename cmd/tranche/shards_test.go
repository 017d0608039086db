package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// Two shards of one namespace, each a manager binary with its own selector: each elects its
// leader on a Lease of its own, so both work at once, and the API server's audit log shows
// that each wrote only to its own Rollouts and their objects.
func TestShardsWorkAtOnceAndEachOnItsOwn(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	shards := []string{"a", "b"}
	for _, shard := range shards {
		startManager(t, "--leader-elect=true", "--leader-election-namespace="+ns, "--namespaces="+ns,
			"--shard-selector=shard="+shard, "--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=500ms")
	}
	rollouts := map[string]*trancheapi.Rollout{}
	for _, shard := range shards {
		app := "app-" + shard
		require.NoError(t, cp.Client.Create(ctx, harness.Deployment(ns, app, "podinfo:6.0.0")))
		ro := blueGreen(ns, 3*time.Second)
		ro.Name, ro.Spec.TargetRef.Name, ro.Labels = app, app, map[string]string{"shard": shard}
		require.NoError(t, cp.Client.Create(ctx, ro))
		rollouts[shard] = ro
	}
	for _, ro := range rollouts {
		waitForReady(t, ro, metav1.ConditionTrue)
	}
	for _, ro := range rollouts {
		require.NoError(t, harness.SetImage(ctx, cp.Client, ns, ro.Spec.TargetRef.Name, "podinfo:6.1.0"))
	}
	records := map[string]trancheapi.RolloutRecord{}
	for shard, ro := range rollouts {
		require.Eventually(t, func() bool {
			got := &trancheapi.Rollout{}
			if cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), got) != nil || got.Status.Phase != trancheapi.PhaseSucceeded || len(got.Status.History) == 0 {
				return false
			}
			records[shard] = got.Status.History[0]
			return true
		}, time.Minute, 100*time.Millisecond, "shard %s's rollout never succeeded", shard)
	}
	a, b := records["a"], records["b"]
	assert.True(t, a.StartedAt.Before(b.EndedAt) && b.StartedAt.Before(a.EndedAt),
		"the shards' rollouts ran at the same time: a %s to %s, b %s to %s", a.StartedAt, a.EndedAt, b.StartedAt, b.EndedAt)

	for _, shard := range shards {
		lease := shardLease(labels.SelectorFromSet(labels.Set{"shard": shard}))
		events, err := cp.Audit("(lease " + lease + ")")
		require.NoError(t, err)
		own, other := "app-"+shard, "app-"+map[string]string{"a": "b", "b": "a"}[shard]
		wrote := 0
		for _, e := range events {
			// The leader election writes its Lease, and events about it.
			if !e.Writes() || e.ObjectRef.Namespace != ns || e.ObjectRef.Resource == "leases" || strings.HasPrefix(e.ObjectRef.Name, lease) {
				continue
			}
			wrote++
			assert.False(t, strings.HasPrefix(e.ObjectRef.Name, other), "shard %s wrote to the other shard's objects: %s", shard, e)
			if e.ObjectRef.Name != "" {
				assert.True(t, strings.HasPrefix(e.ObjectRef.Name, own), "shard %s wrote to an object not of its Rollout: %s", shard, e)
			}
		}
		assert.Positive(t, wrote, "the audit log holds shard %s's writes", shard)
		t.Logf("shard %s (lease %s): %d writes, all to %s's objects", shard, lease, wrote, own)
	}
}
