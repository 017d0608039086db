package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &cp, harness.Options{})) }

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	require.NoError(t, err)
	assert.True(t, o.leaderElect, "leader election is on by default")
	assert.Equal(t, "http://prometheus.monitoring:9090", o.prometheusAddress)
	assert.True(t, o.selector.Empty())

	assert.Nil(t, o.defaultNotification)

	o, err = parseFlags([]string{"--namespaces=shop, ops,", "--selector=shard=a", "--log-level=debug", "--default-notification-provider=ops/slack"})
	require.NoError(t, err)
	assert.Equal(t, []string{"shop", "ops"}, o.namespaces)
	assert.Equal(t, "shard=a", o.selector.String())
	assert.Equal(t, &types.NamespacedName{Namespace: "ops", Name: "slack"}, o.defaultNotification)

	t.Setenv("TRANCHE_DEFAULT_NOTIFICATION_PROVIDER", "tranche-system/teams")
	o, err = parseFlags(nil)
	require.NoError(t, err)
	assert.Equal(t, &types.NamespacedName{Namespace: "tranche-system", Name: "teams"}, o.defaultNotification)

	for _, bad := range []struct{ flag, want string }{
		{"--prometheus-address=prometheus:9090", "--prometheus-address"},
		{"--selector=a=(", "--selector"},
		{"--log-level=loud", "--log-level"},
		{"--log-level=panic", "--log-level"},
		{"--default-notification-provider=slack", "namespace/name"},
		{"--default-notification-provider=a/b/c", "namespace/name"},
	} {
		_, err := parseFlags([]string{bad.flag})
		if assert.Error(t, err, bad.flag) {
			assert.Contains(t, err.Error(), bad.want)
		}
	}
}

// TestManager runs the built binary against a real API server, as it runs in a cluster.
func TestManager(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	binary := filepath.Join(dir, "tranche")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", binary, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the manager: %s", out)
	kubeconfig, err := cp.Kubeconfig(dir)
	require.NoError(t, err)

	ns := cp.Namespace(t)
	probes, metrics := freeAddress(t), freeAddress(t)
	var logs strings.Builder
	manager := exec.Command(binary,
		"--leader-elect=true", "--leader-election-namespace="+ns,
		"--health-probe-bind-address="+probes, "--metrics-bind-address="+metrics,
		"--namespaces="+ns)
	manager.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	manager.Stdout, manager.Stderr = &logs, &logs
	require.NoError(t, manager.Start())
	exited := make(chan error, 1)
	go func() { exited <- manager.Wait() }()
	t.Cleanup(func() {
		_ = manager.Process.Kill()
		if t.Failed() {
			t.Logf("manager logs:\n%s", logs.String())
		}
	})

	require.Eventually(t, func() bool { return httpStatus("http://"+probes+"/readyz") == http.StatusOK },
		30*time.Second, 100*time.Millisecond, "the manager never became ready")
	assert.Equal(t, http.StatusOK, httpStatus("http://"+probes+"/healthz"))

	ro := &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider:  trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}},
		},
	}
	require.NoError(t, cp.Client.Create(ctx, ro))
	ready := waitForReady(t, ro, metav1.ConditionFalse)
	assert.Equal(t, trancheapi.ReasonTargetNotFound, ready.Reason)
	assert.Equal(t, `Deployment "podinfo" not found in namespace "`+ns+`": create it, or fix spec.targetRef.name`, ready.Message)

	kubeletCtx, stopKubelet := context.WithCancel(ctx)
	defer stopKubelet()
	go (&harness.Kubelet{Client: cp.Client, Namespace: ns}).Run(kubeletCtx)
	require.NoError(t, cp.Client.Create(ctx, harness.Deployment(ns, "podinfo", "podinfo:6.0.0")))
	ready = waitForReady(t, ro, metav1.ConditionTrue)
	assert.Equal(t, string(trancheapi.PhaseInitialized), ready.Reason, ready.Message)

	body := httpBody(t, "http://"+metrics+"/metrics")
	assert.Contains(t, body, `controller_runtime_reconcile_total{controller="rollout"`)
	assert.Contains(t, body, `leader_election_master_status{name="tranche.dev"} 1`)

	require.NoError(t, manager.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "the manager must exit 0 on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not exit within 30s of SIGTERM")
	}
}

func waitForReady(t *testing.T, ro *trancheapi.Rollout, status metav1.ConditionStatus) metav1.Condition {
	t.Helper()
	var ready metav1.Condition
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := &trancheapi.Rollout{}
		require.NoError(c, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(ro), got))
		cond := apimeta.FindStatusCondition(got.Status.Conditions, trancheapi.ConditionReady)
		require.NotNil(c, cond)
		require.Equal(c, status, cond.Status)
		ready = *cond
	}, 30*time.Second, 100*time.Millisecond)
	return ready
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func httpStatus(url string) int {
	resp, err := http.Get(url) //nolint:noctx // a probe in a test
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a probe in a test
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, fmt.Sprintf("GET %s: %s", url, data))
	return string(data)
}
