// Command demo starts a local control plane, runs the Tranche manager against it, applies
// the samples and shows the Rollouts as `kubectl get rollouts` would: first waiting for
// their target Deployments, then initialized once those exist (or stalled, saying why).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

const namespace = "demo"

func main() {
	manager := flag.String("manager", "bin/tranche", "Path of the manager binary.")
	samples := flag.String("samples", "config/samples", "Folder of sample manifests to apply.")
	keep := flag.Bool("keep", false, "Keep everything running until Ctrl-C, to explore with kubectl.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *manager, *samples, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, managerPath, samples string, keep bool) error {
	step("Starting kube-apiserver and etcd")
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		return err
	}
	cp, err := harness.Start(harness.Options{CRDDirectories: []string{crds}})
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	runDir, err := os.MkdirTemp("", "tranche-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	kubeconfig, err := cp.Kubeconfig(runDir)
	if err != nil {
		return err
	}
	fmt.Printf("    API server: %s\n", cp.Config.Host)

	step("Starting the Tranche manager")
	manager := exec.CommandContext(ctx, managerPath, "--leader-elect=false",
		"--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0")
	manager.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	logPath := filepath.Join(runDir, "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	manager.Stdout, manager.Stderr = logFile, logFile
	if err := manager.Start(); err != nil {
		return fmt.Errorf("starting %s (run `make build` first): %w", managerPath, err)
	}
	defer func() {
		_ = manager.Process.Signal(syscall.SIGTERM)
		_ = manager.Wait()
	}()

	step("Applying the samples to namespace " + namespace)
	objs, err := harness.ReadManifests(samples)
	if err != nil {
		return err
	}
	if err := cp.CreateNamespace(ctx, namespace); err != nil {
		return err
	}
	var targets []string
	for _, obj := range objs {
		obj.SetNamespace(namespace)
		if err := cp.Client.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		if obj.GetKind() == "Rollout" {
			name, _, _ := unstructured.NestedString(obj.Object, "spec", "targetRef", "name")
			targets = append(targets, name)
		}
	}
	if err := waitForRollouts(ctx, cp, len(targets), stalledOn(trancheapi.ReasonTargetNotFound)); err != nil {
		return err
	}
	step("The Rollouts wait for their Deployments")
	if err := printRollouts(ctx, cp); err != nil {
		return err
	}

	step("Creating the Deployments (a simulated kubelet makes their pods ready)")
	kubelet := &harness.Kubelet{Client: cp.Client, Namespace: namespace, Delay: 500 * time.Millisecond}
	go kubelet.Run(ctx)
	for _, name := range targets {
		if err := cp.Client.Create(ctx, harness.Deployment(namespace, name, "ghcr.io/stefanprodan/podinfo:6.9.0")); err != nil {
			return err
		}
	}
	settled := func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseInitialized || stalledOn(trancheapi.ReasonInvalidSpec)(ro)
	}
	if err := waitForRollouts(ctx, cp, len(targets), settled); err != nil {
		return err
	}
	step("Each Rollout is initialized: its primary serves all traffic")
	if err := printRollouts(ctx, cp); err != nil {
		return err
	}
	initialized, err := printReadyMessages(ctx, cp)
	if err != nil {
		return err
	}

	if keep {
		step("Everything keeps running; press Ctrl-C to stop")
		fmt.Printf("    export KUBECONFIG=%s\n    kubectl get rollouts -n %s\n    manager log: %s\n", kubeconfig, namespace, logPath)
		<-ctx.Done()
	}
	fmt.Printf("DEMO rollouts=%d initialized=%d\n", len(targets), initialized)
	return nil
}

// waitForRollouts waits until n Rollouts satisfy done.
func waitForRollouts(ctx context.Context, cp *harness.ControlPlane, n int, done func(*trancheapi.Rollout) bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var list trancheapi.RolloutList
		if err := cp.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return err
		}
		count := 0
		for i := range list.Items {
			if done(&list.Items[i]) {
				count++
			}
		}
		if count == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d Rollouts got there: %w", count, n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stalledOn is true for a Rollout whose Stalled condition has the reason.
func stalledOn(reason string) func(*trancheapi.Rollout) bool {
	return func(ro *trancheapi.Rollout) bool {
		c := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
	}
}

// printReadyMessages prints why each Rollout is ready or not, and counts the initialized ones.
func printReadyMessages(ctx context.Context, cp *harness.ControlPlane) (int, error) {
	var list trancheapi.RolloutList
	if err := cp.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return 0, err
	}
	initialized := 0
	for _, ro := range list.Items {
		if ro.Status.Phase == trancheapi.PhaseInitialized {
			initialized++
		}
		if c := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionReady); c != nil {
			fmt.Printf("    %-11s %s\n", ro.Name, c.Message)
		}
	}
	return initialized, nil
}

func printRollouts(ctx context.Context, cp *harness.ControlPlane) error {
	table, err := cp.Table(ctx, trancheapi.GroupVersion.WithResource("rollouts"), namespace)
	if err != nil {
		return err
	}
	fmt.Println(table)
	return nil
}

func step(msg string) { fmt.Printf("==> %s\n", msg) }
