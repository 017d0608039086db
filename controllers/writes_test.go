package controllers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestAWorkloadReadBeforeOurOwnWriteIsBehind(t *testing.T) {
	shop := types.NamespacedName{Namespace: "shop", Name: "podinfo"}
	other := types.NamespacedName{Namespace: "shop", Name: "cart"}
	at := func(uid types.UID, generation int64) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{UID: uid, Generation: generation}}
	}
	var w writtenGenerations
	assert.False(t, w.behind(shop, at("a", 1)), "nothing written: nothing to be behind")
	w.record(shop, at("a", 3))
	assert.True(t, w.behind(shop, at("a", 2)), "the cache has not seen the write")
	assert.False(t, w.behind(shop, at("a", 3)), "it has")
	assert.False(t, w.behind(shop, at("a", 4)), "and a later change")
	assert.False(t, w.behind(shop, at("b", 1)), "a workload made again is another")
	assert.False(t, w.behind(other, at("a", 2)), "another Rollout's writes are its own")
	w.forget(shop)
	assert.False(t, w.behind(shop, at("a", 2)), "a deleted Rollout's writes are forgotten")
}
