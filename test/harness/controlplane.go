package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// ControlPlane is a running kube-apiserver and etcd with Tranche's CRDs installed.
type ControlPlane struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Client is a client of the API server that knows Tranche's kinds (and can watch them).
	Client client.WithWatch
	// Scheme holds the kinds of client-go, Tranche and Gateway API (v1).
	Scheme *runtime.Scheme
	// Assets is the folder of the control plane's binaries.
	Assets string
	// Workloads run when Options.Workloads asked for them, else nil.
	Workloads *Workloads

	env *envtest.Environment
	// stopAccepting ends the route acceptor, if one runs.
	stopAccepting context.CancelFunc
	// auditLog is the API server's audit log, with Options.Audit; auditDir holds it.
	auditLog, auditDir string
}

// Options change what a control plane is started with.
type Options struct {
	// CRDDirectories are installed besides Tranche's own CRDs.
	CRDDirectories []string
	// WithoutTrancheCRDs leaves Tranche's CRDs out, for a test that installs them itself
	// (as the Helm chart does).
	WithoutTrancheCRDs bool
	// APIServerArgs set kube-apiserver flags (name without dashes → value) over envtest's
	// defaults, such as a loopback service-cluster-ip-range for a local data plane.
	APIServerArgs map[string]string
	// Workloads, when set, starts the real controllers, scheduler and kwok nodes too.
	Workloads *WorkloadOptions
	// AcceptRoutes, for tests that run no data plane, has every HTTPRoute accepted in its
	// status by each of its parents, as a Gateway API implementation would say it (see
	// acceptRoutes): Tranche counts a gatewayAPI split only once its parents say so.
	AcceptRoutes bool
	// Audit has the API server log every request (see ControlPlane.Audit), or those
	// AuditPolicy says (an audit.k8s.io/v1 Policy, such as AuditWrites).
	Audit       bool
	AuditPolicy string
}

// Start starts a control plane. The binaries come from KUBEBUILDER_ASSETS, or else from the
// newest folder under bin/k8s/ of the module (what `make test` builds).
func Start(opts Options) (*ControlPlane, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		if assets, err = findAssets(root); err != nil {
			return nil, err
		}
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(trancheapi.AddToScheme(scheme))
	utilruntime.Must(gatewayv1.Install(scheme))

	crds := opts.CRDDirectories
	if !opts.WithoutTrancheCRDs {
		crds = append([]string{filepath.Join(root, "config", "crd", "bases")}, crds...)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crds,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	args := maps.Clone(opts.APIServerArgs)
	if args == nil {
		args = map[string]string{}
	}
	var auditLog, auditDir string
	if opts.Audit {
		if auditDir, err = os.MkdirTemp("", "tranche-audit-"); err != nil {
			return nil, err
		}
		var audit map[string]string
		if audit, auditLog, err = auditArgs(auditDir, opts.AuditPolicy); err != nil {
			return nil, err
		}
		maps.Copy(args, audit)
	}
	for name, value := range args {
		env.ControlPlane.GetAPIServer().Configure().Set(name, value)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	cp := &ControlPlane{Config: cfg, Client: c, Scheme: scheme, Assets: assets, env: env, stopAccepting: func() {},
		auditLog: auditLog, auditDir: auditDir}
	if opts.AcceptRoutes {
		ctx, cancel := context.WithCancel(context.Background())
		cp.stopAccepting = cancel
		go acceptRoutes(ctx, c)
	}
	if opts.Workloads != nil {
		if cp.Workloads, err = cp.StartWorkloads(context.Background(), *opts.Workloads); err != nil {
			_ = env.Stop()
			return nil, err
		}
	}
	return cp, nil
}

// Stop stops the workloads' programs, if any, then the API server and etcd.
func (cp *ControlPlane) Stop() error {
	cp.stopAccepting()
	var errs []error
	if cp.Workloads != nil {
		errs = append(errs, cp.Workloads.Stop())
	}
	errs = append(errs, cp.env.Stop())
	if cp.auditDir != "" {
		errs = append(errs, os.RemoveAll(cp.auditDir))
	}
	return errors.Join(errs...)
}

// Kubeconfig writes a kubeconfig for a cluster admin to a file in dir and returns its path,
// for programs started as separate processes (the manager, kubectl).
func (cp *ControlPlane) Kubeconfig(dir string) (string, error) {
	user, err := cp.env.ControlPlane.AddUser(envtest.User{Name: "tranche-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// Namespace creates a namespace of its own for the test and deletes it when the test ends.
func (cp *ControlPlane) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := cp.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() { _ = cp.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// Main is a TestMain body: it starts a control plane into *cp, runs setup (such as starting
// a controller, with a context that ends before the control plane stops), runs the package's
// tests and stops everything, also when the test binary is interrupted, so that no
// kube-apiserver or etcd outlives the tests.
func Main(m *testing.M, cp **ControlPlane, opts Options, setup ...func(context.Context, *ControlPlane) error) int {
	started, err := Start(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	*cp = started
	ctx, cancel := context.WithCancel(context.Background())
	stop := func() {
		cancel()
		if err := started.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "harness: stopping the control plane:", err)
		}
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "harness: %v: stopping the control plane\n", sig)
		stop()
		os.Exit(1)
	}()
	defer signal.Stop(signals)
	defer stop()
	for _, s := range setup {
		if err := s(ctx, started); err != nil {
			fmt.Fprintln(os.Stderr, "harness: setup:", err)
			return 1
		}
	}
	return m.Run()
}

// ModuleRoot is the folder holding Tranche's go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module github.com/tranche-dev/tranche\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: not inside the Tranche module")
		}
		dir = parent
	}
}

func findAssets(root string) (string, error) {
	found, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "*", "kube-apiserver"))
	if len(found) == 0 {
		return "", errors.New("harness: no kube-apiserver under bin/k8s: run `make test` (it builds one), or set KUBEBUILDER_ASSETS")
	}
	sort.Strings(found)
	return filepath.Dir(found[len(found)-1]), nil
}
