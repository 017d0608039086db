package controllers

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// servedTraffic plays the data plane's request counters: every 100 ms, 100 requests split by the
// weights the routing object says, counted as every mesh's proxies count them (for the
// providers' built-in queries); the canary's fail 30% of the time when it runs the bad image.
type servedTraffic struct {
	firstBad atomic.Int64 // unix nanoseconds of the first failed canary request
	// compare, for Rollouts judged by Compare: both versions serve, the primary with 5%
	// errors, the canary as many (twice as many with twiceImage), drawn from a seeded source.
	compare *rand.Rand
}

// twiceImage is a canary image with twice the primary's error rate.
const twiceImage = "podinfo:6.1.0-twice"

// serveBoth counts a tick of 200 requests split by weight, for the Compare judge.
func (tr *servedTraffic) serveBoth(exporter *harness.Exporter, ns, target, image string, weight int32) {
	canary := int(200 * weight / 100)
	errorRate := 0.05
	if image == twiceImage {
		errorRate = 0.10
	}
	for _, side := range []struct {
		service string
		n       int
		rate    float64
	}{{target + "-canary", canary, errorRate}, {target + "-primary", 200 - canary, 0.05}} {
		failed := 0
		for range side.n {
			if tr.compare.Float64() < side.rate {
				failed++
			}
		}
		exporter.Serve(ns, side.service, side.n-failed, 200, 20*time.Millisecond)
		exporter.Serve(ns, side.service, failed, 500, 20*time.Millisecond)
	}
}

func (tr *servedTraffic) run(ctx context.Context, exporter *harness.Exporter, ns, route string, targetRef trancheapi.TargetRef) {
	target := targetRef.Name
	image := func() (string, bool) {
		obj := newWorkload(targetRef.Kind)
		if err := cp.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: target}, obj); err != nil {
			return "", false
		}
		return podTemplate(obj).Spec.Containers[0].Image, true
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		weight, ok := harness.RoutedCanaryWeight(ctx, cp.Client, ns, route)
		canary, read := image()
		if tr.compare != nil && ok && read {
			tr.serveBoth(exporter, ns, target, canary, weight)
			continue
		}
		if !ok || weight == 0 || !read {
			continue
		}
		n, failed := int(weight), 0
		if canary == badImage {
			failed = max(n*3/10, 1)
			tr.firstBad.CompareAndSwap(0, time.Now().UnixNano())
		}
		exporter.ServeCanary(ns, target, n-failed, 200, 20*time.Millisecond)
		exporter.ServeCanary(ns, target, failed, 500, 20*time.Millisecond)
	}
}
