package harness_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/test/harness"
)

// buildDemoApp builds the demo app the processes run (it needs only the standard library).
func buildDemoApp(t *testing.T) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "demoapp")
	out, err := exec.Command("go", "build", "-o", binary, "../apps/demoapp").CombinedOutput()
	require.NoError(t, err, "building the demo app: %s", out)
	return binary
}

// The demo app runs as the pods say, reached through the Service once Kubernetes lists them
// ready; a new template's pods answer with the new version as the real rolling update
// replaces the old ones.
func TestPodAppsFollowThePodsOfARollingUpdate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := cp.Namespace(t)
	c := cp.Client
	d := deployment(ns, "shop", 2, "")
	d.Spec.Template.Spec.Containers[0].Args = []string{"--latency=1ms"}
	require.NoError(t, c.Create(ctx, d))
	require.NoError(t, c.Create(ctx, selectingService(ns, "shop", "127.0.0.10", 80, 9898)))
	apps := &harness.PodApps{Client: c, Namespace: ns, Binary: buildDemoApp(t), LogDir: t.TempDir()}
	appsDone := make(chan struct{})
	go func() { apps.Run(ctx); close(appsDone) }()
	defer func() { cancel(); <-appsDone }()
	go (&harness.ServiceProxy{Client: c, Namespace: ns}).Run(ctx)

	versions := func(want string) func() (bool, string) {
		return func() (bool, string) {
			got := map[string]int{}
			for range 10 {
				v, err := ask("http://127.0.0.10:80/")
				if err != nil {
					v = err.Error()
				}
				got[v]++
			}
			return got[want] == 10, fmt.Sprint(got)
		}
	}
	eventually(t, 30*time.Second, "v1 answers through the Service", versions("v1"))

	// Each pod has its own process, at the twin of its IP.
	var pods corev1.PodList
	require.NoError(t, c.List(ctx, &pods, client.InNamespace(ns)))
	for i := range pods.Items {
		addr, ok := apps.Address(&pods.Items[i])
		require.True(t, ok)
		host, _, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		assert.True(t, net.ParseIP(host).IsLoopback(), addr)
	}

	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(d), d))
	d.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	require.NoError(t, c.Update(ctx, d))
	eventually(t, 30*time.Second, "v2 answers once the rolling update is done", versions("v2"))
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(d), d))
	assert.Equal(t, int32(2), d.Status.UpdatedReplicas)
}
