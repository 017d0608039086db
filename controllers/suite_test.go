package controllers

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tranche-dev/tranche/test/harness"
)

// cp is the package's control plane; the Rollout controller runs against it in-process.
var cp *harness.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &cp, harness.Options{}, startController))
}

// startController runs the Rollout controller in a manager until the tests end.
func startController(ctx context.Context, cp *harness.ControlPlane) error {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme:  cp.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return err
	}
	r := &RolloutReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("tranche"), Now: time.Now}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return nil
}
