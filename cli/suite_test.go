package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
	"github.com/tranche-dev/tranche/controllers"
	"github.com/tranche-dev/tranche/providers/registry"
	"github.com/tranche-dev/tranche/test/harness"
)

// The commands are tested against a real API server with the Rollout controller, the real
// controllers and kwok nodes running.
var (
	cp         *harness.ControlPlane
	kubeconfig string
	// probe is a Rollout reconciler beside the running one, reading the API server directly,
	// for tests to ask what the controller decides now and when it means to look again.
	probe *controllers.RolloutReconciler
)

func TestMain(m *testing.M) {
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, &cp, harness.Options{
		CRDDirectories: crds, Workloads: &harness.WorkloadOptions{}, AcceptRoutes: true,
		// The dashboard served to a team is held to acting as its users (team_test.go).
		Audit: true, AuditPolicy: harness.AuditEveryRequest,
	}, writeKubeconfig, startController))
}

func writeKubeconfig(_ context.Context, cp *harness.ControlPlane) error {
	dir, err := os.MkdirTemp("", "tranche-cli-")
	if err != nil {
		return err
	}
	kubeconfig, err = cp.Kubeconfig(dir)
	return err
}

func startController(ctx context.Context, cp *harness.ControlPlane) error {
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme: cp.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{ByObject: controllers.CacheObjects(labels.Everything())},
	})
	if err != nil {
		return err
	}
	r := &controllers.RolloutReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("tranche"), Providers: registry.Default(),
		Now: time.Now, PrometheusAddress: "http://127.0.0.1:1", Concurrency: 4,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	probe = &controllers.RolloutReconciler{
		Client: cp.Client, Recorder: mgr.GetEventRecorder("tranche"), Providers: registry.Default(),
		Now: time.Now, PrometheusAddress: "http://127.0.0.1:1",
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return nil
}

// kubectl runs `kubectl tranche` with args in namespace ns and returns what it printed.
func kubectl(t *testing.T, ns string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &out})
	cmd.SetArgs(append(args, "--kubeconfig="+kubeconfig, "--namespace="+ns))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// step is a weight held for hold, or with manual, until approved.
func step(weight int32, hold time.Duration, manual bool) trancheapi.Step {
	s := trancheapi.Step{Weight: ptr.To(weight)}
	if hold > 0 {
		s.Hold = &metav1.Duration{Duration: hold}
	}
	if manual {
		s.Approval = trancheapi.ApprovalManual
	}
	return s
}

// deploy creates a Deployment and its Gateway API canary Rollout with the steps in a
// namespace of the test's own, and waits until it is initialized.
func deploy(t *testing.T, steps ...trancheapi.Step) types.NamespacedName {
	t.Helper()
	return deployIn(t, cp.Namespace(t), steps...)
}

// deployIn is deploy in namespace ns.
func deployIn(t *testing.T, ns string, steps ...trancheapi.Step) types.NamespacedName {
	t.Helper()
	return deployWith(t, ns, func(spec *trancheapi.RolloutSpec) { spec.Steps = steps })
}

// deployWith is deploy in namespace ns of the Rollout edit makes of a canary with the
// default steps.
func deployWith(t *testing.T, ns string, edit func(*trancheapi.RolloutSpec)) types.NamespacedName {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cp.Client.Create(ctx, harness.Deployment(ns, "app", "app:1")))
	ro := &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "app"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
				ParentRefs: []trancheapi.ParentReference{{Name: "public"}},
			}},
			ProgressDeadline: &metav1.Duration{Duration: time.Minute},
		},
	}
	edit(&ro.Spec)
	require.NoError(t, cp.Client.Create(ctx, ro))
	key := types.NamespacedName{Namespace: ns, Name: "app"}
	waitFor(t, key, "Initialized", func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == trancheapi.PhaseInitialized })
	return key
}

// release gives the target a new image.
func release(t *testing.T, key types.NamespacedName, image string) {
	t.Helper()
	require.NoError(t, harness.SetImage(context.Background(), cp.Client, key.Namespace, key.Name, image))
}

// waitFor polls the Rollout until ok, failing the test after a minute.
func waitFor(t *testing.T, key types.NamespacedName, what string, ok func(*trancheapi.Rollout) bool) *trancheapi.Rollout {
	t.Helper()
	ro := &trancheapi.Rollout{}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if err := cp.Client.Get(context.Background(), key, ro); err == nil && ok(ro) {
			return ro
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("rollout %s never got %s: it is %s (%s)", key, what, ro.Status.Phase, ro.Status.Message)
	return nil
}

func inPhase(p trancheapi.Phase) func(*trancheapi.Rollout) bool {
	return func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == p }
}

// moduleFile is a path inside the module.
func moduleFile(t *testing.T, parts ...string) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	require.NoError(t, err)
	return filepath.Join(append([]string{root}, parts...)...)
}
