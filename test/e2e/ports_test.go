//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// A workload that serves HTTP and a protocol of bare TCP on two ports of its Services (a
// broker's admin API beside its wire protocol) moves as one through Traefik: an HTTPRoute and
// a TCPRoute split by the same weight, and at 5%, 50% and 100% what each port's clients get
// from the new version is within 3 points of the weight.
func TestAnHTTPPortAndATCPPortMoveTogether(t *testing.T) {
	const app, host, tcpPort = "broker", "broker.e2e.test", 9000
	ro := stack.CanaryRollout(namespace, app, host, 8*time.Second, 3*time.Second)
	ro.Spec.Service.Ports = []trancheapi.ServicePort{{Name: "pipe", Port: tcpPort, Protocol: trancheapi.ProtocolTCP}}
	flags := []string{fmt.Sprintf("--tcp-port=%d", tcpPort)}
	load := deployApp(t, ro, stack.App(namespace, app, "v1", flags...), host)
	require.NoError(t, stack.WaitTCPServed(t.Context(), s.Traefik.TCPAddress(), 30*time.Second), "Traefik serves the TCPRoute")
	connections := stack.StartTCPLoad(t.Context(), s.Traefik.TCPAddress(), requestsPerSecond)

	rec := &stack.Recorder{Load: load, SecondLoad: connections, MetricsURL: s.Traefik.MetricsURL()}
	samples, ended := recordRelease(t, app, rec, func(ctx context.Context) error {
		return stack.Release(ctx, s.ControlPlane.Client, namespace, app, "v2", flags...)
	})
	require.Equal(t, trancheapi.PhaseSucceeded, ended.Status.Phase, ended.Status.Message)

	windows := settledWindows(samples)
	measured := map[string]map[int32]float64{"http": {}, "tcp": {}}
	for _, weight := range []int32{5, 50, 100} {
		w, ok := windows[weight]
		if !assert.True(t, ok, "no steady stretch at %d%%", weight) {
			continue
		}
		measured["http"][weight], measured["tcp"][weight] = shareOf(w.Clients, "v2"), shareOf(w.SecondClients, "v2")
		assert.InDelta(t, float64(weight), measured["http"][weight], 3, "the HTTP port's clients at %d%%: %+v", weight, w.Clients)
		assert.InDelta(t, float64(weight), measured["tcp"][weight], 3, "the TCP port's clients at %d%%: %+v", weight, w.SecondClients)
	}
	t.Logf("measured canary share by port and weight: %v", measured)
	whole := stack.Between(samples[0], samples[len(samples)-1])
	assert.Zero(t, whole.Clients.Failed, "HTTP requests failed:\n%s", stack.FailuresDuring(load, samples))
	assert.Zero(t, whole.SecondClients.Failed, "TCP connections failed:\n%s", stack.FailuresDuring(connections, samples))
	assert.Positive(t, whole.SecondClients.ByVersion["v1"], "the primary took connections while the canary ran")
	after := stack.Between(samples[len(samples)-5], samples[len(samples)-1]).SecondClients
	assert.Equal(t, map[string]int{"v2": after.Sent}, after.ByVersion, "after promotion, v2 takes every connection")
}

// shareOf is the percent of the answers that came from version, or -1 without any.
func shareOf(c stack.LoadCounts, version string) float64 {
	var answered int
	for _, n := range c.ByVersion {
		answered += n
	}
	if answered == 0 {
		return -1
	}
	return 100 * float64(c.ByVersion[version]) / float64(answered)
}
