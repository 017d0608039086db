package controllers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers/registry"
	"github.com/tranche-dev/tranche/test/harness"
)

// cp is the package's control plane, with the real controllers and suiteNodes kwok nodes
// (harness.Workloads); the Rollout controller runs against it in-process.
var cp *harness.ControlPlane

const suiteNodes = 4

// prom scrapes exporter, whose counters the scenarios' traffic generators drive.
var (
	prom     *harness.Prometheus
	exporter *harness.Exporter
)

// watcher is a client of cp that can watch, for the scenarios' recorders of routing objects.
var watcher client.WithWatch

func TestMain(m *testing.M) { os.Exit(run(m)) }

// fuzzing reports whether the binary runs fuzz targets (go test -fuzz, and each of its
// workers), which need none of the shared control plane.
func fuzzing() bool {
	for _, arg := range os.Args[1:] {
		if strings.HasPrefix(arg, "-test.fuzz") {
			return true
		}
	}
	return false
}

func run(m *testing.M) int {
	if fuzzing() {
		return m.Run()
	}
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if exporter, err = harness.NewExporter(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer exporter.Close()
	if prom, err = harness.StartPrometheus(harness.PrometheusOptions{Targets: []string{exporter.Address()}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer prom.Stop()
	istioCRDs, err := harness.IstioCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return harness.Main(m, &cp, harness.Options{
		CRDDirectories: append(crds, istioCRDs),
		Workloads:      &harness.WorkloadOptions{Nodes: suiteNodes, PodReadyDelay: 300 * time.Millisecond},
		AcceptRoutes:   true,
	}, startWatcher, startController)
}

func startWatcher(_ context.Context, cp *harness.ControlPlane) (err error) {
	watcher, err = client.NewWithWatch(cp.Config, client.Options{Scheme: cp.Scheme})
	return err
}

// shardLabel keeps a Rollout away from the package's controller, for tests that run their
// own (see TestControllerRestartResumes).
const shardLabel = "tranche.dev/test-shard"

// testCluster is the cluster's name the controllers of the tests give the news.
const testCluster = "test-cluster"

// startController runs the package's Rollout controller until the tests end.
func startController(ctx context.Context, cp *harness.ControlPlane) error {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	_, err := runController(ctx, shardLabel+" notin (own)")
	return err
}

// runController starts a manager running the Rollout controller for the Rollouts that match
// selector; the returned channel closes when the manager has stopped.
func runController(ctx context.Context, selector string) (<-chan struct{}, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme:  cp.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{ByObject: CacheObjects(sel)},
		Client:  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		// Several managers run in one process in these tests.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	r := &RolloutReconciler{
		Client:            mgr.GetClient(),
		Recorder:          mgr.GetEventRecorder("tranche"),
		Providers:         registry.Default(),
		Now:               time.Now,
		PrometheusAddress: prom.URL(), // for built-in metrics; every test template names its own
		Concurrency:       4,
		Notifier:          &notify.Dispatcher{},
		ClusterName:       testCluster,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, err
	}
	providers := &NotificationProviderReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("tranche")}
	if err := providers.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return stopped, nil
}
