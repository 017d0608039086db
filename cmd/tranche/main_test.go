package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) {
	// The audit log tells what each manager read and wrote (shards, isolation), and what its
	// status writes carried.
	os.Exit(harness.Main(m, &cp, harness.Options{Workloads: &harness.WorkloadOptions{}, Audit: true,
		AuditPolicy: harness.AuditBodies(trancheapi.GroupVersion.Group, "rollouts/status")}))
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	require.NoError(t, err)
	assert.True(t, o.leaderElect, "leader election is on by default")
	assert.Equal(t, "http://prometheus.monitoring:9090", o.prometheusAddress)
	assert.True(t, o.selector.Empty())
	assert.Equal(t, "tranche.dev", o.leaderElectionID, "one Lease for all Rollouts")
	assert.Equal(t, controllers.Isolation{}, o.isolation, "no isolation unless asked")

	assert.Nil(t, o.defaultNotification)
	assert.True(t, o.copySecrets, "the primary gets copies of the target's Secrets unless told")

	o, err = parseFlags([]string{"--namespaces=shop, ops,", "--selector=shard=a", "--log-level=debug", "--default-notification-provider=ops/slack"})
	require.NoError(t, err)
	assert.Equal(t, []string{"shop", "ops"}, o.namespaces)
	assert.Equal(t, "shard=a", o.selector.String())
	assert.Equal(t, &types.NamespacedName{Namespace: "ops", Name: "slack"}, o.defaultNotification)

	o, err = parseFlags([]string{"--shard-selector=tranche.dev/shard in (a,b)", "--leader-elect-lease-duration=4s",
		"--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms", "--kube-api-qps=200", "--kube-api-burst=400"})
	require.NoError(t, err)
	assert.Equal(t, float32(200), o.qps)
	assert.Equal(t, 400, o.burst)
	assert.Equal(t, "tranche.dev/shard in (a,b)", o.selector.String())
	assert.Regexp(t, `^tranche\.dev-shard-[0-9a-f]{8}$`, o.leaderElectionID, "a Lease of the shard's own")
	same, err := parseFlags([]string{"--shard-selector=tranche.dev/shard in (b, a)"})
	require.NoError(t, err)
	assert.Equal(t, o.leaderElectionID, same.leaderElectionID, "the same selector written otherwise names the same Lease")
	other, err := parseFlags([]string{"--shard-selector=tranche.dev/shard=c"})
	require.NoError(t, err)
	assert.NotEqual(t, o.leaderElectionID, other.leaderElectionID)

	assert.Equal(t, []time.Duration{4 * time.Second, 3 * time.Second, 500 * time.Millisecond}, []time.Duration{o.leaseDuration, o.renewDeadline, o.retryPeriod})

	o, err = parseFlags([]string{"--copy-secrets=false"})
	require.NoError(t, err)
	assert.False(t, o.copySecrets)
	assert.False(t, o.namespaced, "cluster-scoped requests are made unless told")
	o, err = parseFlags([]string{"--namespaced", "--namespaces=shop"})
	require.NoError(t, err)
	assert.True(t, o.namespaced)

	o, err = parseFlags([]string{"--namespaces=shop", "--no-cross-namespace-refs", "--allowed-webhook-hosts=hooks.slack.com, *.example.com", "--leader-election-id=ours"})
	require.NoError(t, err)
	assert.Equal(t, controllers.Isolation{NoCrossNamespaceRefs: true, Namespaces: []string{"shop"}, AllowedHosts: []string{"hooks.slack.com", "*.example.com"}}, o.isolation)
	assert.Equal(t, "ours", o.leaderElectionID)

	assert.Zero(t, o.memoryLimit, "no memory limit unless told")
	o, err = parseFlags([]string{"--memory-limit=512Mi"})
	require.NoError(t, err)
	assert.Equal(t, int64(512<<20), o.memoryLimit)

	t.Setenv("TRANCHE_DEFAULT_NOTIFICATION_PROVIDER", "tranche-system/teams")
	t.Setenv("TRANCHE_MEMORY_LIMIT", "536870912") // as the downward API gives it: bytes
	o, err = parseFlags(nil)
	require.NoError(t, err)
	assert.Equal(t, &types.NamespacedName{Namespace: "tranche-system", Name: "teams"}, o.defaultNotification)
	assert.Equal(t, int64(512<<20), o.memoryLimit)

	for _, bad := range []struct{ flag, want string }{
		{"--prometheus-address=prometheus:9090", "--prometheus-address"},
		{"--selector=a=(", "--shard-selector"},
		{"--shard-selector=a=(", "--shard-selector"},
		{"--leader-elect-renew-deadline=20s", "--leader-elect-renew-deadline"},
		{"--leader-elect-retry-period=0s", "--leader-elect-retry-period"},
		{"--kube-api-qps=0", "--kube-api-qps"},
		{"--log-level=loud", "--log-level"},
		{"--log-level=panic", "--log-level"},
		{"--namespaced", "--namespaced needs --namespaces"},
		{"--default-notification-provider=slack", "namespace/name"},
		{"--default-notification-provider=a/b/c", "namespace/name"},
		{"--allowed-webhook-hosts=https://hooks.slack.com", "is not a host"},
		{"--allowed-webhook-hosts=a.*.com", "is not a host"},
		{"--memory-limit=lots", "--memory-limit"},
		{"--memory-limit=-1Gi", "--memory-limit"},
	} {
		_, err := parseFlags([]string{bad.flag})
		if assert.Error(t, err, bad.flag) {
			assert.Contains(t, err.Error(), bad.want)
		}
	}
}

func TestHeapLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		container  int64
		gomemlimit string
		want       int64
	}{
		{"no limit known: the runtime's own", 0, "", 0},
		{"a limit: nine tenths of it for the heap", 512 << 20, "", 483183819},
		{"GOMEMLIMIT set: it wins", 512 << 20, "400MiB", 0},
	} {
		assert.Equal(t, tc.want, heapLimit(tc.container, tc.gomemlimit), tc.name)
	}
}

// built is the manager binary, built once for the package's tests.
var built struct {
	once   sync.Once
	binary string
	err    error
}

func buildManager(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "tranche-manager-")
		if err != nil {
			built.err = err
			return
		}
		built.binary = filepath.Join(dir, "tranche")
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", built.binary, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("building the manager: %w: %s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.binary
}

// managerProcess is the manager binary running against the package's API server.
type managerProcess struct {
	cmd             *exec.Cmd
	probes, metrics string
	exited          chan error
	logs            *harness.Output
}

// startManager runs the manager with its probe and metrics addresses and args; it is killed
// when the test ends, and its logs are shown when the test failed.
func startManager(t *testing.T, args ...string) *managerProcess {
	t.Helper()
	return startManagerBinary(t, buildManager(t), args...)
}

// startManagerBinary is startManager with a manager binary of the test's own.
func startManagerBinary(t *testing.T, binary string, args ...string) *managerProcess {
	t.Helper()
	kubeconfig, err := cp.Kubeconfig(t.TempDir())
	require.NoError(t, err)
	m := &managerProcess{probes: freeAddress(t), metrics: freeAddress(t), exited: make(chan error, 1), logs: &harness.Output{}}
	m.cmd = exec.Command(binary, append([]string{"--health-probe-bind-address=" + m.probes, "--metrics-bind-address=" + m.metrics}, args...)...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	require.NoError(t, m.cmd.Start())
	go func() { m.exited <- m.cmd.Wait() }()
	t.Cleanup(func() {
		_ = m.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("manager %d logs:\n%s", m.cmd.Process.Pid, m.logs.String())
		}
	})
	return m
}

// leads reports whether the manager holds the leader election's lease.
func (m *managerProcess) leads() bool {
	resp, err := http.Get("http://" + m.metrics + "/metrics") //nolint:noctx // a probe in a test
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(data), `leader_election_master_status{name="tranche.dev"} 1`)
}

// TestManager runs the built binary against a real API server, as it runs in a cluster.
func TestManager(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	m := startManager(t, "--leader-elect=true", "--leader-election-namespace="+ns, "--namespaces="+ns)
	probes, metrics, manager, exited := m.probes, m.metrics, m.cmd, m.exited

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
	assert.Equal(t, `Deployment "podinfo" not found in namespace "`+ns+`": create it, or fix spec.targetRef`, ready.Message)

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
	addr, err := harness.FreeAddress()
	require.NoError(t, err)
	return addr
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

// Two managers elect a leader; the leader is killed mid-rollout; the other takes the lease
// within one lease duration (plus a retry) and finishes the rollout as the first would have.
func TestLeaderFailover(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	const lease, retry = 3 * time.Second, 500 * time.Millisecond
	args := []string{"--leader-elect=true", "--leader-election-namespace=" + ns, "--namespaces=" + ns,
		"--leader-elect-lease-duration=" + lease.String(), "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=" + retry.String()}
	managers := []*managerProcess{startManager(t, args...), startManager(t, args...)}

	require.NoError(t, cp.Client.Create(ctx, harness.Deployment(ns, "podinfo", "podinfo:6.0.0")))
	ro := blueGreen(ns, 4*time.Second)
	require.NoError(t, cp.Client.Create(ctx, ro))
	waitForReady(t, ro, metav1.ConditionTrue)

	var leader, follower *managerProcess
	require.Eventually(t, func() bool {
		for i, m := range managers {
			if m.leads() {
				leader, follower = m, managers[1-i]
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "no manager leads")
	assert.False(t, follower.leads(), "both managers lead")

	require.NoError(t, harness.SetImage(ctx, cp.Client, ns, "podinfo", "podinfo:6.1.0"))
	require.Eventually(t, func() bool {
		got := &trancheapi.Rollout{}
		return cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), got) == nil &&
			got.Status.Phase == trancheapi.PhaseProgressing && got.Status.StepStartedAt != nil
	}, 30*time.Second, 50*time.Millisecond, "the rollout never started")

	require.NoError(t, leader.cmd.Process.Kill()) // as a node failure would: no lease release
	killed := time.Now()
	require.Eventually(t, follower.leads, 2*lease, 50*time.Millisecond, "the follower never took over")
	took := time.Since(killed)
	t.Logf("the follower led %s after the leader was killed (lease %s, retry %s)", took.Round(10*time.Millisecond), lease, retry)
	assert.Less(t, took, lease+2*retry+time.Second, "took longer than a lease duration and a retry")

	require.Eventually(t, func() bool {
		got := &trancheapi.Rollout{}
		return cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), got) == nil && got.Status.Phase == trancheapi.PhaseSucceeded
	}, time.Minute, 100*time.Millisecond, "the rollout did not finish after the failover")
	primary := &appsv1.Deployment{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo-primary"}, primary))
	assert.Equal(t, "podinfo:6.1.0", primary.Spec.Template.Spec.Containers[0].Image)
	got := &trancheapi.Rollout{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), got))
	assert.Equal(t, got.Status.StableRevision, got.Status.CanaryRevision, "the tested revision is the stable one")
}

// blueGreen is a Rollout of the Deployment podinfo through the kubernetes provider: no
// traffic for the new version for hold, then all of it for hold.
func blueGreen(ns string, hold time.Duration) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider:  trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}},
			Steps: []trancheapi.Step{
				{Weight: ptr.To[int32](0), Hold: &metav1.Duration{Duration: hold}},
				{Weight: ptr.To[int32](100), Hold: &metav1.Duration{Duration: hold}},
			},
		},
	}
}
